// gapp/policy/presets.hpp — policies for real device classes, each with a run-time name.
//
// Numbers marked "reported" are what the vendors' OpenCL drivers return for
// CL_DEVICE_MAX_WORK_GROUP_SIZE / CL_DEVICE_LOCAL_MEM_SIZE on current parts; SIMD widths
// come from the vendors' architecture documents. Where a family spans several values the
// comment says which one the preset takes and why. Tilings are starting points that
// satisfy every constraint; the kernels issue tunes them by measurement.
#pragma once

#include <string>
#include <string_view>
#include <optional>
#include <type_traits>
#include <utility>

#include "../error.hpp"
#include "policy.hpp"

namespace gapp::presets {

/// NVIDIA GPUs (Kepler and later). Warp = 32 threads (CUDA Programming Guide, "SIMT
/// Architecture"); max work-group 1024 and 48 KiB local memory reported by NVIDIA's OpenCL
/// driver. Local staging 64×64×16, 4×4 register tile: 256 work-items = 8 warps; a warp
/// spans 2 rows of work-items, so the SIMD unit is 8 rows × 1 column of W.
struct nvidia
    : policy<device_traits<32, 1024, 48 * 1024, 1, lane_mapping::work_items>,
             tiling<64, 64, 16, 4, 4, 1, staging::local>> {
  static constexpr std::string_view name = "nvidia";
};

/// AMD GCN / CDNA GPUs. Wavefront = 64 work-items (AMD GCN Architecture whitepaper);
/// max work-group 256 (ROCm's default; larger needs a kernel attribute) and 64 KiB LDS
/// reported. 64×64×16, 4×4: 256 work-items = 4 wavefronts of 4 rows each, so the SIMD
/// unit is 16 rows × 1 column.
struct amd_gcn
    : policy<device_traits<64, 256, 64 * 1024, 1, lane_mapping::work_items>,
             tiling<64, 64, 16, 4, 4, 1, staging::local>> {
  static constexpr std::string_view name = "amd-gcn";
};

/// AMD RDNA GPUs. Native wave32 (AMD RDNA Architecture whitepaper; wave64 also exists,
/// the compiler picks wave32 for compute); max work-group 1024 and 64 KiB LDS reported
/// by ROCm. SIMD unit 8 rows × 1 column.
struct amd_rdna
    : policy<device_traits<32, 1024, 64 * 1024, 1, lane_mapping::work_items>,
             tiling<64, 64, 16, 4, 4, 1, staging::local>> {
  static constexpr std::string_view name = "amd-rdna";
};

/// Intel Gen9 / Gen11 integrated GPUs. Sub-groups of 8, 16 or 32 (cl_intel_subgroups);
/// the preset takes 8, the width Intel's GEMM samples require with
/// intel_reqd_sub_group_size(8). Max work-group 256 and 64 KiB SLM reported. 32×64×16,
/// 4×4: 128 work-items; a sub-group covers half a row of work-items, so the unit is 4×1.
struct intel_gen9
    : policy<device_traits<8, 256, 64 * 1024, 1, lane_mapping::work_items>,
             tiling<32, 64, 16, 4, 4, 1, staging::local>> {
  static constexpr std::string_view name = "intel-gen9";
};

/// Intel Xe (Xe-LP, Xe-HPG / Arc). Sub-groups of 8, 16 or 32; the preset takes 16, the
/// width the Xe compilers choose for compute by default. Max work-group 512 (Xe-LP
/// reports 512, Arc 1024: the smaller is taken) and 64 KiB SLM. SIMD unit 4×1.
struct intel_xe
    : policy<device_traits<16, 512, 64 * 1024, 1, lane_mapping::work_items>,
             tiling<64, 64, 16, 4, 4, 1, staging::local>> {
  static constexpr std::string_view name = "intel-xe";
};

/// Arm Mali Valhall (G57/G77/G78/G710 …). 16-wide warps (Arm, "Valhall architecture");
/// max work-group 512 taken (drivers report 512–1024 by part); 32 KiB local memory is
/// reported but it lives in the same caches as global memory (Arm Mali Bifrost and
/// Valhall OpenCL Developer Guide), so the preset uses direct staging with float4 loads.
/// 32×64×8, 4×4: 128 work-items; a warp covers one row of work-items, unit 4×1.
struct arm_mali_valhall
    : policy<device_traits<16, 512, 32 * 1024, 4, lane_mapping::work_items>,
             tiling<32, 64, 8, 4, 4, 1, staging::direct>> {
  static constexpr std::string_view name = "arm-mali-valhall";
};

/// Qualcomm Adreno 6xx/7xx. Waves of 64 fibers in full precision (128 in half precision;
/// Qualcomm Snapdragon OpenCL General Programming and Optimization guide); max work-group
/// 1024 and 32 KiB local memory reported. 64×64×8, 4×4: 256 work-items = 4 waves of 4
/// rows of work-items, unit 16×1.
struct qualcomm_adreno
    : policy<device_traits<64, 1024, 32 * 1024, 1, lane_mapping::work_items>,
             tiling<64, 64, 8, 4, 4, 1, staging::local>> {
  static constexpr std::string_view name = "qualcomm-adreno";
};

/// PoCL CPU device with AVX-512 (the CI device): 16 float lanes in one work-item's
/// float16; max work-group 4096 and 1 MiB local memory reported by clinfo (PoCL 3.1).
/// Direct staging (measured: local staging reaches 25–40% of OpenBLAS on PoCL, direct
/// matches it); 8×32 register tile = 8 rows × two float16; unit 8 rows × 4 columns (KV = 4
/// amortises the index of each kept unit over four FMAs per row).
struct pocl_avx512
    : policy<device_traits<16, 4096, 1024 * 1024, 16, lane_mapping::vector>,
             tiling<64, 32, 32, 8, 32, 4, staging::direct>> {
  static constexpr std::string_view name = "pocl-avx512";
};

/// PoCL CPU device with AVX2: 8 float lanes (float8), otherwise as pocl_avx512.
struct pocl_avx2
    : policy<device_traits<8, 4096, 1024 * 1024, 8, lane_mapping::vector>,
             tiling<64, 16, 32, 8, 16, 4, staging::direct>> {
  static constexpr std::string_view name = "pocl-avx2";
};

/// A compile-time list of presets, searchable by run-time name.
template <class... P>
struct preset_list {
  static constexpr std::size_t size = sizeof...(P);

