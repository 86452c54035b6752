// Global selection over layers against an exhaustive search of per-layer prefix counts.
#include <catch2/catch.hpp>

#include "reference.hpp"

#include <functional>

using namespace gapp;

namespace {

struct ref_layer {
  std::vector<float> w;
  std::size_t rows, cols;
  double lo, hi;
};

/// Exhaustive reference: every layer removes a prefix of its own (score, index) order.
/// Among all count tuples within the bounds whose removed units are "threshold
/// consistent" (no removed optional unit ranks above a kept optional one, by
/// (score, layer, index)), take the one whose total is closest to the target (ties:
/// fewer weights removed).
std::vector<std::vector<std::uint8_t>> reference(const std::vector<ref_layer>& layers, unit_shape us, double s) {
  struct lay {
    std::vector<ref::unit> order;
    std::vector<double> score;
    std::size_t lo, hi;
  };
  std::vector<lay> L;
  double total = 0;
  for (const auto& l : layers) {
    lay x;
    std::vector<std::uint8_t> keep(l.w.size(), 1);
    auto us_l = us.cols == 0 ? unit_shape{1, static_cast<int>(l.cols)} : us;
    x.order = ref::units_of(l.rows, l.cols, us_l);
    std::vector<double> sc(x.order.size());
    for (std::size_t i = 0; i < sc.size(); ++i) sc[i] = ref::score(l.w, keep, l.cols, x.order[i], criterion::l1);
    std::sort(x.order.begin(), x.order.end(), [&](const ref::unit& a, const ref::unit& b) {
      return sc[a.index] < sc[b.index] || (sc[a.index] == sc[b.index] && a.index < b.index);
    });
    for (auto& u : x.order) x.score.push_back(sc[u.index]);
    auto closest = [&](double need) {
      std::size_t best = 0;
      double err = std::fabs(need), cum = 0;
      for (std::size_t p = 1; p <= x.order.size(); ++p) {
        const auto& u = x.order[p - 1];
        cum += static_cast<double>((u.r1 - u.r0) * (u.c1 - u.c0));
        if (std::fabs(cum - need) < err) best = p, err = std::fabs(cum - need);
      }
      return best;
    };
    const double size = static_cast<double>(l.w.size());
    x.lo = closest(l.lo * size);
    x.hi = std::max(x.lo, closest(l.hi * size));
    total += size;
    L.push_back(std::move(x));
  }
  const double want = s * total;
  std::vector<std::size_t> p(L.size()), best;
  double best_err = 1e300, best_cnt = 0;
  std::function<void(std::size_t)> rec = [&](std::size_t i) {
    if (i == L.size()) {
      // threshold consistency: max removed optional key < min kept optional key
      bool ok = true;
      for (std::size_t a = 0; a < L.size() && ok; ++a)
        for (std::size_t b = 0; b < L.size() && ok; ++b) {
          if (p[a] == L[a].lo || p[b] == L[b].hi) continue;
          const auto ka = std::make_tuple(L[a].score[p[a] - 1], a, L[a].order[p[a] - 1].index);
          const auto kb = std::make_tuple(L[b].score[p[b]], b, L[b].order[p[b]].index);
          if (kb < ka) ok = false;
        }
      if (!ok) return;
      double cnt = 0;
      for (std::size_t a = 0; a < L.size(); ++a)
        for (std::size_t q = 0; q < p[a]; ++q) {
          const auto& u = L[a].order[q];
          cnt += static_cast<double>((u.r1 - u.r0) * (u.c1 - u.c0));
        }
      const double err = std::fabs(cnt - want);
      if (err < best_err || (err == best_err && cnt < best_cnt)) best_err = err, best_cnt = cnt, best = p;
      return;
    }
    for (p[i] = L[i].lo; p[i] <= L[i].hi; ++p[i]) rec(i + 1);
  };
  rec(0);
  std::vector<std::vector<std::uint8_t>> out;
  for (std::size_t a = 0; a < L.size(); ++a) {
    std::vector<std::uint8_t> keep(layers[a].w.size(), 1);
    for (std::size_t q = 0; q < best[a]; ++q) ref::clear(keep, layers[a].cols, L[a].order[q]);
    out.push_back(std::move(keep));
  }
  return out;
}

} // namespace

