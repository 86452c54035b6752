// gapp/tune/advise.hpp — the advisor: per layer, the unit and sparsity that meet a target (a
// latency budget, a speedup over dense, an overall sparsity, a kept-L2 floor) while keeping
// the most weight magnitude, or losing the least accuracy where a per-layer sensitivity
// table gives it, from the times a device profile measured. Its answer is a plan (JSON):
// one policy, and per layer a technique and a sparsity, which gapp-prune turns into masks
// and gapp-vgg16 runs. Host-only.
//
// The search is exact over the measured choices: the Pareto front of (predicted time,
// objective) over all layers is built by merging the layers one at a time and dropping
// dominated points, so every target is answered by one point of the front.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../io/json.hpp"
#include "../io/npy.hpp"
#include "../prune/mask.hpp"
#include "../prune/prune.hpp"
#include "../prune/technique.hpp"
#include "profile.hpp"

namespace gapp::tune {

/// One way to run a layer: dense, or a technique at a sparsity, with its predicted time and
/// what it keeps.
struct layer_option {
  std::string technique = "dense"; ///< gapp::to_string(technique)
  double sparsity = 0;             ///< the target sparsity (0 for dense)
  double ms = 0;                   ///< predicted GEMM time (the profile's median)
  double kept_l2 = 0;              ///< Σ w² over the kept weights (absolute)
  std::size_t kept = 0;            ///< kept weights
  double loss = 0;                 ///< accuracy drop in points (sensitivity objective only)
};

/// A layer and its choices. Options[0] is dense. A layer the profile did not measure is not
/// `modelled`: it runs dense and its time is not predicted from the profile.
struct layer_choices {
  std::string name, display;
  std::size_t m = 0, k = 0, n = 0;
  std::size_t weights = 0;
  double l2 = 0; ///< Σ w² over all the layer's weights
  bool modelled = false;
  std::vector<layer_option> options;
};

enum class target_kind { latency_ms, speedup, sparsity, kept_l2 };
enum class objective { kept_l2, sensitivity };

inline const char* to_string(target_kind k) {
  switch (k) {
  case target_kind::latency_ms: return "latency_ms";
  case target_kind::speedup: return "speedup";
  case target_kind::sparsity: return "sparsity";
  case target_kind::kept_l2: return "kept_l2";
  }
  return "?";
}
inline const char* to_string(objective o) { return o == objective::kept_l2 ? "kept_l2" : "sensitivity"; }

struct target {
  target_kind kind = target_kind::speedup;
  double value = 1; ///< ms per batch, × over dense, a sparsity in [0, 1), or a kept-L2 fraction in (0, 1]
};

/// One point of a front: its cost, its value and the option index per layer.
struct front_point {
  double cost = 0, value = 0;
  std::vector<std::uint16_t> choice;
};

/// The Pareto front of (Σ cost, Σ value) over the layers' options: ascending cost, strictly
/// ascending value (a point is dropped when another costs no more and is worth at least as
/// much). `cost(layer, option)` and `value(layer, option)`; an option whose cost is NaN is
/// not allowed. Exact; `cap` bounds the front's size (thinned evenly, both ends kept).
template <class Cost, class Value>
std::vector<front_point> pareto_front(const std::vector<layer_choices>& layers, Cost cost, Value value,
                                      std::size_t cap = 50000) {
  std::vector<front_point> front{front_point{0, 0, {}}};
  for (std::size_t li = 0; li < layers.size(); ++li) {
    std::vector<front_point> next;
    for (std::size_t oi = 0; oi < layers[li].options.size(); ++oi) {
      const double c = cost(li, oi), v = value(li, oi);
      if (std::isnan(c) || std::isnan(v)) continue;
      for (const auto& p : front) {
        front_point q{p.cost + c, p.value + v, p.choice};
        q.choice.push_back(static_cast<std::uint16_t>(oi));
        next.push_back(std::move(q));
      }
    }
    if (next.empty()) throw invalid_argument("advise: layer " + layers[li].name + " has no allowed option");
    std::sort(next.begin(), next.end(), [](const front_point& a, const front_point& b) {
      return a.cost != b.cost ? a.cost < b.cost : a.value > b.value;
    });
    front.clear();
    for (auto& p : next)
      if (front.empty() || p.value > front.back().value) front.push_back(std::move(p));
    if (front.size() > cap) {
      std::vector<front_point> thin;
      const double step = static_cast<double>(front.size() - 1) / static_cast<double>(cap - 1);
      for (std::size_t i = 0; i < cap; ++i)
        thin.push_back(std::move(front[static_cast<std::size_t>(std::llround(static_cast<double>(i) * step))]));
      front = std::move(thin);
    }
  }
  return front;
}

/// A layer of a plan: what it runs and what that is predicted to cost and keep.
struct plan_layer {
  std::string name, display;
  std::string technique = "dense";
  double sparsity = 0;
  std::size_t m = 0, k = 0, n = 0;
  bool modelled = false;
  double predicted_ms = 0;     ///< the profile's time (modelled layers), else 0
  double achieved_sparsity = 0;
  double kept_l2_fraction = 1; ///< ‖kept‖₂ / ‖w‖₂ of this layer
  double loss = 0;             ///< from the sensitivity table, when one was given
};

/// One technique at one sparsity on every modelled layer: the advisor's point of comparison.
struct uniform_point {
  std::string technique;
  double sparsity = 0;
  double predicted_gemm_ms = 0;
  double kept_l2_fraction = 1;
  double sparsity_overall = 0;
};

struct plan {
  static constexpr int format_version = 1;
  std::string policy;                    ///< every layer runs with this policy
  std::string device, vendor, driver;    ///< the profile's device
  std::string profile, weights;          ///< the files it was made from (informative)
  std::size_t batch = 1;
  target goal;
  objective by = objective::kept_l2;
  std::vector<plan_layer> layers;        ///< every weight layer of the network, in order
  double dense_gemm_ms = 0;              ///< the modelled layers dense
  double predicted_gemm_ms = 0;          ///< the modelled layers as planned
  double other_ms = -1;                  ///< the rest of a forward pass (from a dense run), -1 unknown
  double predicted_ms = -1;              ///< predicted_gemm_ms + other_ms, -1 unknown
  double dense_ms = -1;                  ///< the dense network: dense_gemm_ms + other_ms, -1 unknown
  double kept_l2_fraction = 1;           ///< over all layers
  double sparsity = 0;                   ///< over all layers
  double loss = 0;                       ///< Σ of the layers' losses (sensitivity objective)
  std::vector<uniform_point> uniform;
  std::vector<std::pair<double, double>> front; ///< (predicted GEMM ms, kept-L2 fraction) of the front
};

/// The kept-L2 fraction over all layers of the options chosen (unmodelled layers whole).
inline double kept_l2_of(const std::vector<layer_choices>& layers, const std::vector<std::uint16_t>& choice) {
  double kept = 0, all = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    all += layers[i].l2;
    kept += layers[i].options[choice[i]].kept_l2;
  }
  return all > 0 ? std::sqrt(kept / all) : 1.0;
}