  /// Calls f(P{}) for every preset, in order.
  template <class F>
  static void for_each(F&& f) { (f(P{}), ...); }

  /// Calls f(P{}) with the preset named `name`; throws gapp::invalid_argument listing the
  /// known names if there is none.
  template <class F>
  static decltype(auto) visit(std::string_view name, F&& f) {
    using R = decltype(f(std::declval<first_t<P...>>()));
    if constexpr (std::is_void_v<R>) {
      if (!((P::name == name ? (f(P{}), true) : false) || ...)) throw unknown(name);
    } else {
      std::optional<R> out;
      if (!((P::name == name ? (out.emplace(f(P{})), true) : false) || ...)) throw unknown(name);
      return R(std::move(*out));
    }
  }

  static bool contains(std::string_view name) { return ((P::name == name) || ...); }

  static std::string names() {
    std::string s;
    ((s += (s.empty() ? "" : ", "), s += P::name), ...);
    return s;
  }

private:
  template <class A, class...>
  struct first { using type = A; };
  template <class... A>
  using first_t = typename first<A...>::type;

  static invalid_argument unknown(std::string_view name) {
    return invalid_argument("unknown policy preset '" + std::string(name) + "' (known: " + names() + ")");
  }
};

/// Every preset gapp ships.
using all = preset_list<nvidia, amd_gcn, amd_rdna, intel_gen9, intel_xe, arm_mali_valhall,
                        qualcomm_adreno, pocl_avx512, pocl_avx2>;

} // namespace gapp::presets
