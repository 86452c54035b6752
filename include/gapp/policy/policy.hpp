// gapp/policy/policy.hpp — a device plus a tiling, validated at compile time; the unit
// shapes of both fine-grain techniques are derived here and nowhere else.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include "constraints.hpp"
#include "device.hpp"
#include "tiling.hpp"

namespace gapp {

/// Shape of a pruning unit on the GEMM matrix W[M×K]: `rows` along M, `cols` along K.
struct unit_shape {
  int rows = 1;
  int cols = 1;
  friend constexpr bool operator==(unit_shape a, unit_shape b) { return a.rows == b.rows && a.cols == b.cols; }
  friend constexpr bool operator!=(unit_shape a, unit_shape b) { return !(a == b); }
};

/// Everything a policy says, as run-time values (for tools, dispatch and messages).
struct policy_info {
  std::string_view name;            ///< preset name, empty for a user policy
  int simd_width, max_work_group;
  std::size_t local_mem_bytes;      ///< what the device offers
  int vector_width;
  lane_mapping lanes;
  int tm, tn, tk, rm, rn, kv;
  staging mode;
  int work_group_x, work_group_y;   ///< work-items along N and along M
  std::size_t staged_bytes;         ///< local memory the tiling uses
  unit_shape simd_unit, tile_unit;
};

/// A device description and a tiling that fit together.
///
/// Derived members:
///  - `simd_unit` — the processing-element-level unit: rows of W that the lanes of one SIMD
///    group read together × KV columns. With work-item lanes (GPUs) a SIMD group spans
///    max(1, S / (TN/RN)) rows of work-items, each RM rows of W; with vector lanes (CPUs)
///    the vector runs along N inside one work-item, so the unit is RM rows.
///  - `tile_unit` — the memory-level unit: the TM×TK slice of W a work-group stages or
///    streams at one K step.
template <class Device, class Tiling>
struct policy {
  using device = Device;
  using tiling = Tiling;

  static constexpr int simd_width = Device::simd_width;
  static constexpr int max_work_group = Device::max_work_group;
  static constexpr std::size_t device_local_mem_bytes = Device::local_mem_bytes;
  static constexpr int vector_width = Device::vector_width;
  static constexpr lane_mapping lanes = Device::lanes;

  static constexpr int tm = Tiling::tm, tn = Tiling::tn, tk = Tiling::tk;
  static constexpr int rm = Tiling::rm, rn = Tiling::rn, kv = Tiling::kv;
  static constexpr staging mode = Tiling::mode;

  static_assert(constraints::all_positive(tm, tn, tk, rm, rn, kv),
                "gapp::policy: TM, TN, TK, RM, RN and KV must all be positive.");
  static_assert(constraints::register_tile_divides_tile(tm, tn, rm, rn),
                "gapp::policy: the work-group tile TM x TN must be divisible by the register "
                "tile RM x RN.");
  static_assert(constraints::unit_width_divides_k_step(tk, kv),
                "gapp::policy: the SIMD unit width KV must divide the K step TK, so that a unit "
                "never straddles two tiles.");

  static constexpr int work_group_x = rn > 0 ? tn / rn : 0; ///< work-items along N
  static constexpr int work_group_y = rm > 0 ? tm / rm : 0; ///< work-items along M
  static constexpr int work_group_size = constraints::work_group_size(tm, tn, rm, rn);
  static constexpr std::size_t staged_bytes = constraints::staged_bytes(mode, tm, tn, tk);

  static_assert(constraints::work_group_fits(work_group_size, max_work_group),
                "gapp::policy: the work-group of (TM/RM)*(TN/RN) work-items exceeds the device's "
                "max_work_group.");
  static_assert(constraints::local_memory_fits(staged_bytes, device_local_mem_bytes),
                "gapp::policy: local staging of a TM x TK slice of W and a TK x TN slice of X "
                "exceeds the device's local memory.");
  static_assert(constraints::whole_simd_groups(lanes, work_group_size, simd_width),
                "gapp::policy: with work-item lanes the work-group (TM/RM)*(TN/RN) must be a "
                "whole number of SIMD groups of simd_width work-items.");
  static_assert(constraints::simd_group_is_rectangular(lanes, work_group_x, simd_width),
                "gapp::policy: with work-item lanes, TN/RN work-items along N must divide "
                "simd_width or be a multiple of it, so that a SIMD unit is a rectangle.");
  static_assert(constraints::register_tile_holds_vectors(lanes, rn, simd_width),
                "gapp::policy: with vector lanes the register tile width RN must be a multiple "
                "of simd_width (the vector runs along N).");

  static constexpr unit_shape simd_unit{constraints::simd_unit_rows(lanes, simd_width, tn, rm, rn), kv};
  static constexpr unit_shape tile_unit{tm, tk};

  static_assert(simd_unit.rows > 0 && tm % simd_unit.rows == 0,
                "gapp::policy: the SIMD unit rows must divide the tile height TM, so that "
                "SIMD units nest in tile units.");

  /// This policy's numbers as run-time values.
  static constexpr policy_info info(std::string_view name = {}) {
    return policy_info{name, simd_width, max_work_group, device_local_mem_bytes, vector_width, lanes,
                       tm, tn, tk, rm, rn, kv, mode, work_group_x, work_group_y, staged_bytes,
                       simd_unit, tile_unit};
  }
};

/// True for instantiations of gapp::policy (and types derived from one, such as presets).
template <class T, class = void>
struct is_policy : std::false_type {};
template <class T>
struct is_policy<T, std::void_t<typename T::device, typename T::tiling, decltype(T::simd_unit)>>
    : std::true_type {};
template <class T>
inline constexpr bool is_policy_v = is_policy<T>::value;

inline std::string to_string(staging s) { return s == staging::local ? "local" : "direct"; }
inline std::string to_string(lane_mapping l) { return l == lane_mapping::vector ? "vector" : "work_items"; }

} // namespace gapp
