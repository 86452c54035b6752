// gapp/pack/validate.hpp — checks that packed weights are what a kernel may safely walk.
//
// Every index a kernel reads is checked against the range it indexes, every pointer array
// for monotonicity and its final value, every value array for its length and finiteness.
// The packers always produce valid structures; these checks guard the boundary where a
// structure was built by hand or deserialised. The kernels layer validates before it plans.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../policy/policy.hpp"
#include "../prune/units.hpp"
#include "formats.hpp"
#include "pack.hpp"

namespace gapp {

namespace detail {

class format_checker {
public:
  explicit format_checker(const char* format) : format_(format) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw format_error(field, std::string("packed ") + format_ + ": " + field + " " + what);
  }

  void shape(std::size_t rows, std::size_t cols) const {
    if (rows == 0 || cols == 0)
      fail("rows", "and cols must be positive, got " + std::to_string(rows) + "x" + std::to_string(cols));
    if (rows > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) / cols)
      fail("rows", "x cols = " + std::to_string(rows) + "x" + std::to_string(cols) + " exceeds 32-bit indexing");
  }

  void positive(const char* field, int v) const {
    if (v <= 0) fail(field, "must be positive, got " + std::to_string(v));
  }

  /// ptr has `entries` + 1 values, starts at 0, never decreases and ends at `length`.
  void pointers(const char* field, const std::vector<std::int32_t>& ptr, std::size_t entries, std::size_t length,
                const char* of) const {
    if (ptr.size() != entries + 1)
      fail(field, "has " + std::to_string(ptr.size()) + " entries, expected " + std::to_string(entries + 1));
    if (ptr[0] != 0) fail(std::string(field) + "[0]", "is " + std::to_string(ptr[0]) + ", expected 0");
    for (std::size_t i = 0; i + 1 < ptr.size(); ++i)
      if (ptr[i + 1] < ptr[i])
        fail(std::string(field) + "[" + std::to_string(i + 1) + "]",
             "= " + std::to_string(ptr[i + 1]) + " is below the entry before it (" + std::to_string(ptr[i]) + ")");
    if (static_cast<std::size_t>(ptr.back()) != length)
      fail(std::string(field) + "[" + std::to_string(entries) + "]",
           "= " + std::to_string(ptr.back()) + " differs from the length of " + of + " (" + std::to_string(length) + ")");
  }

  /// idx[b..e) strictly increasing, each in [0, limit) (and a multiple of `step`).
  void indices(const char* field, const std::vector<std::int32_t>& idx, std::int32_t b, std::int32_t e,
               std::int64_t limit, std::int64_t step = 1, std::int64_t low = 0) const {
    for (std::int32_t i = b; i < e; ++i) {
      const std::int64_t v = idx[static_cast<std::size_t>(i)];
      const std::string at = std::string(field) + "[" + std::to_string(i) + "]";
      if (v < low || v >= limit)
        fail(at, "= " + std::to_string(v) + " lies outside [" + std::to_string(low) + ", " + std::to_string(limit) + ")");
      if (v % step != 0) fail(at, "= " + std::to_string(v) + " is not a multiple of " + std::to_string(step));
      if (i > b && v <= idx[static_cast<std::size_t>(i) - 1])
        fail(at, "= " + std::to_string(v) + " does not increase on the entry before it (" +
                     std::to_string(idx[static_cast<std::size_t>(i) - 1]) + ")");
    }
  }

  void count(const char* field, std::size_t have, std::size_t want) const {
    if (have != want) fail(field, "holds " + std::to_string(have) + " entries, expected " + std::to_string(want));
  }

  void finite(const std::vector<float>& v) const {
    if (v.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
      fail("values", "holds " + std::to_string(v.size()) + " entries, more than 32-bit indexing reaches");
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i])) fail("values[" + std::to_string(i) + "]", "is not finite");
  }

private:
  const char* format_;
};

inline std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

/// The padding of an edge unit (its cells past the matrix's last row or column) must be 0:
/// kernels multiply it (with a clamped X row) where unpack() drops it. `at(i, j)` is the value
/// index of the unit's cell (i, j); rows and columns are relative to (r0, c0).
template <class At>
void zero_padding(const format_checker& c, std::size_t rows, std::size_t cols, std::size_t r0, std::size_t c0,
                  std::size_t ur, std::size_t uc, const std::vector<float>& values, At&& at) {
  if (r0 + ur <= rows && c0 + uc <= cols) return;
  for (std::size_t i = 0; i < ur; ++i)
    for (std::size_t j = 0; j < uc; ++j)
      if ((r0 + i >= rows || c0 + j >= cols) && values[at(i, j)] != 0.0f)
        c.fail("values[" + std::to_string(at(i, j)) + "]",
               "is a padding cell past the matrix's edge and must be 0, got " + std::to_string(values[at(i, j)]));
}

