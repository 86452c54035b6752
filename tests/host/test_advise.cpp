// The advisor: its front against brute force, the targets, the plan file and its errors,
// and gapp-advise / gapp-prune --plan end to end.
#include <catch2/catch.hpp>

#include "run_tool.hpp"

#include <gapp/nn/vgg16.hpp>
#include <gapp/prune.hpp>
#include <gapp/tune/advise.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace gapp;
namespace fs = std::filesystem;

namespace {

/// Layers with random options: dense first (the slowest, keeping all), then cheaper ones
/// keeping less; costs and values drawn so that no option is trivially dominated.
std::vector<tune::layer_choices> random_layers(std::mt19937& g, std::size_t n, std::size_t options) {
  std::uniform_real_distribution<double> u(0.05, 1.0);
  std::vector<tune::layer_choices> out;
  for (std::size_t i = 0; i < n; ++i) {
    tune::layer_choices l;
    l.name = "layer" + std::to_string(i), l.display = l.name;
    l.m = 8, l.k = 8, l.n = 8, l.weights = 1000, l.l2 = 10 * u(g), l.modelled = true;
    const double dense_ms = 5 * u(g);
    l.options.push_back({"dense", 0, dense_ms, l.l2, 1000, 0});
    for (std::size_t o = 1; o < options; ++o) {
      const double f = u(g);
      l.options.push_back({o % 2 ? "simd" : "tile", 0.5 + 0.1 * static_cast<double>(o), dense_ms * u(g), l.l2 * f * f,
                           static_cast<std::size_t>(1000 * u(g)), 3 * u(g)});
    }
    out.push_back(std::move(l));
  }
  return out;
}

/// Every choice vector, for brute force.
template <class F>
void for_each_choice(const std::vector<tune::layer_choices>& layers, F&& f) {
  std::vector<std::uint16_t> c(layers.size(), 0);
  while (true) {
    f(c);
    std::size_t i = 0;
    while (i < c.size() && ++c[i] == layers[i].options.size()) c[i++] = 0;
    if (i == c.size()) return;
  }
}

double total_ms(const std::vector<tune::layer_choices>& layers, const std::vector<std::uint16_t>& c) {
  double t = 0;
  for (std::size_t i = 0; i < c.size(); ++i) t += layers[i].options[c[i]].ms;
  return t;
}

std::string tmp(const std::string& name) { return std::string(GAPP_TEST_TMP) + "/advise_" + name; }

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

} // namespace

TEST_CASE("the advisor's front holds the brute-force optimum of every budget", "[advise]") {
  std::mt19937 g(7);
  for (int trial = 0; trial < 5; ++trial) {
    const auto layers = random_layers(g, 5, 4); // 1024 plans
    auto ms = [&](std::size_t l, std::size_t o) { return layers[l].options[o].ms; };
    auto kept = [&](std::size_t l, std::size_t o) { return layers[l].options[o].kept_l2; };
    const auto front = tune::pareto_front(layers, ms, kept);
    for (std::size_t i = 1; i < front.size(); ++i) {
      REQUIRE(front[i].cost > front[i - 1].cost);
      REQUIRE(front[i].value > front[i - 1].value);
    }
    std::uniform_real_distribution<double> b(0, 1);
    const double dense = total_ms(layers, std::vector<std::uint16_t>(layers.size(), 0));
    for (int k = 0; k < 20; ++k) {
      const double budget = dense * b(g);
      double best = -1;
      for_each_choice(layers, [&](const std::vector<std::uint16_t>& c) {
        if (total_ms(layers, c) <= budget) {
          double v = 0;
          for (std::size_t i = 0; i < c.size(); ++i) v += layers[i].options[c[i]].kept_l2;
          best = std::max(best, v);
        }
      });
      double from_front = -1;
      for (const auto& p : front)
        if (p.cost <= budget) from_front = p.value;
      REQUIRE(from_front == Approx(best).epsilon(1e-12));
    }
  }
}

