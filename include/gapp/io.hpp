// gapp/io.hpp — file formats (NumPy .npy).
#pragma once

#include "io/npy.hpp"
#include "io/paths.hpp"
