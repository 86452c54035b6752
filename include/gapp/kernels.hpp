// gapp/kernels.hpp — OpenCL C kernel source and launch geometry generated from policies.
// Needs no OpenCL header.
#pragma once

#include "kernels/gemm.hpp"
