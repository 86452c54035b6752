// gapp/prune/conv.hpp — convolution weights OIHW ↔ the GEMM matrix W[M×K].
//
// The one mapping gapp uses everywhere: M = O (one row per output filter) and
//   k = (c · KH + r) · KW + s      for input channel c, kernel row r, kernel column s,
// so K = I·KH·KW with the input channel slowest. This is exactly the memory order of an
// OIHW tensor (PyTorch's `weight.reshape(O, -1)`), so the GEMM matrix is the tensor itself,
// reinterpreted without a copy, and an input channel is a block of KH·KW consecutive
// columns. The convolution kernels order their im2col / implicit-GEMM K index the same way.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "../error.hpp"
#include "matrix.hpp"
#include "units.hpp"

namespace gapp {

struct conv_shape {
  std::size_t out_channels = 0, in_channels = 0, kernel_h = 1, kernel_w = 1;

  std::size_t gemm_rows() const { return out_channels; }
  std::size_t gemm_cols() const { return in_channels * kernel_h * kernel_w; }
  std::size_t size() const { return gemm_rows() * gemm_cols(); }
  std::size_t kernel_area() const { return kernel_h * kernel_w; }
  /// GEMM column of input channel c, kernel position (r, s).
  std::size_t gemm_col(std::size_t c, std::size_t r, std::size_t s) const { return (c * kernel_h + r) * kernel_w + s; }
  /// Index into an OIHW array of (o, c, r, s).
  std::size_t oihw_index(std::size_t o, std::size_t c, std::size_t r, std::size_t s) const {
    return ((o * in_channels + c) * kernel_h + r) * kernel_w + s;
  }
};

/// The GEMM matrix view of OIHW weights (no copy). Throws gapp::shape_error for a zero
/// extent.
inline matrix_view as_gemm(const float* oihw, const conv_shape& s) {
  if (s.out_channels == 0 || s.in_channels == 0 || s.kernel_h == 0 || s.kernel_w == 0)
    throw shape_error("conv_shape has a zero extent");
  return matrix_view(oihw, s.gemm_rows(), s.gemm_cols());
}

/// The channel unit of a convolution: its kernel area of consecutive GEMM columns.
inline units::channel channel_unit(const conv_shape& s) { return units::channel{static_cast<int>(s.kernel_area())}; }

} // namespace gapp
