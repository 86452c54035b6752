// gapp/policy/can_implement.hpp — whether a policy can run a problem on a device, with the
// reason when it cannot: the compile-time rules of constraints.hpp applied to a device's
// run-time limits. Host-only: a runtime (gapp's or an engine's) fills device_facts from its
// own device query.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "constraints.hpp"
#include "policy.hpp"

namespace gapp {

/// What a runtime knows about a device, as plain values (0 or empty where unknown).
struct device_facts {
  std::string name, vendor, driver;
  bool cpu = false;                          ///< a CPU device (PoCL, Intel's CPU runtime, ...)
  std::size_t max_work_group = 0;            ///< CL_DEVICE_MAX_WORK_GROUP_SIZE
  std::vector<std::size_t> max_item_sizes;   ///< CL_DEVICE_MAX_WORK_ITEM_SIZES
  std::uint64_t local_mem = 0;               ///< CL_DEVICE_LOCAL_MEM_SIZE
  std::uint64_t max_alloc = 0;               ///< CL_DEVICE_MAX_MEM_ALLOC_SIZE
  unsigned simd_width = 0;                   ///< warp / wavefront from a vendor extension
  std::vector<std::size_t> sub_group_sizes;  ///< Intel sub-group sizes
};

/// A GEMM Y[m×n] = W[m×k]·X[k×n]; 0 where not known yet (the device checks still apply).
struct gemm_problem {
  std::size_t m = 0, n = 0, k = 0;
};

/// The answer of can_implement: `ok`, or the reason a person can act on.
struct verdict {
  bool ok = true;
  std::string reason;
  explicit operator bool() const { return ok; }
  static verdict yes() { return {}; }
  static verdict no(std::string why) { return {false, std::move(why)}; }
};

/// Whether policy P's kernels can run `problem` on the device: work-group size and shape,
/// local memory, 32-bit indexing and single-buffer sizes, each from constraints::*.
template <class P>
verdict can_implement(const gemm_problem& problem, const device_facts& d) {
  static_assert(is_policy_v<P>, "gapp::can_implement needs a gapp::policy or preset");
  const std::string on = d.name.empty() ? std::string() : " (" + d.name + ")";
  if (d.max_work_group != 0 && !constraints::work_group_fits(P::work_group_size, static_cast<int>(std::min<std::size_t>(d.max_work_group, 1 << 30))))
    return verdict::no("the policy's work-group of " + std::to_string(P::work_group_size) +
                       " work-items exceeds the device's maximum of " + std::to_string(d.max_work_group) + on);
  if (d.max_item_sizes.size() >= 2 &&
      !constraints::work_group_dims_fit(P::work_group_x, P::work_group_y, d.max_item_sizes[0], d.max_item_sizes[1]))
    return verdict::no("the policy's work-group " + std::to_string(P::work_group_x) + "x" +
                       std::to_string(P::work_group_y) + " exceeds the device's work-item sizes " +
                       std::to_string(d.max_item_sizes[0]) + "x" + std::to_string(d.max_item_sizes[1]) + on);
  if (!constraints::local_memory_fits(P::staged_bytes, static_cast<std::size_t>(d.local_mem)))
    return verdict::no("the policy stages " + std::to_string(P::staged_bytes) +
                       " bytes of local memory but the device has " + std::to_string(d.local_mem) + on);
  const std::size_t m = problem.m, n = problem.n, k = problem.k;
  if (!constraints::fits_32bit_indexing(m, k) || !constraints::fits_32bit_indexing(k, n) ||
      !constraints::fits_32bit_indexing(m, n))
    return verdict::no("the GEMM " + std::to_string(m) + "x" + std::to_string(k) + " · " + std::to_string(k) + "x" +
                       std::to_string(n) + " exceeds the kernels' 32-bit indexing");
  const std::size_t largest = std::max({m * k, k * n, m * n}) * sizeof(float);
  if (!constraints::buffer_fits(largest, static_cast<std::size_t>(d.max_alloc)))
    return verdict::no("the GEMM needs a buffer of " + std::to_string(largest) +
                       " bytes, more than the device allocates at once (" + std::to_string(d.max_alloc) + ")" + on);
  return verdict::yes();
}

} // namespace gapp