/// a·b·c without wrapping; SIZE_MAX when it would (never a valid length then).
inline std::size_t mul3(std::size_t a, std::size_t b, std::size_t c) {
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  if (a != 0 && b > max / a) return max;
  if (a * b != 0 && c > max / (a * b)) return max;
  return a * b * c;
}

} // namespace detail

/// Throws gapp::format_error naming the field if `p` is not a consistent block_list.
inline void validate(const block_list& p) {
  const detail::format_checker c("block_list");
  c.shape(p.rows, p.cols);
  c.positive("block_rows", p.block_rows);
  c.positive("block_cols", p.block_cols);
  const std::size_t br = static_cast<std::size_t>(p.block_rows), bc = static_cast<std::size_t>(p.block_cols);
  const std::size_t gr = detail::ceil_div(p.rows, br), gc = detail::ceil_div(p.cols, bc);
  c.pointers("row_ptr", p.row_ptr, gr, p.col_idx.size(), "col_idx");
  for (std::size_t i = 0; i < gr; ++i)
    c.indices("col_idx", p.col_idx, p.row_ptr[i], p.row_ptr[i + 1], static_cast<std::int64_t>(gc));
  c.count("values", p.values.size(), detail::mul3(p.col_idx.size(), br, bc));
  c.finite(p.values);
  for (std::size_t i = 0; i < gr; ++i)
    for (std::int32_t b = p.row_ptr[i]; b < p.row_ptr[i + 1]; ++b) {
      const std::size_t base = static_cast<std::size_t>(b) * br * bc;
      detail::zero_padding(c, p.rows, p.cols, i * br, static_cast<std::size_t>(p.col_idx[static_cast<std::size_t>(b)]) * bc,
                           br, bc, p.values, [&](std::size_t r, std::size_t k) { return base + r * bc + k; });
    }
}

/// Throws gapp::format_error naming the field if `p` is not a consistent unit_list.
inline void validate(const unit_list& p) {
  const detail::format_checker c("unit_list");
  c.shape(p.rows, p.cols);
  c.positive("unit_rows", p.unit_rows);
  c.positive("unit_cols", p.unit_cols);
  const std::size_t ur = static_cast<std::size_t>(p.unit_rows), uc = static_cast<std::size_t>(p.unit_cols);
  const std::size_t gr = detail::ceil_div(p.rows, ur);
  c.pointers("row_ptr", p.row_ptr, gr, p.k_idx.size(), "k_idx");
  for (std::size_t i = 0; i < gr; ++i)
    c.indices("k_idx", p.k_idx, p.row_ptr[i], p.row_ptr[i + 1], static_cast<std::int64_t>(p.cols),
              static_cast<std::int64_t>(uc));
  c.count("values", p.values.size(), detail::mul3(p.k_idx.size(), ur, uc));
  if (p.fixed_count < -1) c.fail("fixed_count", "must be -1 (lists of any length) or a count, got " +
                                                    std::to_string(p.fixed_count));
  if (p.fixed_count >= 0)
    for (std::size_t i = 0; i < gr; ++i)
      if (p.row_ptr[i + 1] - p.row_ptr[i] != p.fixed_count)
        c.fail("fixed_count", "= " + std::to_string(p.fixed_count) + " but row-block " + std::to_string(i) + " keeps " +
                                  std::to_string(p.row_ptr[i + 1] - p.row_ptr[i]) + " units");
  c.finite(p.values);
  for (std::size_t i = 0; i < gr; ++i)
    for (std::int32_t u = p.row_ptr[i]; u < p.row_ptr[i + 1]; ++u) {
      const std::size_t base = static_cast<std::size_t>(u) * ur * uc; // k-major: cell (r, k) at base + k·ur + r
      detail::zero_padding(c, p.rows, p.cols, i * ur, static_cast<std::size_t>(p.k_idx[static_cast<std::size_t>(u)]), ur,
                           uc, p.values, [&](std::size_t r, std::size_t k) { return base + k * ur + r; });
    }
}

