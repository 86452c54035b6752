// gapp/tune/profile.hpp — a device profile: what gapp-tune measured on one device (every
// candidate policy's median time per GEMM shape and technique) and the policy it found best,
// keyed by the device's name, vendor and driver version. Reading, writing, finding the
// profile of a device, and choosing a policy from it with a reported fallback. Host-only.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../io/json.hpp"
#include "../io/npy.hpp"
#include "../policy/can_implement.hpp"
#include "../version.hpp"
#include "candidates.hpp"

namespace gapp::tune {

/// One measured configuration: a GEMM shape, a technique at a sparsity, a policy.
struct measurement {
  std::size_t m = 0, k = 0, n = 0;
  std::string technique = "dense"; ///< gapp::to_string(technique): dense, simd, tile, simd-balanced …
  double sparsity = 0;
  std::string policy;               ///< preset or tuned candidate name
  std::vector<double> ms;           ///< every timed run, milliseconds
  double median_ms = 0;
  double achieved_sparsity = 0;
  /// The GEMM of a 3×3 convolution read as an implicit GEMM (X the CNHW input, no im2col), as
  /// networks run it by default; false: X is a K × N matrix.
  bool implicit = false;
};

/// The best policy per technique family over all measured shapes: the candidate with the
/// lowest geometric mean of time relative to the preset.
struct best_policy {
  std::string technique;
  std::string policy;
  double speedup_vs_preset = 1; ///< geomean of preset time / this policy's time over the shapes
};

struct profile {
  static constexpr int format_version = 1;
  std::string device, vendor, driver; ///< the key: CL_DEVICE_NAME, CL_DEVICE_VENDOR, CL_DRIVER_VERSION
  std::string preset;                 ///< the preset dispatch picks for the device (the baseline)
  std::string gapp_version = GAPP_VERSION_STRING;
  std::vector<measurement> measurements;
  std::vector<best_policy> best;

  /// Whether this profile was measured on the device (same name, vendor and driver).
  bool matches(const device_facts& d) const { return d.name == device && d.vendor == vendor && d.driver == driver; }

  /// The measured policy for a technique (its family: "dense", "simd", "tile" …; a balanced
  /// technique uses its unit's entry), nothing when the profile has none.
  std::optional<std::string> policy_for(const std::string& technique) const {
    const std::string family = technique.substr(0, technique.find('-'));
    for (const auto& b : best)
      if (b.technique == technique) return b.policy;
    for (const auto& b : best)
      if (b.technique == family) return b.policy;
    return std::nullopt;
  }