namespace detail {
inline std::vector<std::uint16_t> all_dense(std::size_t n) { return std::vector<std::uint16_t>(n, 0); }

inline void fill_plan(plan& p, const std::vector<layer_choices>& layers, const std::vector<std::uint16_t>& choice) {
  p.layers.clear();
  double gemm = 0, dense = 0, loss = 0;
  std::size_t kept = 0, total = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const auto& o = l.options[choice[i]];
    plan_layer pl;
    pl.name = l.name, pl.display = l.display, pl.technique = o.technique, pl.sparsity = o.sparsity;
    pl.m = l.m, pl.k = l.k, pl.n = l.n, pl.modelled = l.modelled;
    pl.predicted_ms = l.modelled ? o.ms : 0;
    pl.achieved_sparsity = l.weights ? 1.0 - static_cast<double>(o.kept) / static_cast<double>(l.weights) : 0;
    pl.kept_l2_fraction = l.l2 > 0 ? std::sqrt(o.kept_l2 / l.l2) : 1.0;
    pl.loss = o.loss;
    p.layers.push_back(pl);
    if (l.modelled) gemm += o.ms, dense += l.options[0].ms;
    loss += o.loss;
    kept += o.kept, total += l.weights;
  }
  p.predicted_gemm_ms = gemm, p.dense_gemm_ms = dense, p.loss = loss;
  p.kept_l2_fraction = kept_l2_of(layers, choice);
  p.sparsity = total ? 1.0 - static_cast<double>(kept) / static_cast<double>(total) : 0;
  if (p.other_ms >= 0) p.predicted_ms = gemm + p.other_ms, p.dense_ms = dense + p.other_ms;
}
} // namespace detail