TEST_CASE("plans of equal cost: the advisor's front keeps the one worth more, once", "[advise]") {
  // a: dense (2 ms, 4) or x (1 ms, 1); b: dense (2 ms, 4) or y (1 ms, 3). Costs: 2, 3 (twice:
  // a-dense + y keeps 7, x + b-dense keeps 5), 4.
  std::vector<tune::layer_choices> two(2);
  two[0].name = "a", two[0].options = {{"dense", 0, 2, 4, 10, 0}, {"simd", 0.5, 1, 1, 5, 0}};
  two[1].name = "b", two[1].options = {{"dense", 0, 2, 4, 10, 0}, {"tile", 0.5, 1, 3, 5, 0}};
  auto ms = [&](std::size_t l, std::size_t o) { return two[l].options[o].ms; };
  auto kept = [&](std::size_t l, std::size_t o) { return two[l].options[o].kept_l2; };
  const auto front = tune::pareto_front(two, ms, kept);
  REQUIRE(front.size() == 3);
  REQUIRE(front[1].cost == 3);
  REQUIRE(front[1].value == 7);
  REQUIRE(front[1].choice == std::vector<std::uint16_t>{0, 1});
}

TEST_CASE("advise meets each kind of target with the best plan, or says how close it comes", "[advise]") {
  std::mt19937 g(11);
  auto layers = random_layers(g, 5, 4);
  layers.push_back({"fc", "fc", 4, 4, 1, 16, 2.0, false, {{"dense", 0, 0, 2.0, 16, 0}}}); // not measured: dense
  double dense_ms = 0;
  for (const auto& l : layers)
    if (l.modelled) dense_ms += l.options[0].ms;

  SECTION("speedup, with the rest of a forward pass known") {
    const double other = 1.5;
    const tune::plan p = tune::advise(layers, {tune::target_kind::speedup, 1.5}, tune::objective::kept_l2, other);
    REQUIRE(p.predicted_ms == Approx(p.predicted_gemm_ms + other));
    REQUIRE(p.dense_ms == Approx(dense_ms + other));
    REQUIRE(p.dense_ms / p.predicted_ms >= 1.5 - 1e-9);
    REQUIRE(p.layers.back().technique == "dense");
    // nothing that meets the target keeps more
    double best = 0;
    for_each_choice(layers, [&](const std::vector<std::uint16_t>& c) {
      if (c.back() == 0 && (dense_ms + other) / (total_ms(layers, c) + other) >= 1.5)
        best = std::max(best, tune::kept_l2_of(layers, c));
    });
    REQUIRE(p.kept_l2_fraction == Approx(best));
  }
  SECTION("kept L2: the fastest plan that keeps enough") {
    const tune::plan p = tune::advise(layers, {tune::target_kind::kept_l2, 0.8}, tune::objective::kept_l2);
    REQUIRE(p.kept_l2_fraction >= 0.8 - 1e-12);
    double fastest = 1e300;
    for_each_choice(layers, [&](const std::vector<std::uint16_t>& c) {
      if (c.back() == 0 && tune::kept_l2_of(layers, c) >= 0.8) fastest = std::min(fastest, total_ms(layers, c));
    });
    REQUIRE(p.predicted_gemm_ms == Approx(fastest));
    REQUIRE(p.predicted_ms == -1); // the rest of the pass is unknown
    // each layer as its chosen option has it, and the layers' kept L2 adds up to the plan's
    REQUIRE(p.layers.size() == layers.size());
    double kept = 0, all = 0;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const tune::plan_layer& pl = p.layers[i];
      INFO(pl.name);
      REQUIRE(pl.name == layers[i].name);
      const tune::layer_option* o = nullptr;
      for (const auto& x : layers[i].options)
        if (x.technique == pl.technique && x.sparsity == pl.sparsity) o = &x;
      REQUIRE(o != nullptr);
      REQUIRE(pl.kept_l2_fraction == Approx(std::sqrt(o->kept_l2 / layers[i].l2)));
      REQUIRE(pl.achieved_sparsity == Approx(1.0 - static_cast<double>(o->kept) / static_cast<double>(layers[i].weights)));
      REQUIRE(pl.predicted_ms == Approx(layers[i].modelled ? o->ms : 0.0));
      kept += pl.kept_l2_fraction * pl.kept_l2_fraction * layers[i].l2, all += layers[i].l2;
    }
    REQUIRE(std::sqrt(kept / all) == Approx(p.kept_l2_fraction));
  }
  SECTION("sparsity") {
    const tune::plan p = tune::advise(layers, {tune::target_kind::sparsity, 0.4}, tune::objective::kept_l2);
    REQUIRE(p.sparsity >= 0.4);
  }
  SECTION("a target met exactly is met: the dense plan at the dense time, at sparsity 0") {
    // every sparse option keeps less than dense, so only the all-dense plan keeps everything;
    // it takes exactly the dense time and removes exactly nothing
    for (const tune::target t : {tune::target{tune::target_kind::latency_ms, dense_ms},
                                 tune::target{tune::target_kind::speedup, 1.0},
                                 tune::target{tune::target_kind::sparsity, 0.0}}) {
      INFO(tune::to_string(t.kind));
      const tune::plan p = tune::advise(layers, t, tune::objective::kept_l2);
      REQUIRE(p.kept_l2_fraction == 1.0);
      for (const auto& l : p.layers) REQUIRE(l.technique == "dense");
    }
  }
  SECTION("sensitivity: the least loss within the latency") {
    const tune::plan p = tune::advise(layers, {tune::target_kind::latency_ms, dense_ms * 0.6}, tune::objective::sensitivity);
    double least = 1e300;
    for_each_choice(layers, [&](const std::vector<std::uint16_t>& c) {
      if (c.back() != 0 || total_ms(layers, c) > dense_ms * 0.6) return;
      double loss = 0;
      for (std::size_t i = 0; i < c.size(); ++i) loss += layers[i].options[c[i]].loss;
      least = std::min(least, loss);
    });
    REQUIRE(p.loss == Approx(least));
  }
  SECTION("an unreachable target is an error that gives the closest") {
    try {
      tune::advise(layers, {tune::target_kind::speedup, 1e6}, tune::objective::kept_l2);
      FAIL("no error");
    } catch (const invalid_argument& e) {
      REQUIRE(std::string(e.what()).find("the fastest plan takes") != std::string::npos);
    }
    REQUIRE_THROWS_AS(tune::advise(layers, {tune::target_kind::sparsity, 0.999}, tune::objective::kept_l2),
                      invalid_argument);
  }
  SECTION("uniform choices") {
    const auto u = tune::uniform_points(layers);
    REQUIRE(u.size() == 3); // each of the three sparse options is on every modelled layer
    const tune::plan p = tune::uniform_plan(layers, "simd", 0.6);
    for (std::size_t i = 0; i + 1 < p.layers.size(); ++i) REQUIRE(p.layers[i].technique == "simd");
    REQUIRE(p.layers.back().technique == "dense");
    REQUIRE_THROWS_AS(tune::uniform_plan(layers, "simd", 0.75), invalid_argument);
    // a choice only one layer was measured at is no uniform choice
    auto uneven = layers;
    uneven[0].options.push_back({"tile", 0.95, 0.01, 0.01, 50, 0});
    const auto v = tune::uniform_points(uneven);
    REQUIRE(v.size() == 3);
    for (const auto& x : v) REQUIRE(x.sparsity != 0.95);
    REQUIRE_THROWS_AS(tune::uniform_plan(uneven, "tile", 0.95), invalid_argument);
  }
}

