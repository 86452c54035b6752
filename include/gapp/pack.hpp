// gapp/pack.hpp — packed weight formats and the packers.
#pragma once

#include "pack/formats.hpp"
#include "pack/pack.hpp"
#include "pack/validate.hpp"