/// Every uniform choice: each sparse (technique, sparsity) the modelled layers were all measured at.
inline std::vector<uniform_point> uniform_points(const std::vector<layer_choices>& layers) {
  std::map<std::pair<std::string, double>, int> count;
  std::size_t modelled = 0;
  for (const auto& l : layers) {
    if (!l.modelled) continue;
    ++modelled;
    for (const auto& o : l.options)
      if (o.technique != "dense") ++count[{o.technique, o.sparsity}];
  }
  std::vector<uniform_point> out;
  for (const auto& [key, c] : count) {
    if (static_cast<std::size_t>(c) != modelled) continue;
    std::vector<std::uint16_t> choice(layers.size(), 0);
    for (std::size_t i = 0; i < layers.size(); ++i)
      if (layers[i].modelled)
        for (std::size_t o = 0; o < layers[i].options.size(); ++o)
          if (layers[i].options[o].technique == key.first && layers[i].options[o].sparsity == key.second)
            choice[i] = static_cast<std::uint16_t>(o);
    plan p;
    detail::fill_plan(p, layers, choice);
    out.push_back({key.first, key.second, p.predicted_gemm_ms, p.kept_l2_fraction, p.sparsity});
  }
  return out;
}

/// The advisor: the plan that meets `goal` with the best objective over the layers' options.
/// `other_ms` is the time of the rest of a forward pass (im2col, pooling, unmodelled layers;
/// from a dense run), or −1 when unknown; a latency or speedup target then applies to the
/// modelled GEMMs alone. gapp::invalid_argument when no plan meets the target (the message
/// gives the closest the choices come).
inline plan advise(const std::vector<layer_choices>& layers, const target& goal, objective by, double other_ms = -1) {
  if (layers.empty()) throw invalid_argument("advise: no layer");
  std::size_t modelled = 0;
  double all_l2 = 0;
  std::size_t total = 0, unmodelled_weights = 0;
  for (const auto& l : layers) {
    if (l.options.empty() || l.options[0].technique != "dense")
      throw invalid_argument("advise: layer " + l.name + ": the first option must be dense");
    modelled += l.modelled;
    all_l2 += l.l2, total += l.weights;
    if (!l.modelled) unmodelled_weights += l.weights;
  }
  if (modelled == 0) throw invalid_argument("advise: the profile measured none of the network's layers");
  auto value = [&](std::size_t li, std::size_t oi) {
    const auto& o = layers[li].options[oi];
    if (!layers[li].modelled && oi != 0) return std::numeric_limits<double>::quiet_NaN();
    return by == objective::kept_l2 ? o.kept_l2 : -o.loss;
  };
  auto time = [&](std::size_t li, std::size_t oi) {
    if (!layers[li].modelled) return oi == 0 ? 0.0 : std::numeric_limits<double>::quiet_NaN();
    return layers[li].options[oi].ms;
  };
  plan p;
  p.goal = goal, p.by = by, p.other_ms = other_ms;
  const std::vector<front_point> tf = pareto_front(layers, time, value);
  double dense_gemm = 0;
  for (const auto& l : layers)
    if (l.modelled) dense_gemm += l.options[0].ms;
  const double other = other_ms >= 0 ? other_ms : 0;
  const std::string unit = other_ms >= 0 ? " ms per forward pass" : " ms of modelled GEMMs";

  std::optional<std::vector<std::uint16_t>> pick;
  std::string closest;
  switch (goal.kind) {
  case target_kind::latency_ms:
  case target_kind::speedup: {
    double budget = goal.kind == target_kind::latency_ms ? goal.value - other : (dense_gemm + other) / goal.value - other;
    if (!(goal.value > 0)) throw invalid_argument("advise: the latency or speedup target must be positive");
    for (const auto& pt : tf)
      if (pt.cost <= budget * (1 + 1e-12)) pick = pt.choice; // the front's value ascends with cost
    closest = "the fastest plan takes " + json::number(tf.front().cost + other) + unit + " (dense " +
              json::number(dense_gemm + other) + ")";
    break;
  }
  case target_kind::kept_l2: {
    if (by != objective::kept_l2) throw invalid_argument("advise: a kept-L2 target goes with the kept-L2 objective");
    if (!(goal.value > 0 && goal.value <= 1)) throw invalid_argument("advise: the kept-L2 target must lie in (0, 1]");
    const double need = goal.value * goal.value * all_l2;
    for (const auto& pt : tf)
      if (pt.value >= need * (1 - 1e-12)) {
        pick = pt.choice;
        break;
      }
    closest = "dense keeps 1";
    break;
  }
  case target_kind::sparsity: {
    if (!(goal.value >= 0 && goal.value < 1)) throw invalid_argument("advise: the sparsity target must lie in [0, 1)");
    auto kept = [&](std::size_t li, std::size_t oi) {
      if (!layers[li].modelled && oi != 0) return std::numeric_limits<double>::quiet_NaN();
      return static_cast<double>(layers[li].options[oi].kept);
    };
    const std::vector<front_point> kf = pareto_front(layers, kept, value);
    const double allowed = (1.0 - goal.value) * static_cast<double>(total);
    for (const auto& pt : kf)
      if (pt.cost <= allowed + 0.5) pick = pt.choice;
    closest = "the sparsest plan removes " +
              json::number(1.0 - kf.front().cost / static_cast<double>(total)) + " of the weights (" +
              std::to_string(unmodelled_weights) + " weights are in layers the profile did not measure)";
    break;
  }
  }
  if (!pick)
    throw invalid_argument(std::string("advise: no plan meets the ") + to_string(goal.kind) + " target " +
                           json::number(goal.value) + ": " + closest);
  detail::fill_plan(p, layers, *pick);
  p.uniform = uniform_points(layers);
  for (const auto& pt : tf)
    p.front.emplace_back(pt.cost, by == objective::kept_l2 ? std::sqrt(std::max(0.0, pt.value) / all_l2) : kept_l2_of(layers, pt.choice));
  return p;
}

