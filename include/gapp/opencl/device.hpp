// gapp/opencl/device.hpp — what a device is, which preset fits it, and whether a policy
// can run on it (checked before any launch).
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "../policy/presets.hpp"
#include "cl.hpp"
#include "error.hpp"

namespace gapp::opencl {

// Vendor extension queries (cl_nv_device_attribute_query, cl_amd_device_attribute_query,
// cl_intel_required_subgroup_size); defined here so no vendor header is needed.
inline constexpr cl_uint device_warp_size_nv = 0x4003;
inline constexpr cl_uint device_wavefront_width_amd = 0x4043;
inline constexpr cl_uint device_sub_group_sizes_intel = 0x4108;

struct device_info {
  std::string name, vendor, version, driver, extensions;
  cl_device_type type = 0;
  std::size_t max_work_group = 0;
  std::vector<std::size_t> max_item_sizes;
  cl_ulong local_mem = 0;
  cl_device_local_mem_type local_mem_type = CL_LOCAL;
  cl_ulong max_alloc = 0;
  cl_uint simd_width = 0;                 ///< warp / wavefront from the vendor extension, 0 if unknown
  std::vector<std::size_t> sub_group_sizes; ///< Intel sub-group sizes
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
  d.getInfo(CL_DEVICE_LOCAL_MEM_SIZE, &i.local_mem);
  d.getInfo(CL_DEVICE_LOCAL_MEM_TYPE, &i.local_mem_type);
  d.getInfo(CL_DEVICE_MAX_MEM_ALLOC_SIZE, &i.max_alloc);
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

/// The name of the preset that best fits a device: by vendor, then by the SIMD width the
/// vendor extensions report, then by name; a CPU device takes the PoCL preset of its
/// vector ISA.
inline std::string pick_preset(const device_info& i) {
  auto has = [](const std::string& s, const char* what) {
    std::string a = s;
    std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return a.find(what) != std::string::npos;
  };
  if (i.type & CL_DEVICE_TYPE_CPU) return has(i.name, "avx512") ? "pocl-avx512" : "pocl-avx2";
  if (has(i.vendor, "nvidia")) return "nvidia";
  if (has(i.vendor, "advanced micro devices") || has(i.vendor, "amd"))
    return i.simd_width == 32 ? "amd-rdna" : "amd-gcn";
  if (has(i.vendor, "intel")) {
    const bool only_small = !i.sub_group_sizes.empty() && i.sub_group_sizes.front() == 8 &&
                            std::find(i.sub_group_sizes.begin(), i.sub_group_sizes.end(), 16) == i.sub_group_sizes.end();
    return only_small || i.max_work_group <= 256 ? "intel-gen9" : "intel-xe";
  }
  if (has(i.vendor, "arm")) return "arm-mali-valhall";
  if (has(i.vendor, "qualcomm")) return "qualcomm-adreno";
  return "nvidia"; // a generic GPU: warp-32 layout is the most common
}

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

/// Build options gapp adds for policy P's GEMM kernels on this device: on PoCL's CPU
/// devices, the direct family's software prefetch and K chunks ("" elsewhere).
template <class P>
std::string device_options(const cl::Device& d) {
  if (P::mode != staging::direct || !is_pocl_cpu(d)) return "";
  return " -DGAPP_SOFTWARE_PREFETCH=1 -DGAPP_KCHUNK=" + std::to_string(cpu_k_chunk<P>());
}

/// Why policy P cannot run on the device, or nothing if it can.
template <class P>
std::optional<std::string> why_not(const device_info& i) {
  const std::size_t wx = static_cast<std::size_t>(P::work_group_x), wy = static_cast<std::size_t>(P::work_group_y);
  if (wx * wy > i.max_work_group)
    return "the policy's work-group of " + std::to_string(wx * wy) + " work-items exceeds the device's maximum of " +
           std::to_string(i.max_work_group) + " (" + i.name + ")";
  if (i.max_item_sizes.size() >= 2 && (wx > i.max_item_sizes[0] || wy > i.max_item_sizes[1]))
    return "the policy's work-group " + std::to_string(wx) + "x" + std::to_string(wy) +
           " exceeds the device's work-item sizes " + std::to_string(i.max_item_sizes[0]) + "x" +
           std::to_string(i.max_item_sizes[1]);
  if (P::staged_bytes > i.local_mem)
    return "the policy stages " + std::to_string(P::staged_bytes) + " bytes of local memory but the device has " +
           std::to_string(i.local_mem);
  return std::nullopt;
}

template <class P>
bool can_run(const cl::Device& d) { return !why_not<P>(query(d)); }

/// Throws gapp::policy_error saying why P cannot run on the device.
template <class P>
void require_can_run(const device_info& i) {
  if (auto why = why_not<P>(i)) throw policy_error(*why);
}

/// Calls f(Preset{}) with the preset gapp picks for the device (see pick_preset), after
/// checking that it can run there.
template <class F>
decltype(auto) dispatch(const cl::Device& d, F&& f) {
  const device_info i = query(d);
  return presets::all::visit(pick_preset(i), [&](auto p) -> decltype(auto) {
    require_can_run<decltype(p)>(i);
    return f(p);
  });
}

} // namespace gapp::opencl
