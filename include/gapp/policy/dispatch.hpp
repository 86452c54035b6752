// gapp/policy/dispatch.hpp — which preset fits a device: one match rule per preset, tried in
// the list's order, and an explicit, reported fallback when none matches or the matching
// ones cannot run there. Host-only (the runtime fills device_facts from a device query).
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "can_implement.hpp"
#include "presets.hpp"

namespace gapp {

namespace detail {
inline bool contains_nocase(const std::string& s, std::string_view what) {
  std::string a = s;
  std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return a.find(what) != std::string::npos;
}
} // namespace detail

/// The device a policy is meant for, as a predicate on device_facts. Specialise it for your
/// own policies to let dispatch pick them; a policy without a rule matches no device.
template <class P>
struct match_rule {
  static constexpr bool defined = false;
  static bool matches(const device_facts&) { return false; }
  static constexpr const char* rule = "no rule";
};

#define GAPP_MATCH_RULE(PRESET, TEXT, ...)                                                 \
  template <>                                                                              \
  struct match_rule<presets::PRESET> {                                                     \
    static constexpr bool defined = true;                                                  \
    static bool matches(const device_facts& d) { return __VA_ARGS__; }                     \
    static constexpr const char* rule = TEXT;                                              \
  };

GAPP_MATCH_RULE(pocl_avx512, "a CPU device whose name reports AVX-512", d.cpu && detail::contains_nocase(d.name, "avx512"))
GAPP_MATCH_RULE(pocl_avx2, "any other CPU device", d.cpu)
GAPP_MATCH_RULE(nvidia, "vendor NVIDIA", !d.cpu && detail::contains_nocase(d.vendor, "nvidia"))
GAPP_MATCH_RULE(amd_rdna, "vendor AMD with wavefront 32",
                !d.cpu && (detail::contains_nocase(d.vendor, "advanced micro devices") ||
                           detail::contains_nocase(d.vendor, "amd")) && d.simd_width == 32)
GAPP_MATCH_RULE(amd_gcn, "vendor AMD (wavefront 64)",
                !d.cpu && (detail::contains_nocase(d.vendor, "advanced micro devices") ||
                           detail::contains_nocase(d.vendor, "amd")))
GAPP_MATCH_RULE(intel_gen9, "vendor Intel with sub-groups of 8 only or work-groups of at most 256",
                !d.cpu && detail::contains_nocase(d.vendor, "intel") &&
                    ((!d.sub_group_sizes.empty() && d.sub_group_sizes.front() == 8 &&
                      std::find(d.sub_group_sizes.begin(), d.sub_group_sizes.end(), 16) == d.sub_group_sizes.end()) ||
                     (d.max_work_group != 0 && d.max_work_group <= 256)))
GAPP_MATCH_RULE(intel_xe, "vendor Intel", !d.cpu && detail::contains_nocase(d.vendor, "intel"))
GAPP_MATCH_RULE(arm_mali_valhall, "vendor Arm", !d.cpu && detail::contains_nocase(d.vendor, "arm"))
GAPP_MATCH_RULE(qualcomm_adreno, "vendor Qualcomm", !d.cpu && detail::contains_nocase(d.vendor, "qualcomm"))
#undef GAPP_MATCH_RULE

/// What dispatch chose and why.
struct policy_choice {
  std::string name;     ///< the chosen preset
  bool fallback = false; ///< true: no preset's rule matched a preset that can run here
  std::string reason;   ///< the rule that matched, or why it fell back
};

/// The order dispatch tries presets in: the most specific rules first.
using dispatch_order = presets::preset_list<presets::pocl_avx512, presets::pocl_avx2, presets::nvidia, presets::amd_rdna,
                                            presets::amd_gcn, presets::intel_gen9, presets::intel_xe,
                                            presets::arm_mali_valhall, presets::qualcomm_adreno>;

/// The first preset of `List` whose match rule accepts the device and that can run there
/// (can_implement). If none does, the first preset of `Fallback` that can run there,
/// reported as a fallback with the reason; gapp::policy_error if no preset can run at all.
template <class List = dispatch_order, class Fallback = presets::preset_list<presets::nvidia, presets::pocl_avx2>>
policy_choice choose_policy(const device_facts& d, const gemm_problem& problem = {}) {
  policy_choice c;
  std::string refused;
  List::for_each([&](auto p) {
    using P = decltype(p);
    if (!c.name.empty() || !match_rule<P>::matches(d)) return;
    const verdict v = can_implement<P>(problem, d);
    if (v) c.name = std::string(P::name), c.reason = std::string("matched: ") + match_rule<P>::rule;
    else refused += (refused.empty() ? "" : "; ") + std::string(P::name) + " matched but cannot run: " + v.reason;
  });
  if (!c.name.empty()) return c;
  const std::string why = refused.empty() ? "no preset's rule matches the device '" + d.name + "' of vendor '" +
                                                d.vendor + "'"
                                          : refused;
  std::string none;
  Fallback::for_each([&](auto p) {
    using P = decltype(p);
    if (!c.name.empty()) return;
    const verdict v = can_implement<P>(problem, d);
    if (v) c.name = std::string(P::name), c.fallback = true, c.reason = why + "; fell back to " + std::string(P::name);
    else none += (none.empty() ? "" : "; ") + std::string(P::name) + ": " + v.reason;
  });
  if (c.name.empty()) throw policy_error(why + "; and no fallback preset can run there (" + none + ")");
  return c;
}

} // namespace gapp
