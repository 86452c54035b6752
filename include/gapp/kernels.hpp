// gapp/kernels.hpp — OpenCL C kernel source and launch geometry generated from policies.
// Needs no OpenCL header.
#pragma once

#include "kernels/conv.hpp"
#include "kernels/gemm.hpp"
#include "kernels/gemm_plan.hpp"