TEST_CASE("choices_for: the profile's times and what pruning the layer keeps", "[advise]") {
  std::mt19937 g(3);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> w(64 * 288);
  for (auto& v : w) v = d(g);
  tune::profile prof;
  prof.preset = "pocl-avx512";
  auto add = [&](const std::string& t, double s, double ms, std::size_t n = 100) {
    prof.measurements.push_back({64, 288, n, t, s, "pocl-avx512", {ms}, ms, s});
  };
  add("dense", 0, 4), add("simd", 0.75, 1.5), add("simd", 0.9, 0.8), add("tile", 0.75, 1.2), add("dense", 0, 9, 200);
  const auto lc = tune::choices_for(prof, "pocl-avx512", "features.5", "conv2_1", matrix_view(w.data(), 64, 288), 100);
  REQUIRE(lc.modelled);
  REQUIRE(lc.options.size() == 4);
  REQUIRE(lc.options[0].ms == 4);
  for (std::size_t o = 1; o < lc.options.size(); ++o) {
    REQUIRE(lc.options[o].kept_l2 < lc.options[0].kept_l2);
    REQUIRE(static_cast<double>(lc.options[o].kept) ==
            Approx((1 - lc.options[o].sparsity) * static_cast<double>(w.size())).margin(64 * 32));
  }
  // the kept L2 is the library's for the same mask
  const auto m = prune<presets::pocl_avx512>(matrix_view(w.data(), 64, 288), units::simd{}, 0.9);
  const double f = kept_l2_fraction(matrix_view(w.data(), 64, 288), m.keep());
  bool seen = false;
  for (const auto& o : lc.options)
    if (o.technique == "simd" && o.sparsity == 0.9) {
      REQUIRE(std::sqrt(o.kept_l2 / lc.l2) == Approx(f));
      seen = true;
    }
  REQUIRE(seen);
  const auto only_tile = tune::choices_for(prof, "pocl-avx512", "a", "a", matrix_view(w.data(), 64, 288), 100, 1, {"tile"});
  REQUIRE(only_tile.options.size() == 2);
  // a convolution the network runs as an implicit GEMM: only measurements made that way count
  // on the direct family (pocl-avx512); the local family (nvidia) always reads im2col
  const auto conv = tune::choices_for(prof, "pocl-avx512", "a", "a", matrix_view(w.data(), 64, 288), 100, 9, {}, true);
  REQUIRE_FALSE(conv.modelled);
  prof.measurements.push_back({64, 288, 100, "dense", 0, "pocl-avx512", {3}, 3, 0, true});
  const auto conv2 = tune::choices_for(prof, "pocl-avx512", "a", "a", matrix_view(w.data(), 64, 288), 100, 9, {}, true);
  REQUIRE(conv2.modelled);
  REQUIRE(conv2.options.size() == 1);
  REQUIRE(conv2.options[0].ms == 3);
  prof.measurements.push_back({64, 288, 100, "dense", 0, "nvidia", {5}, 5, 0, false});
  const auto local = tune::choices_for(prof, "nvidia", "a", "a", matrix_view(w.data(), 64, 288), 100, 9, {}, true);
  REQUIRE(local.modelled);
  REQUIRE(local.options[0].ms == 5);
  const auto other_n = tune::choices_for(prof, "pocl-avx512", "a", "a", matrix_view(w.data(), 64, 288), 300);
  REQUIRE_FALSE(other_n.modelled);
  REQUIRE(other_n.options.size() == 1);
}