/// A layer's choices under `policy`: dense and every (technique, sparsity) the profile
/// measured for that policy on the layer's GEMM shape (m × k weights `w`, n columns), each
/// with its median time and what pruning `w` with it keeps (the policy's units, L1
/// criterion). `techniques` (names; empty: all) restricts the sparse choices; `kernel_area`
/// is kh·kw; `implicit_conv`: the layer is a convolution the network runs as an implicit
/// GEMM where the policy's family can (only measurements made that way count). Without a
/// dense measurement of the shape the layer is not modelled: dense only.
inline layer_choices choices_for(const profile& prof, const std::string& policy, const std::string& name,
                                 const std::string& display, matrix_view w, std::size_t n, int kernel_area = 1,
                                 const std::vector<std::string>& techniques = {}, bool implicit_conv = false) {
  layer_choices lc;
  lc.name = name, lc.display = display, lc.m = w.rows, lc.k = w.cols, lc.n = n, lc.weights = w.size();
  for (std::size_t i = 0; i < w.size(); ++i) lc.l2 += static_cast<double>(w.data[i]) * w.data[i];
  lc.options.push_back({"dense", 0, 0, lc.l2, lc.weights, 0});
  const policy_info info = visit_policy(policy, [](auto p) { return decltype(p)::info(decltype(p)::name); });
  // the layer as the network runs it: an implicit GEMM where the policy's family reads the
  // convolution's input itself, else a GEMM over the im2col matrix
  const bool implicit = implicit_conv && info.mode == staging::direct;
  std::map<std::pair<std::string, double>, double> ms;
  for (const auto& x : prof.measurements)
    if (x.m == w.rows && x.k == w.cols && x.n == n && x.policy == policy && x.implicit == implicit)
      ms[{x.technique, x.sparsity}] = x.median_ms;
  const auto dense = ms.find({"dense", 0.0});
  if (dense == ms.end()) return lc;
  lc.modelled = true;
  lc.options[0].ms = dense->second;
  const policy_units pu{info.simd_unit, info.tile_unit};
  for (const auto& [key, t] : ms) {
    if (key.first == "dense") continue;
    if (!techniques.empty() && std::find(techniques.begin(), techniques.end(), key.first) == techniques.end()) continue;
    const technique tech = parse_technique(key.first);
    const double sparsity = key.second; // a lambda may not capture a structured binding in C++17
    prune_options po;
    po.balanced = tech.balanced;
    const std::vector<std::uint8_t> keep = std::visit(
        [&](auto unit) {
          if constexpr (std::is_same_v<decltype(unit), units::channel>) unit.kernel_area = kernel_area;
          return select_keep(w, unit, sparsity, po, pu);
        },
        *tech.unit);
    const std::size_t kept = static_cast<std::size_t>(std::count(keep.begin(), keep.end(), std::uint8_t{1}));
    const double f = kept_l2_fraction(w, keep);
    lc.options.push_back({key.first, key.second, t, f * f * lc.l2, kept, 0});
  }
  return lc;
}