/// Throws gapp::format_error naming the field if `p` is not a consistent multi_list.
inline void validate(const multi_list& p) {
  const detail::format_checker c("multi_list");
  c.shape(p.rows, p.cols);
  c.positive("tile_rows", p.tile_rows);
  c.positive("tile_cols", p.tile_cols);
  c.positive("unit_rows", p.unit_rows);
  c.positive("unit_cols", p.unit_cols);
  if (p.tile_rows % p.unit_rows != 0)
    c.fail("unit_rows", "= " + std::to_string(p.unit_rows) + " does not divide tile_rows = " + std::to_string(p.tile_rows));
  if (p.tile_cols % p.unit_cols != 0)
    c.fail("unit_cols", "= " + std::to_string(p.unit_cols) + " does not divide tile_cols = " + std::to_string(p.tile_cols));
  const std::size_t tr = static_cast<std::size_t>(p.tile_rows), tc = static_cast<std::size_t>(p.tile_cols);
  const std::size_t ur = static_cast<std::size_t>(p.unit_rows), uc = static_cast<std::size_t>(p.unit_cols);
  const std::size_t gtr = detail::ceil_div(p.rows, tr), gtc = detail::ceil_div(p.cols, tc), rbt = tr / ur;
  c.pointers("tile_ptr", p.tile_ptr, gtr, p.tile_col.size(), "tile_col");
  for (std::size_t t = 0; t < gtr; ++t)
    c.indices("tile_col", p.tile_col, p.tile_ptr[t], p.tile_ptr[t + 1], static_cast<std::int64_t>(gtc));
  c.pointers("seg_ptr", p.seg_ptr, detail::mul3(p.tile_col.size(), rbt, 1), p.k_idx.size(), "k_idx");
  for (std::size_t j = 0; j < p.tile_col.size(); ++j) {
    const std::int64_t k0 = static_cast<std::int64_t>(p.tile_col[j]) * static_cast<std::int64_t>(tc);
    const std::int64_t k1 = std::min<std::int64_t>(k0 + static_cast<std::int64_t>(tc), static_cast<std::int64_t>(p.cols));
    for (std::size_t r = 0; r < rbt; ++r) {
      const std::size_t s = j * rbt + r;
      c.indices("k_idx", p.k_idx, p.seg_ptr[s], p.seg_ptr[s + 1], k1, static_cast<std::int64_t>(uc), k0);
    }
  }
  c.count("values", p.values.size(), detail::mul3(p.k_idx.size(), ur, uc));
  c.finite(p.values);
  for (std::size_t t = 0; t < gtr; ++t)
    for (std::int32_t j = p.tile_ptr[t]; j < p.tile_ptr[t + 1]; ++j)
      for (std::size_t r = 0; r < rbt; ++r) {
        const std::size_t s = static_cast<std::size_t>(j) * rbt + r;
        for (std::int32_t u = p.seg_ptr[s]; u < p.seg_ptr[s + 1]; ++u) {
          const std::size_t base = static_cast<std::size_t>(u) * ur * uc;
          detail::zero_padding(c, p.rows, p.cols, t * tr + r * ur,
                               static_cast<std::size_t>(p.k_idx[static_cast<std::size_t>(u)]), ur, uc, p.values,
                               [&](std::size_t i, std::size_t k) { return base + k * ur + i; });
        }
      }
}

/// Throws gapp::format_error naming the field if `p` is not a consistent csr_matrix.
inline void validate(const csr_matrix& p) {
  const detail::format_checker c("csr_matrix");
  c.shape(p.rows, p.cols);
  c.pointers("row_ptr", p.row_ptr, p.rows, p.col_idx.size(), "col_idx");
  for (std::size_t r = 0; r < p.rows; ++r)
    c.indices("col_idx", p.col_idx, p.row_ptr[r], p.row_ptr[r + 1], static_cast<std::int64_t>(p.cols));
  c.count("values", p.values.size(), p.col_idx.size());
  c.finite(p.values);
}

