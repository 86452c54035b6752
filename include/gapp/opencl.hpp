// gapp/opencl.hpp — the thin runtime on the Khronos C++ bindings: program cache, device
// query and dispatch, GEMM and convolution operations. The only layer of gapp that
// includes CL/opencl.hpp (networks above it, in <gapp/nn.hpp>, use it).
#pragma once

#include "opencl/cl.hpp"
#include "opencl/conv_op.hpp"
#include "opencl/device.hpp"
#include "opencl/error.hpp"
#include "opencl/gemm_op.hpp"
#include "opencl/program_cache.hpp"
#include "opencl/tuned.hpp"
#include "prune.hpp"