/// Scales every time of each modelled layer by what its dense GEMM took inside a whole
/// forward pass over the profile's dense time of its shape. `in_network_ms` maps a layer's
/// display name to that time (gapp-vgg16 --layer-times of the dense network: its
/// "<display> gemm"). gapp-tune times each GEMM alone over rotating copies, cold in cache;
/// inside the network a layer reads what the layer before it just wrote. Layers not modelled
/// or not in the map keep their times. Returns each layer's factor (1 where kept).
inline std::vector<double> calibrate(std::vector<layer_choices>& layers, const std::map<std::string, double>& in_network_ms) {
  std::vector<double> f(layers.size(), 1.0);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    layer_choices& l = layers[i];
    const auto it = in_network_ms.find(l.display);
    if (!l.modelled || it == in_network_ms.end() || !(l.options[0].ms > 0) || !(it->second > 0)) continue;
    f[i] = it->second / l.options[0].ms;
    for (layer_option& o : l.options) o.ms *= f[i];
  }
  return f;
}

/// The plan that runs one technique at one sparsity on every modelled layer (the rest
/// dense): the uniform choice, as a plan gapp-prune and gapp-vgg16 consume, for comparison.
/// gapp::invalid_argument when a modelled layer was not measured with it.
inline plan uniform_plan(const std::vector<layer_choices>& layers, const std::string& technique, double sparsity,
                         double other_ms = -1) {
  std::vector<std::uint16_t> choice(layers.size(), 0);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (!layers[i].modelled) continue;
    bool found = false;
    for (std::size_t o = 0; o < layers[i].options.size(); ++o)
      if (layers[i].options[o].technique == technique && std::fabs(layers[i].options[o].sparsity - sparsity) < 1e-9)
        choice[i] = static_cast<std::uint16_t>(o), found = true;
    if (!found)
      throw invalid_argument("advise: layer " + layers[i].name + " was not measured with " + technique + " at " +
                             json::number(sparsity));
  }
  plan p;
  p.goal = {target_kind::kept_l2, 0}, p.other_ms = other_ms;
  detail::fill_plan(p, layers, choice);
  p.goal.value = p.kept_l2_fraction;
  p.uniform = uniform_points(layers);
  return p;
}

