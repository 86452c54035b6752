// gapp/prune/mask.hpp — a pruning mask that knows its policy and unit by type.
#pragma once

#include <cmath>
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "../error.hpp"
#include "matrix.hpp"
#include "units.hpp"

namespace gapp {

/// Keep-mask of a rows×cols GEMM matrix (1 = kept, 0 = removed), row-major, produced by
/// pruning with `Unit` under `Policy`. The packers of gapp/pack take a mask of the matching
/// unit, so a mask and the kernel that consumes its packed weights cannot disagree.
template <class Policy, class Unit>
class mask {
  static_assert(is_policy_v<Policy>, "gapp::mask: Policy must be a gapp::policy (or a preset).");
  static_assert(units::is_unit_v<Unit>, "gapp::mask: Unit must be one of gapp::units.");

public:
  using policy_type = Policy;
  using unit_type = Unit;

  /// Wraps a dense keep-mask (values 0 or 1), e.g. one read back from a file.
  /// Throws gapp::shape_error if keep.size() != rows·cols, gapp::invalid_argument for an
  /// empty shape or a value other than 0 or 1.
  mask(std::size_t rows, std::size_t cols, std::vector<std::uint8_t> keep, Unit unit = {})
      : rows_(rows), cols_(cols), keep_(std::move(keep)), unit_(unit) {
    if (rows == 0 || cols == 0) throw invalid_argument("mask: empty shape");
    if (keep_.size() != rows * cols)
      throw shape_error("mask: " + std::to_string(keep_.size()) + " values for a " + std::to_string(rows) + "x" +
                        std::to_string(cols) + " matrix");
    for (std::size_t i = 0; i < keep_.size(); ++i)
      if (keep_[i] > 1)
        throw invalid_argument("mask: value " + std::to_string(keep_[i]) + " at index " + std::to_string(i) +
                               " (a mask holds 0 = removed or 1 = kept)");
  }

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t size() const { return keep_.size(); }
  const Unit& unit() const { return unit_; }
  /// Shape of the selecting unit on this matrix (see gapp::shape_of).
  unit_shape shape() const { return shape_of<Policy>(unit_, rows_, cols_); }

  const std::vector<std::uint8_t>& keep() const { return keep_; }
  const std::uint8_t* data() const { return keep_.data(); }
  bool kept(std::size_t r, std::size_t c) const { return keep_[r * cols_ + c] != 0; }

  std::size_t kept_count() const {
    std::size_t n = 0;
    for (auto k : keep_) n += k;
    return n;
  }
  /// Share of removed weights.
  double sparsity() const { return 1.0 - static_cast<double>(kept_count()) / static_cast<double>(size()); }

  /// The masked copy of `w`; throws gapp::shape_error if `w` is not rows×cols.
  std::vector<float> apply(matrix_view w) const {
    check_shape(w, "mask::apply");
    std::vector<float> out(w.data, w.data + w.size());
    for (std::size_t i = 0; i < out.size(); ++i)
      if (!keep_[i]) out[i] = 0.0f;
    return out;
  }

  /// Throws gapp::shape_error unless `w` is rows×cols.
  void check_shape(matrix_view w, const char* who) const {
    if (w.rows != rows_ || w.cols != cols_)
      throw shape_error(std::string(who) + ": weights are " + std::to_string(w.rows) + "x" + std::to_string(w.cols) +
                        " but the mask is " + std::to_string(rows_) + "x" + std::to_string(cols_));
  }

private:
  std::size_t rows_, cols_;
  std::vector<std::uint8_t> keep_;
  Unit unit_;
};

/// Why a keep-mask (rows×cols, 1 = kept) is not made of whole units of `Unit` under `Policy`
/// — a unit partly kept, or an N:M group keeping more than N — or nothing if it is. A mask
/// selected with a finer unit (element-wise, or another policy's smaller SIMD unit) runs on
/// a kernel that skips only whole units: refuse it rather than report a sparsity the kernel
/// does not run.
template <class Policy, class Unit>
std::optional<std::string> whole_units(const std::vector<std::uint8_t>& keep, std::size_t rows, std::size_t cols,
                                       const Unit& unit) {
  if (keep.size() != rows * cols) return "the mask holds " + std::to_string(keep.size()) + " values, not " +
                                         std::to_string(rows) + "x" + std::to_string(cols);
  if constexpr (std::is_same_v<Unit, units::nm>) {
    const std::size_t m = static_cast<std::size_t>(unit.m);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t g = 0; g * m < cols; ++g) {
        std::size_t n = 0;
        for (std::size_t c = g * m; c < std::min(cols, g * m + m); ++c) n += keep[r * cols + c];
        if (n > static_cast<std::size_t>(unit.n))
          return "row " + std::to_string(r) + " keeps " + std::to_string(n) + " weights in group " + std::to_string(g) +
                 " of " + std::to_string(m) + ", more than N:M " + std::to_string(unit.n) + ":" + std::to_string(unit.m) +
                 " allows";
      }
    return std::nullopt;
  } else {
    const unit_shape s = shape_of<Policy>(unit, rows, cols);
    const std::size_t ur = static_cast<std::size_t>(s.rows), uc = static_cast<std::size_t>(s.cols);
    for (std::size_t r0 = 0; r0 < rows; r0 += ur)
      for (std::size_t c0 = 0; c0 < cols; c0 += uc) {
        const std::uint8_t first = keep[r0 * cols + c0];
        for (std::size_t r = r0; r < std::min(rows, r0 + ur); ++r)
          for (std::size_t c = c0; c < std::min(cols, c0 + uc); ++c)
            if (keep[r * cols + c] != first)
              return "the " + std::string(unit_traits<Unit>::name) + " unit of " + std::to_string(ur) + "x" +
                     std::to_string(uc) + " at row " + std::to_string(r0) + ", column " + std::to_string(c0) +
                     " is partly kept: the mask was not made of whole " + std::to_string(ur) + "x" + std::to_string(uc) +
                     " units (an element-wise mask, or one made for another policy's units?), and the kernel skips "
                     "only whole units";
      }
    return std::nullopt;
  }
}

/// ‖w ⊙ keep‖₂ / ‖w‖₂ for a keep-mask (1 = kept, row-major like w): the share of the
/// weights' L2 norm that pruning kept (1 for an all-zero matrix, where nothing can be lost).
/// Throws gapp::shape_error if the mask does not cover w.
inline double kept_l2_fraction(matrix_view w, const std::vector<std::uint8_t>& keep) {
  if (keep.size() != w.size())
    throw shape_error("kept_l2_fraction: " + std::to_string(keep.size()) + " mask values for " +
                      std::to_string(w.size()) + " weights");
  double all = 0, kept = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double v = static_cast<double>(w.data[i]) * w.data[i];
    all += v;
    if (keep[i]) kept += v;
  }
  return all > 0 ? std::sqrt(kept / all) : 1.0;
}

/// kept_l2_fraction of a mask.
template <class Policy, class Unit>
double kept_l2_fraction(matrix_view w, const mask<Policy, Unit>& m) {
  m.check_shape(w, "kept_l2_fraction");
  return kept_l2_fraction(w, m.keep());
}

} // namespace gapp
