// gapp/policy/device.hpp — what gapp needs to know about a device's hierarchy.
#pragma once

#include <cstddef>

namespace gapp {

/// How the lanes of one SIMD group are formed.
///  - work_items: each lane is a work-item (GPU warps, wavefronts, sub-groups); the lanes
///    of a group are consecutive work-items of a work-group, x (along N) fastest.
///  - vector: the lanes are the elements of an explicit vector inside one work-item
///    (CPU devices such as PoCL, where a work-item's floatN runs along N).
enum class lane_mapping { work_items, vector };

/// Compile-time hardware facts of a device class.
///
/// @tparam SimdWidth      lanes executed in lock-step (warp 32, wavefront 64, AVX-512 16)
/// @tparam MaxWorkGroup   largest work-group the device runs (CL_DEVICE_MAX_WORK_GROUP_SIZE)
/// @tparam LocalMemBytes  local memory of one work-group (CL_DEVICE_LOCAL_MEM_SIZE)
/// @tparam VectorWidth    preferred float vector width of a work-item's loads
/// @tparam Lanes          how SIMD lanes are formed (see lane_mapping)
template <int SimdWidth, int MaxWorkGroup, std::size_t LocalMemBytes, int VectorWidth,
          lane_mapping Lanes>
struct device_traits {
  static constexpr int simd_width = SimdWidth;
  static constexpr int max_work_group = MaxWorkGroup;
  static constexpr std::size_t local_mem_bytes = LocalMemBytes;
  static constexpr int vector_width = VectorWidth;
  static constexpr lane_mapping lanes = Lanes;

  static_assert(SimdWidth > 0 && MaxWorkGroup > 0 && VectorWidth > 0,
                "device_traits: simd_width, max_work_group and vector_width must be positive.");
  static_assert(MaxWorkGroup % SimdWidth == 0 || Lanes == lane_mapping::vector,
                "device_traits: max_work_group must be a whole number of SIMD groups of "
                "simd_width work-items.");
};

} // namespace gapp