/// Throws gapp::format_error naming the field if `p` is not a consistent nm_matrix.
inline void validate(const nm_matrix& p) {
  const detail::format_checker c("nm_matrix");
  c.shape(p.rows, p.cols);
  if (p.n <= 0 || p.m < p.n || p.m > 255)
    c.fail("n", "and m must satisfy 0 < n <= m <= 255, got " + std::to_string(p.n) + ":" + std::to_string(p.m));
  const std::size_t G = p.groups_per_row(), n = static_cast<std::size_t>(p.n), m = static_cast<std::size_t>(p.m);
  c.count("values", p.values.size(), detail::mul3(p.rows, G, n));
  c.count("index", p.index.size(), p.values.size());
  for (std::size_t slot = 0; slot < p.index.size(); ++slot) {
    const std::size_t g = (slot / n) % G, col = g * m + p.index[slot];
    if (p.index[slot] >= m || col >= p.cols)
      c.fail("index[" + std::to_string(slot) + "]", "= " + std::to_string(p.index[slot]) + " points at column " +
                                                        std::to_string(col) + ", outside its group of " +
                                                        std::to_string(m) + " or the " + std::to_string(p.cols) +
                                                        " columns");
  }
  c.finite(p.values);
}

/// Throws gapp::format_error naming the field if `p` is not a consistent row_compact.
inline void validate(const row_compact& p) {
  const detail::format_checker c("row_compact");
  c.shape(p.rows, p.cols);
  if (p.kept_rows.size() > p.rows)
    c.fail("kept_rows", "holds " + std::to_string(p.kept_rows.size()) + " rows of " + std::to_string(p.rows));
  c.indices("kept_rows", p.kept_rows, 0, static_cast<std::int32_t>(p.kept_rows.size()), static_cast<std::int64_t>(p.rows));
  c.count("values", p.values.size(), p.kept_rows.size() * p.cols);
  c.finite(p.values);
}

/// Throws gapp::format_error naming the field if `p` is not a consistent channel_compact.
inline void validate(const channel_compact& p) {
  const detail::format_checker c("channel_compact");
  c.shape(p.rows, p.cols);
  c.positive("kernel_area", p.kernel_area);
  const std::size_t a = static_cast<std::size_t>(p.kernel_area);
  if (p.cols % a != 0)
    c.fail("kernel_area", "= " + std::to_string(a) + " does not divide cols = " + std::to_string(p.cols));
  const std::size_t channels = p.cols / a;
  if (p.kept_channels.size() > channels)
    c.fail("kept_channels", "holds " + std::to_string(p.kept_channels.size()) + " channels of " + std::to_string(channels));
  c.indices("kept_channels", p.kept_channels, 0, static_cast<std::int32_t>(p.kept_channels.size()),
            static_cast<std::int64_t>(channels));
  c.count("values", p.values.size(), detail::mul3(p.rows, p.kept_channels.size(), a));
  c.finite(p.values);
}

/// Validates the format of `p` and that its unit shapes are those of Policy for Unit (a
/// block_list of tile units is TM×TK, a unit_list of SIMD units is Policy::simd_unit, …).
template <class Policy, class Unit, class Packed>
void validate_for(const Packed& p) {
  auto expect = [](const char* field, int have, int want, const char* what) {
    if (have != want)
      throw format_error(field, std::string("packed ") + unit_traits<Unit>::name + " weights: " + field + " = " +
                                    std::to_string(have) + " but the policy's " + what + " is " + std::to_string(want));
  };
  if constexpr (std::is_same_v<Unit, units::tile>) {
    expect("block_rows", p.block_rows, Policy::tile_unit.rows, "tile unit height TM");
    expect("block_cols", p.block_cols, Policy::tile_unit.cols, "tile unit width TK");
  } else if constexpr (std::is_same_v<Unit, units::simd>) {
    expect("unit_rows", p.unit_rows, Policy::simd_unit.rows, "SIMD unit height");
    expect("unit_cols", p.unit_cols, Policy::simd_unit.cols, "SIMD unit width KV");
  } else if constexpr (std::is_same_v<Unit, units::multi>) {
    expect("tile_rows", p.tile_rows, Policy::tile_unit.rows, "tile unit height TM");
    expect("tile_cols", p.tile_cols, Policy::tile_unit.cols, "tile unit width TK");
    expect("unit_rows", p.unit_rows, Policy::simd_unit.rows, "SIMD unit height");
    expect("unit_cols", p.unit_cols, Policy::simd_unit.cols, "SIMD unit width KV");
  }
  validate(static_cast<const typename unit_traits<Unit>::format&>(p));
}

/// validate_for<P, U>(p) for weights packed by gapp::pack (or built to look like them).
template <class Policy, class Unit>
void validate(const packed<Policy, Unit>& p) {
  validate_for<Policy, Unit>(p);
}

} // namespace gapp
