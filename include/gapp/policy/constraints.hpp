// gapp/policy/constraints.hpp — every rule a policy must satisfy, one named predicate each.
// policy<> checks them with static_assert; the run-time checks against a real device use
// the same predicates.
#pragma once

#include <cstddef>

#include "device.hpp"
#include "tiling.hpp"

namespace gapp::constraints {

constexpr bool all_positive(int tm, int tn, int tk, int rm, int rn, int kv) {
  return tm > 0 && tn > 0 && tk > 0 && rm > 0 && rn > 0 && kv > 0;
}

/// The work-group tile TM×TN is a whole number of register tiles RM×RN.
constexpr bool register_tile_divides_tile(int tm, int tn, int rm, int rn) {
  return rm > 0 && rn > 0 && tm % rm == 0 && tn % rn == 0;
}

/// The SIMD unit width KV divides the K step TK (a unit never straddles two tiles).
constexpr bool unit_width_divides_k_step(int tk, int kv) { return kv > 0 && tk % kv == 0; }

constexpr int work_group_size(int tm, int tn, int rm, int rn) {
  return (rm > 0 && rn > 0) ? (tm / rm) * (tn / rn) : 0;
}

constexpr bool work_group_fits(int wg, int max_work_group) { return wg > 0 && wg <= max_work_group; }

/// Bytes of local memory a work-group stages: a TM×TK slice of W and a TK×TN slice of X.
constexpr std::size_t staged_bytes(staging mode, int tm, int tn, int tk) {
  return mode == staging::local
             ? (static_cast<std::size_t>(tm) * tk + static_cast<std::size_t>(tk) * tn) * sizeof(float)
             : 0;
}

constexpr bool local_memory_fits(std::size_t staged, std::size_t available) { return staged <= available; }

/// work_items lanes: a work-group is a whole number of SIMD groups.
constexpr bool whole_simd_groups(lane_mapping lanes, int wg, int simd_width) {
  return lanes == lane_mapping::vector || (simd_width > 0 && wg % simd_width == 0);
}

/// work_items lanes: a SIMD group covers whole rows of work-items (or a row holds whole
/// SIMD groups), so the lanes that share W rows form a rectangle.
constexpr bool simd_group_is_rectangular(lane_mapping lanes, int items_along_n, int simd_width) {
  return lanes == lane_mapping::vector ||
         (items_along_n > 0 && (simd_width % items_along_n == 0 || items_along_n % simd_width == 0));
}

/// vector lanes: the register tile's N extent is a whole number of vectors.
constexpr bool register_tile_holds_vectors(lane_mapping lanes, int rn, int simd_width) {
  return lanes == lane_mapping::work_items || (simd_width > 0 && rn % simd_width == 0);
}

/// Rows of W that the lanes of one SIMD group read together at one k step.
constexpr int simd_unit_rows(lane_mapping lanes, int simd_width, int tn, int rm, int rn) {
  if (lanes == lane_mapping::vector || rn <= 0) return rm;
  const int items_along_n = tn / rn;
  const int rows_of_items = items_along_n > 0 && simd_width > items_along_n ? simd_width / items_along_n : 1;
  return rm * rows_of_items;
}

/// The work-group's extent along each axis fits the device's per-dimension limit.
constexpr bool work_group_dims_fit(int wx, int wy, std::size_t max_x, std::size_t max_y) {
  return wx > 0 && wy > 0 && static_cast<std::size_t>(wx) <= max_x && static_cast<std::size_t>(wy) <= max_y;
}

/// A rows×cols matrix is indexed with 32-bit ints in the kernels.
constexpr bool fits_32bit_indexing(std::size_t rows, std::size_t cols) {
  return cols == 0 || rows <= 0x7fffffffu / cols;
}

/// One buffer of `bytes` fits the device's largest single allocation.
constexpr bool buffer_fits(std::size_t bytes, std::size_t max_alloc) { return max_alloc == 0 || bytes <= max_alloc; }

} // namespace gapp::constraints
