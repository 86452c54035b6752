// gapp/opencl/device.hpp — what a device is (queried into gapp::device_facts), which preset
// fits it and whether a policy can run on it: the runtime half of gapp/policy/dispatch.hpp
// and gapp/policy/can_implement.hpp, checked before any launch.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "../policy/can_implement.hpp"
#include "../policy/dispatch.hpp"
#include "../policy/presets.hpp"
#include "cl.hpp"
#include "error.hpp"

namespace gapp::opencl {

// Vendor extension queries (cl_nv_device_attribute_query, cl_amd_device_attribute_query,
// cl_intel_required_subgroup_size); defined here so no vendor header is needed.
inline constexpr cl_uint device_warp_size_nv = 0x4003;
inline constexpr cl_uint device_wavefront_width_amd = 0x4043;
inline constexpr cl_uint device_sub_group_sizes_intel = 0x4108;

/// A device as OpenCL reports it: the host-level device_facts (what can_implement and
/// dispatch read) and the OpenCL-only details.
struct device_info : device_facts {
  std::string version, extensions;
  cl_device_type type = 0;
  cl_device_local_mem_type local_mem_type = CL_LOCAL;
  bool has(const std::string& ext) const { return extensions.find(ext) != std::string::npos; }
};

inline device_info query(const cl::Device& d) {
  device_info i;
  detail::check(d.getInfo(CL_DEVICE_NAME, &i.name), "clGetDeviceInfo(CL_DEVICE_NAME)");
  d.getInfo(CL_DEVICE_VENDOR, &i.vendor);
  d.getInfo(CL_DEVICE_VERSION, &i.version);
  d.getInfo(CL_DRIVER_VERSION, &i.driver);
  d.getInfo(CL_DEVICE_EXTENSIONS, &i.extensions);
  d.getInfo(CL_DEVICE_TYPE, &i.type);
  d.getInfo(CL_DEVICE_MAX_WORK_GROUP_SIZE, &i.max_work_group);
  d.getInfo(CL_DEVICE_MAX_WORK_ITEM_SIZES, &i.max_item_sizes);
  i.cpu = (i.type & CL_DEVICE_TYPE_CPU) != 0;
  cl_ulong bytes = 0;
  if (d.getInfo(CL_DEVICE_LOCAL_MEM_SIZE, &bytes) == CL_SUCCESS) i.local_mem = bytes;
  d.getInfo(CL_DEVICE_LOCAL_MEM_TYPE, &i.local_mem_type);
  if (d.getInfo(CL_DEVICE_MAX_MEM_ALLOC_SIZE, &bytes) == CL_SUCCESS) i.max_alloc = bytes;
  cl_uint w = 0;
  if (i.has("cl_nv_device_attribute_query") &&
      clGetDeviceInfo(d(), device_warp_size_nv, sizeof w, &w, nullptr) == CL_SUCCESS)
    i.simd_width = w;
  if (i.has("cl_amd_device_attribute_query") &&
      clGetDeviceInfo(d(), device_wavefront_width_amd, sizeof w, &w, nullptr) == CL_SUCCESS)
    i.simd_width = w;
  if (i.has("cl_intel_required_subgroup_size")) {
    std::size_t bytes = 0;
    if (clGetDeviceInfo(d(), device_sub_group_sizes_intel, 0, nullptr, &bytes) == CL_SUCCESS && bytes > 0) {
      i.sub_group_sizes.resize(bytes / sizeof(std::size_t));
      clGetDeviceInfo(d(), device_sub_group_sizes_intel, bytes, i.sub_group_sizes.data(), nullptr);
    }
  }
  return i;
}

/// Every device of every platform, in platform order.
inline std::vector<cl::Device> all_devices() {
  std::vector<cl::Platform> platforms;
  detail::check(cl::Platform::get(&platforms), "clGetPlatformIDs");
  std::vector<cl::Device> all;
  for (auto& p : platforms) {
    std::vector<cl::Device> d;
    if (p.getDevices(CL_DEVICE_TYPE_ALL, &d) == CL_SUCCESS) all.insert(all.end(), d.begin(), d.end());
  }
  return all;
}

/// The i-th device of all_devices(); throws gapp::invalid_argument saying how many exist.
inline cl::Device device_at(std::size_t i) {
  const std::vector<cl::Device> all = all_devices();
  if (i >= all.size())
    throw invalid_argument("no OpenCL device " + std::to_string(i) + " (" + std::to_string(all.size()) +
                           " found; install an ICD such as pocl-opencl-icd)");
  return all[i];
}

/// The name of the preset dispatch picks for a device (see gapp::choose_policy: one match
/// rule per preset, an explicit fallback when none matches).
inline std::string pick_preset(const device_info& i) { return choose_policy(i).name; }

/// Whether the device is a CPU device of PoCL, whose kernel compiler takes
/// __builtin_prefetch on global pointers (the direct kernels' software prefetch).
inline bool is_pocl_cpu(const cl::Device& d) {
  cl_device_type type = 0;
  cl_platform_id platform = nullptr;
  if (d.getInfo(CL_DEVICE_TYPE, &type) != CL_SUCCESS || !(type & CL_DEVICE_TYPE_CPU)) return false;
  if (d.getInfo(CL_DEVICE_PLATFORM, &platform) != CL_SUCCESS || !platform) return false;
  std::string name;
  if (cl::Platform(platform, true).getInfo(CL_PLATFORM_NAME, &name) != CL_SUCCESS) return false;
  return name.find("Portable Computing Language") != std::string::npos || name.find("PoCL") != std::string::npos;
}

/// K chunk (in k, a multiple of P's tile depth) of the direct family's dense and tile walks
/// on CPU devices: the work-items of a group walk K chunk by chunk and share each chunk's
/// X rows in cache (about 256 rows: 32 KiB of a 32-column strip).
template <class P>
constexpr int cpu_k_chunk() { return P::tk * (P::tk >= 256 ? 1 : 256 / P::tk); }

/// Column tiles per work-group (kernels::grid_rule::column_tiles) of a direct-family GEMM on
/// a CPU device, for a launch of `tiles` TN-column tiles by `row_groups` groups along M:
/// PoCL runs every work-group as one call of its work-group function, a cost of its own that
/// a sparse walk at high sparsity, on layers with few rows and many columns, pays once per
/// tile — more than its multiply-adds (AMD EPYC, VGG16-224 conv1_2 with SIMD units at 0.9:
/// 2.01 → 1.51 ms; dense and tile walks 1–4%). Several consecutive tiles per group, at most
/// 16, while at least 64 groups per compute unit remain (a SIMD walk's row-blocks differ in
/// length: fewer groups balance worse; 40 groups on 2 cores lost 10%).
inline std::size_t cpu_tiles_per_group(std::size_t tiles, std::size_t row_groups, std::size_t compute_units) {
  const std::size_t keep = 64 * std::max<std::size_t>(compute_units, 1), groups = tiles * row_groups;
  return groups < 2 * keep ? 1 : std::min<std::size_t>(16, groups / keep);
}

/// Whether the direct family's dense or tile walk, `walk_k` k steps long
/// (kernels::launch_plan::walk_k), walks K in chunks on a CPU device. Measured on the AMD
/// EPYC (PoCL 3.1, VGG16 layers at 224² batch 1 and at the accuracy study's shapes):
/// - over an X matrix or the plain implicit input: where the walk is longer than one chunk
///   (a single chunk shares nothing, and its barrier costs: a 3×3 convolution of one channel
///   into 32, K = 9, batch 100 at 32²: dense 3.0 → 1.4 ms without it);
/// - over padded activations (`padded`), whose X rows are offsets into a few planes rather
///   than rows N × 4 bytes apart: never for the dense walk (4–22% faster without on all ten
///   layers), and for the tile walk only where it is longer than four chunks (36 kept 32-deep
///   tiles of conv4_x and conv5_x at 0.75: 3–9% faster with chunks; the walks of 18 tiles
///   and fewer 4–73% faster without, e.g. conv1_2 at 0.9 2.00 → 1.28 ms).
template <class P>
bool cpu_k_chunks(std::size_t walk_k, bool padded, bool tile) {
  const auto chunk = static_cast<std::size_t>(cpu_k_chunk<P>());
  if (!padded) return walk_k > chunk;
  return tile && walk_k > 4 * chunk;
}

/// Build options gapp adds for policy P's GEMM kernels on this device: on PoCL's CPU
/// devices, the direct family's software prefetch and, where cpu_k_chunks says so, K chunks
/// ("" elsewhere). `walk_k`: the launch's kernels::launch_plan::walk_k (0: not known, K
/// chunks as for a long walk); `padded`, `tile`: the walk reads padded activations, is the
/// tile walk.
template <class P>
std::string device_options(const cl::Device& d, std::size_t walk_k = 0, bool padded = false, bool tile = false) {
  if (P::mode != staging::direct || !is_pocl_cpu(d)) return "";
  std::string o = " -DGAPP_SOFTWARE_PREFETCH=1";
  if (walk_k == 0 || cpu_k_chunks<P>(walk_k, padded, tile)) o += " -DGAPP_KCHUNK=" + std::to_string(cpu_k_chunk<P>());
  return o;
}

/// Why policy P cannot run on the device, or nothing if it can (gapp::can_implement).
template <class P>
std::optional<std::string> why_not(const device_info& i, const gemm_problem& problem = {}) {
  const verdict v = can_implement<P>(problem, i);
  if (v) return std::nullopt;
  return v.reason;
}

template <class P>
bool can_run(const cl::Device& d) { return !why_not<P>(query(d)); }

/// Throws gapp::policy_error saying why P cannot run on the device.
template <class P>
void require_can_run(const device_info& i, const gemm_problem& problem = {}) {
  if (auto why = why_not<P>(i, problem)) throw policy_error(*why);
}

/// Calls f(Preset{}) with the preset dispatch chooses for the device (gapp::choose_policy),
/// after checking that it can run there. `choice`, when given, receives which preset was
/// chosen, whether it was a fallback, and why.
template <class F>
decltype(auto) dispatch(const cl::Device& d, F&& f, policy_choice* choice = nullptr) {
  const device_info i = query(d);
  const policy_choice c = choose_policy(i);
  if (choice) *choice = c;
  return presets::all::visit(c.name, [&](auto p) -> decltype(auto) {
    require_can_run<decltype(p)>(i);
    return f(p);
  });
}

} // namespace gapp::opencl