TEST_CASE("a plan file round-trips and a malformed one is a typed error naming the field", "[advise]") {
  std::mt19937 g(5);
  const auto layers = random_layers(g, 3, 3);
  tune::plan p = tune::advise(layers, {tune::target_kind::speedup, 1.2}, tune::objective::kept_l2, 2.0);
  p.policy = "pocl-avx512", p.device = "dev", p.vendor = "v", p.driver = "1", p.profile = "p.json", p.weights = "w";
  const std::string text = tune::to_json(p);
  const tune::plan q = tune::parse_plan(text, "plan.json");
  REQUIRE(q.policy == p.policy);
  REQUIRE(q.layers.size() == p.layers.size());
  for (std::size_t i = 0; i < q.layers.size(); ++i) {
    REQUIRE(q.layers[i].technique == p.layers[i].technique);
    REQUIRE(q.layers[i].sparsity == p.layers[i].sparsity);
  }
  REQUIRE(q.predicted_ms == p.predicted_ms);
  REQUIRE(q.front.size() == p.front.size());

  auto expect = [&](std::string bad, const std::string& field) {
    INFO(field);
    try {
      tune::parse_plan(bad, "plan.json");
      FAIL("no error");
    } catch (const file_error& e) {
      const std::string what = e.what();
      REQUIRE(what.find("plan.json") != std::string::npos);
      REQUIRE(what.find(field) != std::string::npos);
    }
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = text;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  expect(text.substr(0, text.size() / 2), "plan.json");
  expect(replaced("\"gapp-plan\"", "\"gapp-profile\""), "format");
  expect(replaced("\"pocl-avx512\"", "\"no-such-policy\""), "policy");
  expect(replaced("\"technique\": \"" + p.layers[0].technique + "\"", "\"technique\": \"simd:3\""), "technique");
  expect(replaced("\"name\": \"layer1\"", "\"name\": \"layer0\""), "name");
  expect(replaced("\"batch\": 1", "\"batch\": 0"), "batch");
  expect(replaced("\"kind\": \"speedup\"", "\"kind\": \"fastest\""), "kind");
  // a dense layer with a sparsity, a sparse one without
  tune::plan r = p;
  r.layers[0].technique = "dense", r.layers[0].sparsity = 0.5;
  expect(tune::to_json(r), "sparsity");
  tune::plan none = p; // a plan of no layer
  none.layers.clear();
  expect(tune::to_json(none), "holds no layer");
}

TEST_CASE("a sensitivity table is read strictly", "[advise]") {
  const auto s = tune::parse_sensitivity(
      R"({"format": "gapp-sensitivity", "layers": {"features.2": {"simd@0.75": 0.25, "tile@0.9": 3}}})", "s.json");
  REQUIRE(s.of("features.2", "simd", 0.75) == 0.25);
  REQUIRE(s.of("features.2", "tile", 0.9) == 3.0);
  REQUIRE_FALSE(s.of("features.2", "simd", 0.9));
  REQUIRE_FALSE(s.of("features.5", "simd", 0.75));
  REQUIRE_THROWS_AS(tune::parse_sensitivity(R"({"format": "gapp-sensitivity", "layers": {"a": {"simd": 1}}})", "s"),
                    file_error);
  REQUIRE_THROWS_AS(tune::parse_sensitivity(R"({"format": "gapp-sensitivity", "layers": {"a": {"simd@1.5": 1}}})", "s"),
                    file_error);
  REQUIRE_THROWS_AS(tune::parse_sensitivity(R"({"format": "gapp-sensitivity", "layers": {"a": {"wave@0.5": 1}}})", "s"),
                    file_error);
}

#if defined(GAPP_ADVISE_EXE) && defined(GAPP_PRUNE_EXE)
TEST_CASE("gapp-advise plans a network from a profile and gapp-prune --plan writes its masks", "[advise][cli]") {
  const std::string dir = tmp("net"), masks = tmp("masks");
  fs::remove_all(dir), fs::remove_all(masks);
  fs::create_directories(dir);
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.in_channels = 1, cfg.width = 0.125, cfg.hidden = 16, cfg.classes = 10;
  const nn::vgg16_weights w = nn::he_init(cfg, 9);
  nn::save_npy_dir(w, dir);
  // a profile that measured the conv layers (batch 2): sparse choices cost less
  tune::profile prof;
  prof.device = "d", prof.vendor = "v", prof.driver = "1", prof.preset = "pocl-avx512";
  for (const auto& l : w.layers) {
    if (!l.conv || l.name == "features.0") continue;
    const std::size_t m = l.shape.gemm_rows(), k = l.shape.gemm_cols(), n = l.in_size * l.in_size * 2;
    const double dense = 1e-6 * static_cast<double>(m * k * n);
    for (auto [t, s, f] : {std::tuple{"dense", 0.0, 1.0}, {"simd", 0.75, 0.4}, {"simd", 0.9, 0.25}, {"tile", 0.75, 0.3}})
      prof.measurements.push_back({m, k, n, t, s, "pocl-avx512", {dense * f}, dense * f, s, true}); // implicit GEMMs
  }
  spit(tmp("profile.json"), tune::to_json(prof));
  auto advise = [&](const std::string& args, const std::string& tag) {
    return gapp_test::run_tool(GAPP_ADVISE_EXE, "--weights " + dir + " --profile " + tmp("profile.json") + " --batch 2 " + args,
                               tmp(tag));
  };
  auto prune = [&](const std::string& args, const std::string& tag) {
    return gapp_test::run_tool(GAPP_PRUNE_EXE, args, tmp(tag));
  };

  SECTION("a speedup target: plan, plot, masks") {
    fs::remove(tmp("plan.json")), fs::remove(tmp("plot.svg"));
    const auto r = advise("--speedup 2 --plan " + tmp("plan.json") + " --plot " + tmp("plot.svg"), "a1");
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    const tune::plan p = tune::load_plan(tmp("plan.json"));
    REQUIRE(p.dense_gemm_ms / p.predicted_gemm_ms >= 2 - 1e-9);
    REQUIRE(p.layers.size() == w.layers.size());
    REQUIRE(slurp(tmp("plot.svg")).find("<svg") == 0);
    const auto q = prune("--plan " + tmp("plan.json") + " --weights " + dir + " --masks " + masks, "p1");
    INFO(q.out << q.err);
    REQUIRE(q.status == 0);
    std::size_t sparse = 0;
    for (std::size_t i = 0; i < w.layers.size(); ++i) {
      const auto& pl = p.layers[i];
      const std::string f = masks + "/" + pl.name + ".mask.npy";
      if (pl.technique == "dense") {
        REQUIRE_FALSE(fs::exists(f));
        continue;
      }
      ++sparse;
      const auto m = load_mask<presets::pocl_avx512>(f, "pocl-avx512", parse_technique(pl.technique),
                                                     nn::weight_shape(w.layers[i]));
      REQUIRE(m.metadata);
      REQUIRE(m.metadata->target_sparsity == pl.sparsity);
      REQUIRE(m.metadata->achieved_sparsity == Approx(pl.achieved_sparsity));
    }
    REQUIRE(sparse > 0);
  }
  SECTION("the kept L2 of a uniform choice, and the uniform plan itself") {
    const auto u = advise("--uniform simd@0.75 --plan " + tmp("u.json"), "a2");
    REQUIRE(u.status == 0);
    const auto a = advise("--kept-l2 simd@0.75 --plan " + tmp("k.json"), "a3");
    INFO(a.out << a.err);
    REQUIRE(a.status == 0);
    const tune::plan pu = tune::load_plan(tmp("u.json")), pk = tune::load_plan(tmp("k.json"));
    REQUIRE(pk.kept_l2_fraction >= pu.kept_l2_fraction - 1e-12);
    REQUIRE(pk.predicted_gemm_ms <= pu.predicted_gemm_ms + 1e-12);
  }
  SECTION("a dense run: the time outside the GEMMs, and each layer's times scaled to the network's") {
    // in the network each modelled layer's dense GEMM took twice the profile's time (three
    // times for conv2_1), and 3 ms went elsewhere
    auto num = [](double v) {
      char b[40];
      std::snprintf(b, sizeof b, "%.17g", v);
      return std::string(b);
    };
    std::string lm;
    double gemm = 0;
    std::map<std::string, double> profile_dense;
    for (const auto& l : w.layers) {
      if (!l.conv || l.name == "features.0") continue;
      const double dense = 1e-6 * static_cast<double>(l.shape.gemm_rows() * l.shape.gemm_cols() * l.in_size * l.in_size * 2);
      const double f = l.display == "conv2_1" ? 3.0 : 2.0;
      profile_dense[l.display] = dense;
      lm += (lm.empty() ? "\"" : ",\"") + l.display + " gemm\":" + num(f * dense);
      gemm += f * dense;
    }
    auto run_json = [&](const std::string& device, double batch_ms) {
      return "{\"device\":\"" + device + "\",\"technique\":\"dense\",\"batch\":2,\"im2col\":false,\"batch_ms\":" +
             num(batch_ms) + ",\"layer_ms\":{\"conv1_1 gemm\":0.5," + lm + "}}";
    };
    spit(tmp("dense_run.json"), run_json("d", gemm + 3.0));
    const auto u = advise("--uniform simd@0.75 --dense-run " + tmp("dense_run.json") + " --plan " + tmp("ud.json"), "c1");
    INFO(u.out << u.err);
    REQUIRE(u.status == 0);
    REQUIRE(u.out.find("\"calibration\":{\"conv1_2\":2.000,\"conv2_1\":3.000,") != std::string::npos);
    const tune::plan pu = tune::load_plan(tmp("ud.json"));
    REQUIRE(pu.other_ms == Approx(3.0).margin(1e-4));
    REQUIRE(pu.dense_ms == Approx(gemm + 3.0).margin(1e-4)); // the dense run itself
    for (const auto& l : pu.layers) {
      if (!l.modelled) continue;
      INFO(l.display);
      REQUIRE(l.technique == "simd");
      REQUIRE(l.predicted_ms == Approx((l.display == "conv2_1" ? 3.0 : 2.0) * 0.4 * profile_dense.at(l.display)));
    }
    // a run of another device, or one whose GEMMs take longer than the pass: an error naming the field
    spit(tmp("dense_other.json"), run_json("e", gemm + 3.0));
    const auto other = advise("--uniform simd@0.75 --dense-run " + tmp("dense_other.json") + " --plan " + tmp("bad.json"), "c2");
    REQUIRE(other.status != 0);
    REQUIRE(other.err.find("device") != std::string::npos);
    spit(tmp("dense_short.json"), run_json("d", gemm / 2));
    const auto shrt = advise("--uniform simd@0.75 --dense-run " + tmp("dense_short.json") + " --plan " + tmp("bad.json"), "c3");
    REQUIRE(shrt.status != 0);
    REQUIRE(shrt.err.find("batch_ms") != std::string::npos);
    REQUIRE_FALSE(fs::exists(tmp("bad.json")));
  }
  SECTION("bad input: an error naming the cause, nothing written") {
    fs::remove(tmp("bad.json"));
    const auto none = advise("--plan " + tmp("bad.json"), "b1");
    REQUIRE(none.status != 0);
    REQUIRE(none.err.find("target") != std::string::npos);
    const auto far = advise("--speedup 100 --plan " + tmp("bad.json"), "b2");
    REQUIRE(far.status != 0);
    REQUIRE(far.err.find("fastest plan") != std::string::npos);
    const auto batch = advise("--speedup 2 --batch 3 --plan " + tmp("bad.json"), "b3");
    REQUIRE(batch.status != 0);
    REQUIRE(batch.err.find("gapp-tune --weights") != std::string::npos);
    const auto over = advise("--speedup 2 --plan " + tmp("profile.json"), "b4");
    REQUIRE(over.status != 0);
    const auto trunc = tmp("trunc.json");
    const std::string good = slurp(tmp("profile.json"));
    spit(trunc, good.substr(0, good.size() / 3));
    const auto t = gapp_test::run_tool(GAPP_ADVISE_EXE, "--weights " + dir + " --profile " + trunc +
                                                            " --batch 2 --speedup 2 --plan " + tmp("bad.json"), tmp("b5"));
    REQUIRE(t.status != 0);
    REQUIRE(t.err.find(trunc) != std::string::npos);
    REQUIRE_FALSE(fs::exists(tmp("bad.json")));
    REQUIRE(slurp(tmp("profile.json")) == good);
    // a plan naming a layer the weights do not have: nothing written
    REQUIRE(advise("--speedup 2 --plan " + tmp("plan2.json"), "b6").status == 0);
    std::string plan = slurp(tmp("plan2.json"));
    const tune::plan p = tune::parse_plan(plan, "p");
    std::string victim;
    for (const auto& l : p.layers)
      if (l.technique != "dense") victim = l.name;
    REQUIRE(!victim.empty());
    plan.replace(plan.find("\"" + victim + "\""), victim.size() + 2, "\"features.99\"");
    spit(tmp("plan3.json"), plan);
    fs::remove_all(tmp("masks3"));
    const auto q = prune("--plan " + tmp("plan3.json") + " --weights " + dir + " --masks " + tmp("masks3"), "b7");
    REQUIRE(q.status != 0);
    REQUIRE(q.err.find("features.99") != std::string::npos);
    REQUIRE_FALSE(fs::exists(tmp("masks3")));
    // --plan with per-file options
    const auto mixed = prune("--plan " + tmp("plan2.json") + " --weights " + dir + " --masks " + tmp("masks3") +
                                 " --unit simd", "b8");
    REQUIRE(mixed.status != 0);
    REQUIRE_FALSE(fs::exists(tmp("masks3")));
  }
}
#endif
