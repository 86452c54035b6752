// gapp/kernels/conv.hpp — source of the layers around the GEMMs (im2col, max-pool, flatten).
//
// Convolution is lowered to im2col + the GEMM kernels of gemm.hpp rather than to an
// implicit GEMM: every GEMM variant (dense, tile, SIMD, multi-level, N:M, filter, channel,
// CSR) then serves convolutions unchanged, and the im2col K order is the one of
// gapp/prune/conv.hpp by construction. Its cost is one write and one read of the K×N
// column matrix per layer (measured in docs/performance.md).
#pragma once

#include <cstddef>

#include "cl/conv.cl.hpp"
#include "gemm.hpp"

namespace gapp::kernels {

/// One program with gapp_im2col, gapp_maxpool2, gapp_repad and gapp_flatten.
inline kernel_source conv_layers_source() {
  kernel_source k;
  k.name = "gapp_im2col";
  k.source = std::string("/* gapp generated: CNN layers */\n") + cl_source::conv_layers;
  k.options = "";
  k.args = {"int C", "int B", "int H", "int W", "int KH", "int KW", "int stride", "int pad", "int OH", "int OW",
            "global const float* in (CNHW)", "global float* col (K x B*OH*OW)"};
  return k;
}

/// Output extent of a convolution along one axis.
inline std::size_t conv_out(std::size_t in, std::size_t kernel, std::size_t stride, std::size_t pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

} // namespace gapp::kernels