  /// The best policy on one measured shape for a technique (its family's entries when the
  /// technique itself was not measured there): the policy with the lowest geometric mean of
  /// its times over the sparsities measured on that shape, among the policies measured at
  /// all of them — or, given a sparsity in [0, 1), at the measured sparsity nearest to it;
  /// nothing when the shape was not measured.
  std::optional<std::string> policy_for(const std::string& technique, std::size_t m, std::size_t k, std::size_t n,
                                        double sparsity = -1) const {
    const std::string family = technique.substr(0, technique.find('-'));
    for (const std::string& t : {technique, family}) {
      double at = -1; // the measured sparsity nearest to `sparsity`
      if (sparsity >= 0)
        for (const auto& x : measurements)
          if (x.m == m && x.k == k && x.n == n && x.technique == t && (at < 0 || std::fabs(x.sparsity - sparsity) < std::fabs(at - sparsity)))
            at = x.sparsity;
      std::map<std::string, std::pair<double, std::vector<double>>> acc; // policy -> (log sum, sparsities)
      std::vector<double> all;                                           // the sparsities measured on the shape
      for (const auto& x : measurements) {
        if (x.m != m || x.k != k || x.n != n || x.technique != t || !(x.median_ms > 0)) continue;
        if (at >= 0 && x.sparsity != at) continue;
        auto& a = acc[x.policy];
        a.first += std::log(x.median_ms), a.second.push_back(x.sparsity);
        if (std::find(all.begin(), all.end(), x.sparsity) == all.end()) all.push_back(x.sparsity);
      }
      const std::string* best = nullptr;
      double best_mean = 0;
      for (const auto& [pol, a] : acc) {
        if (a.second.size() != all.size()) continue; // not measured at every sparsity of the shape
        const double mean = a.first / static_cast<double>(a.second.size());
        if (!best || mean < best_mean) best = &pol, best_mean = mean;
      }
      if (best) return *best;
    }
    return std::nullopt;
  }
};

/// Recomputes `best` from the measurements: per technique, the policy with the lowest
/// geomean of (its time / the preset's time) over the shapes where both were measured.
inline void summarise(profile& p) {
  std::map<std::string, std::map<std::string, std::pair<double, int>>> acc; // technique -> policy -> (log sum, n)
  std::map<std::string, double> preset_ms;                                  // "m,k,n,tech,s" -> ms
  auto key = [](const measurement& x) {
    std::ostringstream o;
    o << x.m << ',' << x.k << ',' << x.n << ',' << x.technique << ',' << x.sparsity << ',' << x.implicit;
    return o.str();
  };
  for (const auto& x : p.measurements)
    if (x.policy == p.preset) preset_ms[key(x)] = x.median_ms;
  for (const auto& x : p.measurements) {
    auto it = preset_ms.find(key(x));
    if (it == preset_ms.end() || !(x.median_ms > 0) || !(it->second > 0)) continue;
    auto& a = acc[x.technique][x.policy];
    a.first += std::log(it->second / x.median_ms), a.second += 1;
  }
  p.best.clear();
  for (const auto& [tech, pols] : acc) {
    int most = 0;
    for (const auto& [name, a] : pols) most = std::max(most, a.second);
    best_policy b{tech, p.preset, 1.0};
    for (const auto& [name, a] : pols) {
      if (a.second != most) continue; // only policies measured on every shape compete
      const double g = std::exp(a.first / a.second);
      if (g > b.speedup_vs_preset) b.policy = name, b.speedup_vs_preset = g;
    }
    p.best.push_back(b);
  }
}

inline std::string to_json(const profile& p) {
  using json::number;
  using json::quote;
  std::string o = "{\n \"format\": \"gapp-device-profile\",\n \"version\": " + std::to_string(profile::format_version) +
                  ",\n \"device\": " + quote(p.device) + ",\n \"vendor\": " + quote(p.vendor) +
                  ",\n \"driver\": " + quote(p.driver) + ",\n \"preset\": " + quote(p.preset) +
                  ",\n \"gapp_version\": " + quote(p.gapp_version) + ",\n \"best\": [";
  for (std::size_t i = 0; i < p.best.size(); ++i)
    o += std::string(i ? "," : "") + "\n  {\"technique\": " + quote(p.best[i].technique) + ", \"policy\": " +
         quote(p.best[i].policy) + ", \"speedup_vs_preset\": " + number(p.best[i].speedup_vs_preset) + "}";
  o += "\n ],\n \"measurements\": [";
  for (std::size_t i = 0; i < p.measurements.size(); ++i) {
    const auto& x = p.measurements[i];
    o += std::string(i ? "," : "") + "\n  {\"m\": " + std::to_string(x.m) + ", \"k\": " + std::to_string(x.k) +
         ", \"n\": " + std::to_string(x.n) + ", \"technique\": " + quote(x.technique) + ", \"sparsity\": " +
         number(x.sparsity) + ", \"achieved_sparsity\": " + number(x.achieved_sparsity) +
         (x.implicit ? ", \"implicit\": true" : "") + ", \"policy\": " +
         quote(x.policy) + ", \"median_ms\": " + number(x.median_ms) + ", \"ms\": [";
    for (std::size_t j = 0; j < x.ms.size(); ++j) o += (j ? ", " : "") + number(x.ms[j]);
    o += "]}";
  }
  return o + "\n ]\n}\n";
}

/// Parses a profile; gapp::file_error naming `origin` and the field for anything malformed
/// (wrong format or version, a missing field, a negative time, an unknown policy name).
inline profile parse_profile(std::string_view text, const std::string& origin) {
  const auto doc = json::parse(text, origin);
  const json::value& d = *doc;
  if (!d.is(json::value::kind::object)) d.fail("is not a JSON object");
  if (d.at("format").str() != "gapp-device-profile") d.at("format").fail("is not \"gapp-device-profile\"");
  if (d.at("version").integer(1, 1000) != profile::format_version)
    d.at("version").fail("is " + std::to_string(d.at("version").integer(1, 1000)) + "; this gapp reads version " +
                         std::to_string(profile::format_version));
  profile p;
  p.device = d.at("device").str(), p.vendor = d.at("vendor").str(), p.driver = d.at("driver").str();
  p.preset = d.at("preset").str();
  p.gapp_version = d.at("gapp_version").str();
  if (!presets::all::contains(p.preset)) d.at("preset").fail("names no preset (known: " + presets::all::names() + ")");
  auto known = [&](const json::value& v) {
    const std::string& name = v.str();
    try {
      visit_policy(name, [](auto) {});
    } catch (const invalid_argument& e) {
      v.fail(std::string("names no policy: ") + e.what());
    }
    return name;
  };
  for (const auto& b : d.at("best").items())
    p.best.push_back({b->at("technique").str(), known(b->at("policy")), b->at("speedup_vs_preset").num(0, 1e6)});
  for (const auto& e : d.at("measurements").items()) {
    measurement x;
    x.m = static_cast<std::size_t>(e->at("m").integer(1, 1ll << 31));
    x.k = static_cast<std::size_t>(e->at("k").integer(1, 1ll << 31));
    x.n = static_cast<std::size_t>(e->at("n").integer(1, 1ll << 31));
    x.technique = e->at("technique").str();
    x.sparsity = e->at("sparsity").num(0, 0.999999);
    x.achieved_sparsity = e->at("achieved_sparsity").num(0, 1);
    if (const json::value* imp = e->find("implicit")) x.implicit = imp->boolean(); // absent: a matrix GEMM
    x.policy = known(e->at("policy"));
    x.median_ms = e->at("median_ms").num(0, 1e9);
    for (const auto& t : e->at("ms").items()) x.ms.push_back(t->num(0, 1e9));
    if (x.ms.empty()) e->at("ms").fail("holds no time");
    p.measurements.push_back(std::move(x));
  }
  return p;
}

/// Reads and parses a profile file (a regular file; gapp::file_error naming it otherwise).
inline profile load_profile(const std::string& path) {
  const std::vector<unsigned char> bytes = npy::detail::read_file(path);
  return parse_profile(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

/// The file name of a device's profile: vendor, device and driver, with every character
/// other than letters, digits, '.', '-' and '_' replaced by '_'.
inline std::string profile_file_name(const device_facts& d) {
  std::string s = d.vendor + "-" + d.name + "-" + d.driver;
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) c = '_';
  return s + ".json";
}

/// Where profiles live, in the order they are searched: $GAPP_PROFILE_DIR, then
/// $XDG_CONFIG_HOME/gapp/profiles, then $HOME/.config/gapp/profiles.
inline std::vector<std::string> profile_dirs() {
  std::vector<std::string> out;
  if (const char* d = std::getenv("GAPP_PROFILE_DIR"); d && *d) out.emplace_back(d);
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) out.push_back(std::string(x) + "/gapp/profiles");
  else if (const char* h = std::getenv("HOME"); h && *h) out.push_back(std::string(h) + "/.config/gapp/profiles");
  return out;
}

/// The profile file for a device: $GAPP_PROFILE when set (a file), else the first of
/// profile_dirs() holding profile_file_name(d); nothing when there is none.
inline std::optional<std::string> find_profile(const device_facts& d) {
  if (const char* f = std::getenv("GAPP_PROFILE"); f && *f) return std::string(f);
  for (const auto& dir : profile_dirs()) {
    const std::string p = dir + "/" + profile_file_name(d);
    if (std::ifstream(p).good()) return p;
  }
  return std::nullopt;
}

/// What a tuned dispatch chose: the policy, whether it came from the profile, and why.
struct tuned_choice {
  std::string policy;          ///< the policy name (a tuned candidate or the preset)
  bool tuned = false;          ///< true: taken from the profile
  std::string preset;          ///< the preset dispatch picks for the device
  std::string reason;          ///< where the policy came from, or why the profile was not used
};

/// The policy for a technique on a device: the profile's best when the profile was measured
/// on this device (name, vendor, driver) and names a candidate of the device's preset;
/// otherwise the preset, with the reason.
inline tuned_choice choose_tuned(const profile* p, const device_facts& d, const std::string& preset,
                                 const std::string& technique = "dense") {
  tuned_choice c{preset, false, preset, ""};
  if (!p) {
    c.reason = "no profile: the preset";
    return c;
  }
  if (!p->matches(d)) {
    c.reason = "the profile was measured on '" + p->device + "' (" + p->vendor + ", driver " + p->driver +
               "), not on this device '" + d.name + "' (" + d.vendor + ", driver " + d.driver + "): the preset";
    return c;
  }
  if (p->preset != preset) {
    c.reason = "the profile's candidates extend preset '" + p->preset + "', dispatch picks '" + preset + "': the preset";
    return c;
  }
  const auto best = p->policy_for(technique);
  if (!best) {
    c.reason = "the profile measured no '" + technique + "' policy: the preset";
    return c;
  }
  if (*best != preset && best->rfind(preset + "@", 0) != 0) {
    c.reason = "the profile's best '" + technique + "' policy '" + *best + "' is not a candidate of '" + preset +
               "': the preset";
    return c;
  }
  c.policy = *best, c.tuned = true;
  c.reason = "the profile's best '" + technique + "' policy";
  return c;
}

/// A GEMM shape as profiles key it: M × K × N (for a convolution N = batch × output pixels),
/// and, where known, the sparsity the GEMM runs at (the profile's nearest measured one is
/// used; negative: over all the sparsities measured on the shape).
struct shape_mkn {
  std::size_t m = 0, k = 0, n = 0;
  double sparsity = -1;
};

/// As choose_tuned, for one GEMM shape (M × K × N): the profile's best policy on that shape
/// when the profile measured it (profile::policy_for with the shape), which on a CPU device
/// can differ from layer to layer — at high sparsity a wide work-group pays on large images
/// and not on small ones — else the technique's best over all shapes, as choose_tuned.
inline tuned_choice choose_tuned(const profile* p, const device_facts& d, const std::string& preset,
                                 const std::string& technique, const shape_mkn& s) {
  tuned_choice c = choose_tuned(p, d, preset, technique);
  if (!p || !p->matches(d) || p->preset != preset) return c; // no profile, or not this device's: the preset
  const auto best = p->policy_for(technique, s.m, s.k, s.n, s.sparsity);
  const std::string shape = std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n);
  if (!best) {
    if (c.tuned) c.reason += " (shape " + shape + " not measured)";
    return c;
  }
  if (*best != preset && best->rfind(preset + "@", 0) != 0) return c; // not a candidate of this preset
  c.policy = *best, c.tuned = true;
  c.reason = "the profile's best '" + technique + "' policy on shape " + shape;
  return c;
}

} // namespace gapp::tune
