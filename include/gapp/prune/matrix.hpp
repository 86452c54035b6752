// gapp/prune/matrix.hpp — the GEMM weight matrix W[M×K] as gapp sees it: row-major floats.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "../error.hpp"

namespace gapp {

/// A read-only view of a row-major rows×cols float matrix (W[M×K]: M = output channels,
/// K = input channels × kh × kw). Does not own its data.
struct matrix_view {
  const float* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;

  constexpr matrix_view() = default;
  constexpr matrix_view(const float* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c) {}
  matrix_view(const std::vector<float>& v, std::size_t r, std::size_t c) : data(v.data()), rows(r), cols(c) {
    if (v.size() != r * c)
      throw shape_error("matrix_view: " + std::to_string(v.size()) + " values cannot form a " +
                        std::to_string(r) + "x" + std::to_string(c) + " matrix");
  }

  constexpr std::size_t size() const { return rows * cols; }
  constexpr float operator()(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
};

/// A read-only view of `size` floats given with their count (e.g. per-weight scores), so
/// that a consumer can check it covers what it must.
struct float_span {
  const float* data = nullptr;
  std::size_t size = 0;
  float_span() = default;
  float_span(const float* d, std::size_t n) : data(d), size(n) {}
  float_span(const std::vector<float>& v) : data(v.data()), size(v.size()) {} // NOLINT: a view of the vector
  explicit operator bool() const { return data != nullptr; }
};

namespace detail {

/// Throws gapp::invalid_argument for an empty matrix and gapp::value_error naming the
/// first NaN or infinite value. `what` names the argument in the message.
inline void check_finite_matrix(matrix_view m, const char* what) {
  if (m.rows == 0 || m.cols == 0 || m.data == nullptr)
    throw invalid_argument(std::string(what) + " is empty (" + std::to_string(m.rows) + "x" +
                           std::to_string(m.cols) + "); nothing to prune");
  for (std::size_t i = 0, n = m.size(); i < n; ++i)
    if (!std::isfinite(m.data[i]))
      throw value_error(std::string(what) + " holds " + (std::isnan(m.data[i]) ? "a NaN" : "an infinite") +
                        " value at (" + std::to_string(i / m.cols) + ", " + std::to_string(i % m.cols) +
                        "); gapp refuses non-finite weights and scores");
}

inline void check_sparsity(double s, const char* what = "sparsity") {
  if (!(s >= 0.0 && s < 1.0))
    throw invalid_argument(std::string(what) + " must lie in [0, 1), got " + std::to_string(s));
}

} // namespace detail
} // namespace gapp