// ------------------------------------------------------------------ the plan file
inline std::string to_json(const plan& p) {
  using json::number;
  using json::quote;
  auto maybe = [](double v) { return v < 0 ? std::string("null") : number(v); }; // -1: unknown
  std::string o = "{\n \"format\": \"gapp-plan\",\n \"version\": " + std::to_string(plan::format_version) +
                  ",\n \"policy\": " + quote(p.policy) + ",\n \"device\": " + quote(p.device) +
                  ",\n \"vendor\": " + quote(p.vendor) + ",\n \"driver\": " + quote(p.driver) +
                  ",\n \"profile\": " + quote(p.profile) + ",\n \"weights\": " + quote(p.weights) +
                  ",\n \"batch\": " + std::to_string(p.batch) + ",\n \"target\": {\"kind\": " +
                  quote(to_string(p.goal.kind)) + ", \"value\": " + number(p.goal.value) +
                  "},\n \"objective\": " + quote(to_string(p.by)) + ",\n \"dense_gemm_ms\": " +
                  number(p.dense_gemm_ms) + ",\n \"predicted_gemm_ms\": " + number(p.predicted_gemm_ms) +
                  ",\n \"other_ms\": " + maybe(p.other_ms) + ",\n \"predicted_ms\": " + maybe(p.predicted_ms) +
                  ",\n \"dense_ms\": " + maybe(p.dense_ms) + ",\n \"kept_l2_fraction\": " +
                  number(p.kept_l2_fraction) + ",\n \"sparsity\": " + number(p.sparsity) + ",\n \"loss\": " +
                  number(p.loss) + ",\n \"layers\": [";
  for (std::size_t i = 0; i < p.layers.size(); ++i) {
    const auto& l = p.layers[i];
    o += std::string(i ? "," : "") + "\n  {\"name\": " + quote(l.name) + ", \"display\": " + quote(l.display) +
         ", \"technique\": " + quote(l.technique) + ", \"sparsity\": " + number(l.sparsity) +
         ", \"m\": " + std::to_string(l.m) + ", \"k\": " + std::to_string(l.k) + ", \"n\": " + std::to_string(l.n) +
         ", \"modelled\": " + (l.modelled ? "true" : "false") + ", \"predicted_ms\": " + number(l.predicted_ms) +
         ", \"achieved_sparsity\": " + number(l.achieved_sparsity) + ", \"kept_l2_fraction\": " +
         number(l.kept_l2_fraction) + ", \"loss\": " + number(l.loss) + "}";
  }
  o += "\n ],\n \"uniform\": [";
  for (std::size_t i = 0; i < p.uniform.size(); ++i) {
    const auto& u = p.uniform[i];
    o += std::string(i ? "," : "") + "\n  {\"technique\": " + quote(u.technique) + ", \"sparsity\": " +
         number(u.sparsity) + ", \"predicted_gemm_ms\": " + number(u.predicted_gemm_ms) +
         ", \"kept_l2_fraction\": " + number(u.kept_l2_fraction) + ", \"sparsity_overall\": " +
         number(u.sparsity_overall) + "}";
  }
  o += "\n ],\n \"front\": [";
  for (std::size_t i = 0; i < p.front.size(); ++i)
    o += std::string(i ? ", " : "") + "[" + number(p.front[i].first) + ", " + number(p.front[i].second) + "]";
  return o + "]\n}\n";
}

