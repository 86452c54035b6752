// gapp/opencl.hpp — the thin runtime on the Khronos C++ bindings: program cache, device
// query and dispatch, GEMM operations. The only part of gapp that includes CL/opencl.hpp.
#pragma once

#include "opencl/cl.hpp"
#include "opencl/conv_op.hpp"
#include "opencl/device.hpp"
#include "opencl/error.hpp"
#include "opencl/gemm_op.hpp"
#include "opencl/program_cache.hpp"
#include "opencl/vgg16.hpp"
#include "prune.hpp"
