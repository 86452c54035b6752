// gapp/pack/pack.hpp — weights + mask → the packed format of the matching kernel.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "../error.hpp"
#include "../prune/mask.hpp"
#include "../prune/matrix.hpp"
#include "../prune/units.hpp"
#include "formats.hpp"

namespace gapp {

/// The packed weights of a `Policy` / `Unit` pair: the format struct of that unit
/// (unit_traits<Unit>::format), typed so that a kernel built for a policy and unit only
/// accepts weights packed for the same.
///   element → csr_matrix        simd   → unit_list     tile, block → block_list
///   multi   → multi_list        filter → row_compact   channel     → channel_compact
///   nm      → nm_matrix

template <class Policy, class Unit>
struct packed : unit_traits<Unit>::format {
  static_assert(is_policy_v<Policy>, "gapp::packed: Policy must be a gapp::policy (or a preset).");
  static_assert(units::is_unit_v<Unit>, "gapp::packed: Unit must be one of gapp::units.");
  using policy_type = Policy;
  using unit_type = Unit;
  using format_type = typename unit_traits<Unit>::format;
};

namespace detail {

inline std::int32_t to_i32(std::size_t v) { return static_cast<std::int32_t>(v); }

/// Any kept weight in rows [r0, r1) × columns [c0, c1)?
inline bool any_kept(const std::uint8_t* keep, std::size_t cols, std::size_t r0, std::size_t r1, std::size_t c0,
                     std::size_t c1) {
  for (std::size_t r = r0; r < r1; ++r)
    for (std::size_t c = c0; c < c1; ++c)
      if (keep[r * cols + c]) return true;
  return false;
}

/// Appends the masked, zero-padded ur×uc unit at (r0, c0), k-major (see unit_list).
inline void append_unit(std::vector<float>& v, matrix_view w, const std::uint8_t* keep, std::size_t r0,
                        std::size_t c0, std::size_t ur, std::size_t uc) {
  for (std::size_t kk = 0; kk < uc; ++kk)
    for (std::size_t r = 0; r < ur; ++r) {
      const std::size_t rr = r0 + r, cc = c0 + kk;
      v.push_back(rr < w.rows && cc < w.cols && keep[rr * w.cols + cc] ? w(rr, cc) : 0.0f);
    }
}

template <class M>
void check_pack_input(matrix_view w, const M& m) {
  m.check_shape(w, "pack");
  check_finite_matrix(w, "weights");
  if (w.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    throw shape_error("pack: a matrix of " + std::to_string(w.size()) + " weights exceeds 32-bit indexing");
}

inline void pack_blocks(block_list& out, matrix_view w, const std::uint8_t* keep, unit_shape b) {
  const std::size_t br = static_cast<std::size_t>(b.rows), bc = static_cast<std::size_t>(b.cols);
  const std::size_t gr = (w.rows + br - 1) / br, gc = (w.cols + bc - 1) / bc;
  out.rows = w.rows, out.cols = w.cols, out.block_rows = b.rows, out.block_cols = b.cols;
  out.row_ptr.assign(1, 0);
  for (std::size_t i = 0; i < gr; ++i) {
    const std::size_t r0 = i * br, r1 = std::min(w.rows, r0 + br);
    for (std::size_t j = 0; j < gc; ++j) {
      const std::size_t c0 = j * bc, c1 = std::min(w.cols, c0 + bc);
      if (!any_kept(keep, w.cols, r0, r1, c0, c1)) continue;
      out.col_idx.push_back(to_i32(j));
      for (std::size_t r = r0; r < r0 + br; ++r)
        for (std::size_t c = c0; c < c0 + bc; ++c)
          out.values.push_back(r < w.rows && c < w.cols && keep[r * w.cols + c] ? w(r, c) : 0.0f);
    }
    out.row_ptr.push_back(to_i32(out.col_idx.size()));
  }
}

inline void pack_units(unit_list& out, matrix_view w, const std::uint8_t* keep, unit_shape u) {
  const std::size_t ur = static_cast<std::size_t>(u.rows), uc = static_cast<std::size_t>(u.cols);
  const std::size_t gr = (w.rows + ur - 1) / ur, gc = (w.cols + uc - 1) / uc;
  out.rows = w.rows, out.cols = w.cols, out.unit_rows = u.rows, out.unit_cols = u.cols;
  out.row_ptr.assign(1, 0);
  for (std::size_t i = 0; i < gr; ++i) {
    const std::size_t r0 = i * ur, r1 = std::min(w.rows, r0 + ur);
    for (std::size_t j = 0; j < gc; ++j) {
      const std::size_t c0 = j * uc;
      if (!any_kept(keep, w.cols, r0, r1, c0, std::min(w.cols, c0 + uc))) continue;
      out.k_idx.push_back(to_i32(c0));
      append_unit(out.values, w, keep, r0, c0, ur, uc);
    }
    out.row_ptr.push_back(to_i32(out.k_idx.size()));
  }
  out.fixed_count = gr > 0 ? out.row_ptr[1] : 0;
  for (std::size_t i = 0; i < gr; ++i)
    if (out.row_ptr[i + 1] - out.row_ptr[i] != out.fixed_count) out.fixed_count = -1;
}

inline void pack_multi(multi_list& out, matrix_view w, const std::uint8_t* keep, unit_shape t, unit_shape u) {
  const std::size_t tr = static_cast<std::size_t>(t.rows), tc = static_cast<std::size_t>(t.cols);
  const std::size_t ur = static_cast<std::size_t>(u.rows), uc = static_cast<std::size_t>(u.cols);
  const std::size_t rbt = tr / ur, gtr = (w.rows + tr - 1) / tr, gtc = (w.cols + tc - 1) / tc;
  out.rows = w.rows, out.cols = w.cols;
  out.tile_rows = t.rows, out.tile_cols = t.cols, out.unit_rows = u.rows, out.unit_cols = u.cols;
  out.tile_ptr.assign(1, 0);
  out.seg_ptr.assign(1, 0);
  for (std::size_t i = 0; i < gtr; ++i) {
    const std::size_t r0 = i * tr, r1 = std::min(w.rows, r0 + tr);
    for (std::size_t j = 0; j < gtc; ++j) {
      const std::size_t c0 = j * tc, c1 = std::min(w.cols, c0 + tc);
      if (!any_kept(keep, w.cols, r0, r1, c0, c1)) continue;
      out.tile_col.push_back(to_i32(j));
      for (std::size_t rb = 0; rb < rbt; ++rb) {
        const std::size_t q0 = r0 + rb * ur, q1 = std::min(w.rows, q0 + ur);
        for (std::size_t k0 = c0; q0 < q1 && k0 < c1; k0 += uc) {
          if (!any_kept(keep, w.cols, q0, q1, k0, std::min(c1, k0 + uc))) continue;
          out.k_idx.push_back(to_i32(k0));
          append_unit(out.values, w, keep, q0, k0, ur, uc);
        }
        out.seg_ptr.push_back(to_i32(out.k_idx.size()));
      }
    }
    out.tile_ptr.push_back(to_i32(out.tile_col.size()));
  }
}

} // namespace detail

/// Packs `w` (the original weights; removed ones are zeroed here) with mask `m` into the
/// format of `Unit` under `Policy`. Throws gapp::shape_error if the mask is for another
/// shape, gapp::value_error for NaN/Inf weights, gapp::invalid_argument for a mask that
/// breaks its unit's rule (an N:M group keeping more than N).
template <class Policy, class Unit>
packed<Policy, Unit> pack(matrix_view w, const mask<Policy, Unit>& m) {
  detail::check_pack_input(w, m);
  const std::uint8_t* keep = m.data();
  packed<Policy, Unit> out;
  if constexpr (std::is_same_v<Unit, units::tile> || std::is_same_v<Unit, units::block>) {
    detail::pack_blocks(out, w, keep, m.shape());
  } else if constexpr (std::is_same_v<Unit, units::simd>) {
    detail::pack_units(out, w, keep, Policy::simd_unit);
  } else if constexpr (std::is_same_v<Unit, units::multi>) {
    detail::pack_multi(out, w, keep, Policy::tile_unit, Policy::simd_unit);
  } else if constexpr (std::is_same_v<Unit, units::element>) {
    out.rows = w.rows, out.cols = w.cols;
    out.row_ptr.assign(1, 0);
    for (std::size_t r = 0; r < w.rows; ++r) {
      for (std::size_t c = 0; c < w.cols; ++c)
        if (keep[r * w.cols + c]) out.col_idx.push_back(detail::to_i32(c)), out.values.push_back(w(r, c));
      out.row_ptr.push_back(detail::to_i32(out.values.size()));
    }
  } else if constexpr (std::is_same_v<Unit, units::filter>) {
    out.rows = w.rows, out.cols = w.cols;
    for (std::size_t r = 0; r < w.rows; ++r) {
      if (!detail::any_kept(keep, w.cols, r, r + 1, 0, w.cols)) continue;
      out.kept_rows.push_back(detail::to_i32(r));
      for (std::size_t c = 0; c < w.cols; ++c) out.values.push_back(keep[r * w.cols + c] ? w(r, c) : 0.0f);
    }
  } else if constexpr (std::is_same_v<Unit, units::channel>) {
    const std::size_t a = static_cast<std::size_t>(m.shape().cols);
    out.rows = w.rows, out.cols = w.cols, out.kernel_area = static_cast<int>(a);
    for (std::size_t ch = 0; ch < w.cols / a; ++ch)
      if (detail::any_kept(keep, w.cols, 0, w.rows, ch * a, ch * a + a)) out.kept_channels.push_back(detail::to_i32(ch));
    for (std::size_t r = 0; r < w.rows; ++r)
      for (auto ch : out.kept_channels)
        for (std::size_t e = 0; e < a; ++e) {
          const std::size_t c = static_cast<std::size_t>(ch) * a + e;
          out.values.push_back(keep[r * w.cols + c] ? w(r, c) : 0.0f);
        }
  } else {
    static_assert(std::is_same_v<Unit, units::nm>, "gapp::pack: unsupported unit");
    const units::nm u = m.unit();
    (void)m.shape(); // validates n, m
    out.rows = w.rows, out.cols = w.cols, out.n = u.n, out.m = u.m;
    const std::size_t G = out.groups_per_row(), M = static_cast<std::size_t>(u.m), N = static_cast<std::size_t>(u.n);
    out.values.assign(w.rows * G * N, 0.0f);
    out.index.assign(w.rows * G * N, 0);
    for (std::size_t r = 0; r < w.rows; ++r)
      for (std::size_t g = 0; g < G; ++g) {
        std::size_t slot = 0;
        for (std::size_t e = 0; e < M && g * M + e < w.cols; ++e) {
          const std::size_t c = g * M + e;
          if (!keep[r * w.cols + c]) continue;
          if (slot == N)
            throw invalid_argument("pack: the mask keeps more than " + std::to_string(N) + " weights in group " +
                                   std::to_string(g) + " of row " + std::to_string(r) + ", which N:M " +
                                   std::to_string(N) + ":" + std::to_string(M) + " does not allow");
          out.values[(r * G + g) * N + slot] = w(r, c);
          out.index[(r * G + g) * N + slot] = static_cast<std::uint8_t>(e);
          ++slot;
        }
      }
  }
  return out;
}

} // namespace gapp