TEST_CASE("global selection matches the exhaustive reference", "[global]") {
  using P = presets::pocl_avx512; // SIMD unit 8x4
  std::mt19937 g(42);
  int checked = 0;
  for (int trial = 0; trial < 40; ++trial) {
    std::uniform_int_distribution<std::size_t> dim(1, 20);
    std::uniform_real_distribution<double> u01(0, 1);
    std::vector<ref_layer> layers;
    const int nl = 1 + trial % 3;
    for (int l = 0; l < nl; ++l) {
      const std::size_t r = dim(g), c = dim(g);
      double lo = (trial % 4 == 0) ? 0.0 : 0.3 * u01(g);
      double hi = (trial % 5 == 0) ? 1.0 : 0.6 + 0.4 * u01(g);
      // layers of different scale: global ranking must see through it
      auto w = ref::random_weights(g, r * c, trial % 7 == 0 ? 1 : 0);
      for (auto& x : w) x *= static_cast<float>(l + 1);
      layers.push_back({std::move(w), r, c, lo, hi});
    }
    for (double s : {0.0, 0.35, 0.6, 0.9}) {
      std::vector<global_layer> gl;
      double lo_sum = 0, hi_sum = 0, tot = 0;
      for (const auto& l : layers) {
        gl.push_back({matrix_view(l.w, l.rows, l.cols), l.lo, l.hi});
        lo_sum += l.lo * static_cast<double>(l.w.size()), hi_sum += l.hi * static_cast<double>(l.w.size());
        tot += static_cast<double>(l.w.size());
      }
      INFO("trial " << trial << " s " << s);
      if (s * tot < lo_sum - 0.5 || s * tot > hi_sum + 0.5) {
        REQUIRE_THROWS_WITH(prune_global<P>(gl, units::simd{}, s), Catch::Contains("unreachable"));
        continue;
      }
      const auto masks = prune_global<P>(gl, units::simd{}, s);
      const auto expect = reference(layers, P::simd_unit, s);
      REQUIRE(masks.size() == layers.size());
      for (std::size_t l = 0; l < layers.size(); ++l) REQUIRE(masks[l].keep() == expect[l]);
      // filter units per layer as well
      const auto fm = prune_global<P>(gl, units::filter{}, s);
      const auto fe = reference(layers, unit_shape{1, 0}, s);
      for (std::size_t l = 0; l < layers.size(); ++l) REQUIRE(fm[l].keep() == fe[l]);
      ++checked;
    }
  }
  REQUIRE(checked > 50);
}

TEST_CASE("global selection ranks layers of different sizes fairly and honours bounds", "[global]") {
  using P = presets::nvidia;
  std::mt19937 g(3);
  auto big = ref::random_weights(g, 64 * 256, 0);
  auto small = ref::random_weights(g, 16 * 32, 0);
  for (auto& x : small) x *= 100.0f; // much more important per weight
  std::vector<global_layer> gl{{matrix_view(big, 64, 256)}, {matrix_view(small, 16, 32)}};
  auto m = prune_global<P>(gl, units::element{}, 0.5);
  REQUIRE(m[1].sparsity() < 0.01);
  REQUIRE(m[0].sparsity() > 0.5);
  gl[1].min_sparsity = 0.4;
  m = prune_global<P>(gl, units::element{}, 0.5);
  REQUIRE(std::fabs(m[1].sparsity() - 0.4) <= 1.0 / (16 * 32));
  gl[0].max_sparsity = 0.2;
  REQUIRE_THROWS_AS(prune_global<P>(gl, units::element{}, 0.9), gapp::invalid_argument);
  REQUIRE_THROWS_AS(prune_global<P>({}, units::element{}, 0.5), gapp::invalid_argument);
  gl[0].min_sparsity = 0.5;
  REQUIRE_THROWS_WITH(prune_global<P>(gl, units::element{}, 0.5), Catch::Contains("min_sparsity <= max_sparsity"));
}

TEST_CASE("global channel units take each layer's kernel area", "[global]") {
  using P = presets::nvidia;
  std::mt19937 g(8);
  auto a = ref::random_weights(g, 8 * 27, 0), b = ref::random_weights(g, 4 * 8, 0);
  std::vector<global_layer> gl{{matrix_view(a, 8, 27)}, {matrix_view(b, 4, 8)}};
  gl[0].kernel_area = 9;
  const auto m = prune_global<P>(gl, units::channel{}, 0.5);
  REQUIRE(m[0].shape() == unit_shape{8, 9});
  REQUIRE(m[1].shape() == unit_shape{4, 1});
  for (std::size_t ch = 0; ch < 3; ++ch) {
    const bool k = m[0].kept(0, ch * 9);
    for (std::size_t r = 0; r < 8; ++r)
      for (std::size_t e = 0; e < 9; ++e) REQUIRE(m[0].kept(r, ch * 9 + e) == k);
  }
}

TEST_CASE("global selection: equal scores go to the earlier layer; user scores rank and are checked", "[global]") {
  using P = presets::nvidia;
  const std::vector<float> w{1, 2, 3, 4};
  std::vector<global_layer> gl{{matrix_view(w, 1, 4)}, {matrix_view(w, 1, 4)}};
  // one weight of eight: the two 1s score the same, the earlier layer's goes
  auto m = prune_global<P>(gl, units::element{}, 0.125);
  REQUIRE(!m[0].kept(0, 0));
  REQUIRE(m[1].kept(0, 0));
  REQUIRE(m[1].sparsity() == 0.0);
  // with scores, the scores rank: reversed ones remove the 4s
  const std::vector<float> rev{4, 3, 2, 1};
  gl[0].scores = rev, gl[1].scores = rev;
  m = prune_global<P>(gl, units::element{}, 0.25);
  for (const auto& lm : m) {
    REQUIRE(!lm.kept(0, 3));
    REQUIRE((lm.kept(0, 0) && lm.kept(0, 1) && lm.kept(0, 2)));
  }
  // scores of another size, and non-finite scores, named by layer
  const std::vector<float> three{1, 2, 3}, nan{1, std::nanf(""), 3, 4};
  gl[1].scores = three;
  REQUIRE_THROWS_AS(prune_global<P>(gl, units::element{}, 0.25), gapp::shape_error);
  REQUIRE_THROWS_WITH(prune_global<P>(gl, units::element{}, 0.25), Catch::Contains("layer 1: 3 scores for 4 weights"));
  gl[1].scores = nan;
  REQUIRE_THROWS_AS(prune_global<P>(gl, units::element{}, 0.25), gapp::value_error);
  REQUIRE_THROWS_WITH(prune_global<P>(gl, units::element{}, 0.25), Catch::Contains("layer 1 scores"));
}