/// Parses a plan; gapp::file_error naming `origin` and the field for anything malformed: the
/// format or version, a missing field, a policy gapp does not know, a technique that does
/// not parse, a sparsity outside [0, 1), a layer named twice.
inline plan parse_plan(std::string_view text, const std::string& origin) {
  const auto doc = json::parse(text, origin);
  const json::value& d = *doc;
  if (!d.is(json::value::kind::object)) d.fail("is not a JSON object");
  if (d.at("format").str() != "gapp-plan") d.at("format").fail("is not \"gapp-plan\"");
  if (d.at("version").integer(1, 1000) != plan::format_version)
    d.at("version").fail("is " + std::to_string(d.at("version").integer(1, 1000)) + "; this gapp reads version " +
                         std::to_string(plan::format_version));
  plan p;
  p.policy = d.at("policy").str();
  try {
    visit_policy(p.policy, [](auto) {});
  } catch (const invalid_argument& e) {
    d.at("policy").fail(std::string("names no policy: ") + e.what());
  }
  p.device = d.at("device").str(), p.vendor = d.at("vendor").str(), p.driver = d.at("driver").str();
  p.profile = d.at("profile").str(), p.weights = d.at("weights").str();
  p.batch = static_cast<std::size_t>(d.at("batch").integer(1, 65536));
  const std::string kind = d.at("target").at("kind").str();
  bool known_kind = false;
  for (target_kind k : {target_kind::latency_ms, target_kind::speedup, target_kind::sparsity, target_kind::kept_l2})
    if (kind == to_string(k)) p.goal.kind = k, known_kind = true;
  if (!known_kind) d.at("target").at("kind").fail("is not latency_ms, speedup, sparsity or kept_l2");
  p.goal.value = d.at("target").at("value").num(0, 1e9);
  const std::string by = d.at("objective").str();
  if (by != "kept_l2" && by != "sensitivity") d.at("objective").fail("is not kept_l2 or sensitivity");
  p.by = by == "kept_l2" ? objective::kept_l2 : objective::sensitivity;
  auto maybe = [&](const char* key) { // null (unknown) or a time
    const json::value& v = d.at(key);
    return v.is(json::value::kind::null) ? -1.0 : v.num(0, 1e9);
  };
  p.dense_gemm_ms = d.at("dense_gemm_ms").num(0, 1e9);
  p.predicted_gemm_ms = d.at("predicted_gemm_ms").num(0, 1e9);
  p.other_ms = maybe("other_ms"), p.predicted_ms = maybe("predicted_ms"), p.dense_ms = maybe("dense_ms");
  p.kept_l2_fraction = d.at("kept_l2_fraction").num(0, 1);
  p.sparsity = d.at("sparsity").num(0, 1);
  p.loss = d.at("loss").num(-1e9, 1e9);
  for (const auto& e : d.at("layers").items()) {
    plan_layer l;
    l.name = e->at("name").str();
    for (const auto& q : p.layers)
      if (q.name == l.name) e->at("name").fail("names layer '" + l.name + "' a second time");
    l.display = e->at("display").str();
    l.technique = e->at("technique").str();
    try {
      l.technique = gapp::to_string(parse_technique(l.technique));
    } catch (const invalid_argument& x) {
      e->at("technique").fail(std::string("is not a technique: ") + x.what());
    }
    l.sparsity = e->at("sparsity").num(0, 0.999999);
    if ((l.technique == "dense") != (l.sparsity == 0))
      e->at("sparsity").fail(l.technique == "dense" ? "must be 0 for a dense layer" : "must be above 0 for a sparse layer");
    l.m = static_cast<std::size_t>(e->at("m").integer(1, 1ll << 31));
    l.k = static_cast<std::size_t>(e->at("k").integer(1, 1ll << 31));
    l.n = static_cast<std::size_t>(e->at("n").integer(0, 1ll << 40));
    l.modelled = e->at("modelled").boolean();
    l.predicted_ms = e->at("predicted_ms").num(0, 1e9);
    l.achieved_sparsity = e->at("achieved_sparsity").num(0, 1);
    l.kept_l2_fraction = e->at("kept_l2_fraction").num(0, 1);
    l.loss = e->at("loss").num(-1e9, 1e9);
    p.layers.push_back(std::move(l));
  }
  if (p.layers.empty()) d.at("layers").fail("holds no layer");
  for (const auto& e : d.at("uniform").items())
    p.uniform.push_back({e->at("technique").str(), e->at("sparsity").num(0, 1), e->at("predicted_gemm_ms").num(0, 1e9),
                         e->at("kept_l2_fraction").num(0, 1), e->at("sparsity_overall").num(0, 1)});
  for (const auto& e : d.at("front").items()) {
    const auto& xy = e->items();
    if (xy.size() != 2) e->fail("is not a [ms, kept_l2] pair");
    p.front.emplace_back(xy[0]->num(0, 1e9), xy[1]->num(0, 1));
  }
  return p;
}

/// Reads and parses a plan file (gapp::file_error naming it for anything wrong).
inline plan load_plan(const std::string& path) {
  const std::vector<unsigned char> bytes = npy::detail::read_file(path);
  return parse_plan(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

/// The plan's entry for a layer, or nullptr.
inline const plan_layer* find_layer(const plan& p, const std::string& name) {
  for (const auto& l : p.layers)
    if (l.name == name) return &l;
  return nullptr;
}

// ------------------------------------------------------------------ sensitivity tables
/// A user's per-layer sensitivity: accuracy drop in points for "TECHNIQUE@SPARSITY" per layer,
/// e.g. {"format": "gapp-sensitivity", "layers": {"features.2": {"simd@0.75": 0.12, ...}}}.
struct sensitivity {
  std::map<std::string, std::map<std::string, double>> drop; ///< layer -> "technique@sparsity" -> points
  std::optional<double> of(const std::string& layer, const std::string& technique, double sparsity) const {
    auto l = drop.find(layer);
    if (l == drop.end()) return std::nullopt;
    for (const auto& [key, v] : l->second) {
      const auto at = key.find('@');
      if (key.substr(0, at) != technique) continue;
      if (std::fabs(std::strtod(key.c_str() + at + 1, nullptr) - sparsity) < 1e-9) return v;
    }
    return std::nullopt;
  }
};

inline sensitivity parse_sensitivity(std::string_view text, const std::string& origin) {
  const auto doc = json::parse(text, origin);
  const json::value& d = *doc;
  if (!d.is(json::value::kind::object)) d.fail("is not a JSON object");
  if (d.at("format").str() != "gapp-sensitivity") d.at("format").fail("is not \"gapp-sensitivity\"");
  sensitivity s;
  for (const auto& [layer, choices] : d.at("layers").members())
    for (const auto& [key, v] : choices->members()) {
      const auto at = key.find('@');
      if (at == std::string::npos) v->fail("is not keyed TECHNIQUE@SPARSITY");
      try {
        parse_technique(key.substr(0, at));
      } catch (const invalid_argument& e) {
        v->fail(std::string("names no technique: ") + e.what());
      }
      char* end = nullptr;
      const std::string sp = key.substr(at + 1);
      const double x = std::strtod(sp.c_str(), &end);
      if (sp.empty() || end != sp.c_str() + sp.size() || !(x > 0 && x < 1)) v->fail("has a sparsity outside (0, 1)");
      s.drop[layer][key] = v->num(-100, 100);
    }
  return s;
}

inline sensitivity load_sensitivity(const std::string& path) {
  const std::vector<unsigned char> bytes = npy::detail::read_file(path);
  return parse_sensitivity(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

} // namespace gapp::tune
