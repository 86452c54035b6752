// Every selection against the brute-force reference on random shapes.
#include <catch2/catch.hpp>

#include "reference.hpp"

#include <functional>
#include <string>

using namespace gapp;

namespace {

struct case_t {
  std::size_t rows, cols;
  int kind; // 0 normal, 1 small integers (many ties), 2 all zero
};

std::vector<case_t> cases() {
  std::vector<case_t> out;
  const std::size_t rows[] = {1, 7, 13, 64, 67, 130};
  const std::size_t cols[] = {1, 5, 31, 64, 97, 200};
  int k = 0;
  for (auto r : rows)
    for (auto c : cols) out.push_back({r, c, (k++) % 3});
  return out;
}

const double sparsities[] = {0.0, 0.3, 0.5, 0.75, 0.9, 0.99, 0.999};
const criterion criteria[] = {criterion::l1, criterion::l2, criterion::max};

using ref_fn = std::function<void(const std::vector<float>&, std::vector<std::uint8_t>&, std::size_t, std::size_t,
                                  criterion, double)>;

template <class P, class U>
void compare(const U& unit, const ref_fn& reference, bool balanced = false, bool use_scores = false,
             const std::vector<double>& sps = {std::begin(sparsities), std::end(sparsities)}) {
  std::mt19937 g(1234);
  int n = 0;
  for (const case_t& c : cases()) {
    if constexpr (std::is_same_v<U, units::channel>)
      if (c.cols % static_cast<std::size_t>(unit.kernel_area) != 0) continue;
    const auto w = ref::random_weights(g, c.rows * c.cols, c.kind);
    const auto sc = ref::random_weights(g, c.rows * c.cols, 0);
    for (double s : sps)
      for (criterion crit : criteria) {
        prune_options opt;
        opt.criterion = crit;
        opt.balanced = balanced;
        if (use_scores) opt.scores = sc;
        const auto m = prune<P>(matrix_view(w, c.rows, c.cols), unit, s, opt);
        std::vector<std::uint8_t> expect(w.size(), 1);
        reference(use_scores ? sc : w, expect, c.rows, c.cols, crit, s);
        INFO(units::name_of<U>() << " " << P::name << " " << c.rows << "x" << c.cols << " kind " << c.kind << " s " << s
                                 << " crit " << to_string(crit) << " balanced " << balanced);
        REQUIRE(m.keep() == expect);
        // the same input gives the same mask
        REQUIRE(prune<P>(matrix_view(w, c.rows, c.cols), unit, s, opt).keep() == m.keep());
        ++n;
      }
  }
  REQUIRE(n > 0);
}

ref_fn per_matrix(unit_shape s) {
  return [s](const auto& src, auto& keep, std::size_t r, std::size_t c, criterion crit, double sp) {
    ref::per_matrix(src, keep, r, c, s, crit, sp);
  };
}
ref_fn filter_ref() {
  return [](const auto& src, auto& keep, std::size_t r, std::size_t c, criterion crit, double sp) {
    ref::per_matrix(src, keep, r, c, {1, static_cast<int>(c)}, crit, sp);
  };
}
ref_fn balanced_ref(unit_shape s) {
  return [s](const auto& src, auto& keep, std::size_t r, std::size_t c, criterion crit, double sp) {
    ref::balanced(src, keep, r, c, s, crit, sp);
  };
}

} // namespace

TEMPLATE_TEST_CASE("per-matrix selection matches the brute-force reference", "[select]", presets::nvidia,
                   presets::pocl_avx512, presets::intel_gen9) {
  using P = TestType;
  SECTION("element") { compare<P>(units::element{}, per_matrix({1, 1})); }
  SECTION("simd") { compare<P>(units::simd{}, per_matrix(P::simd_unit)); }
  SECTION("tile") { compare<P>(units::tile{}, per_matrix(P::tile_unit)); }
  SECTION("filter") { compare<P>(units::filter{}, filter_ref()); }
  SECTION("block 3x5") { compare<P>(units::block{3, 5}, per_matrix({3, 5})); }
  SECTION("user scores") { compare<P>(units::simd{}, per_matrix(P::simd_unit), false, true); }
}

TEST_CASE("channel units follow the OIHW kernel area", "[select]") {
  using P = presets::nvidia;
  for (int area : {1, 5}) {
    compare<P>(units::channel{area}, [area](const auto& src, auto& keep, std::size_t r, std::size_t c, criterion crit,
                                            double sp) {
      ref::per_matrix(src, keep, r, c, {static_cast<int>(r), area}, crit, sp);
    });
  }
}

TEMPLATE_TEST_CASE("balanced selection matches the reference", "[select][balanced]", presets::nvidia,
                   presets::pocl_avx512) {
  using P = TestType;
  SECTION("element") { compare<P>(units::element{}, balanced_ref({1, 1}), true); }
  SECTION("simd") { compare<P>(units::simd{}, balanced_ref(P::simd_unit), true); }
  SECTION("tile") { compare<P>(units::tile{}, balanced_ref(P::tile_unit), true); }
  SECTION("block") { compare<P>(units::block{2, 3}, balanced_ref({2, 3}), true); }
  SECTION("multi") {
    compare<P>(units::multi{}, [](const auto& src, auto& keep, std::size_t r, std::size_t c, criterion crit, double sp) {
      ref::balanced(src, keep, r, c, P::tile_unit, crit, 1 - std::sqrt(1 - sp));
      ref::balanced(src, keep, r, c, P::simd_unit, crit, sp);
    }, true);
  }
}

TEMPLATE_TEST_CASE("multi-level: tiles first, then SIMD units inside kept tiles", "[select][multi]", presets::nvidia,
                   presets::pocl_avx512) {
  using P = TestType;
  SECTION("even split") {
    compare<P>(units::multi{}, [](const auto& src, auto& keep, std::size_t r, std::size_t c, criterion crit, double sp) {
      ref::per_matrix(src, keep, r, c, P::tile_unit, crit, 1 - std::sqrt(1 - sp));
      ref::per_matrix(src, keep, r, c, P::simd_unit, crit, sp);
    });
  }
  SECTION("explicit tile sparsity") {
    std::mt19937 g(7);
    const auto w = ref::random_weights(g, 130 * 200, 0);
    const auto m = prune<P>(matrix_view(w, 130, 200), units::multi{0.25}, 0.8);
    std::vector<std::uint8_t> expect(w.size(), 1);
    ref::per_matrix(w, expect, 130, 200, P::tile_unit, criterion::l1, 0.25);
    ref::per_matrix(w, expect, 130, 200, P::simd_unit, criterion::l1, 0.8);
    REQUIRE(m.keep() == expect);
    REQUIRE_THROWS_WITH(prune<P>(matrix_view(w, 130, 200), units::multi{0.9}, 0.8),
                        Catch::Contains("exceeds the overall target"));
  }
}

TEST_CASE("N:M keeps the N largest of every group", "[select][nm]") {
  using P = presets::nvidia;
  for (auto [n, m] : {std::pair{2, 4}, std::pair{1, 4}, std::pair{3, 8}, std::pair{1, 2}}) {
    const units::nm u{n, m};
    compare<P>(u, [n = n, m = m](const auto& src, auto& keep, std::size_t r, std::size_t c, criterion, double) {
      ref::nm(src, keep, r, c, n, m);
    }, false, false, {nominal_sparsity(u)});
  }
}

TEST_CASE("multi-phase: a coarse filter or channel phase, then the fine phase", "[select][phases]") {
  using P = presets::pocl_avx512;
  std::mt19937 g(99);
  const std::size_t O = 40, I = 6, area = 9, K = I * area;
  const auto w = ref::random_weights(g, O * K, 0);
  for (bool channels : {false, true})
    for (double s : {0.5, 0.8}) {
      prune_options opt;
      opt.coarse = coarse_phase{channels ? decltype(coarse_phase::unit){units::channel{static_cast<int>(area)}}
                                         : decltype(coarse_phase::unit){units::filter{}},
                                0.3};
      const auto m = prune<P>(matrix_view(w, O, K), units::simd{}, s, opt);
      std::vector<std::uint8_t> expect(w.size(), 1);
      const unit_shape coarse = channels ? unit_shape{static_cast<int>(O), static_cast<int>(area)}
                                         : unit_shape{1, static_cast<int>(K)};
      ref::per_matrix(w, expect, O, K, coarse, criterion::l1, 0.3);
      ref::per_matrix(w, expect, O, K, P::simd_unit, criterion::l1, s);
      REQUIRE(m.keep() == expect);
      // whole filters / channels of the coarse phase stay removed
      std::size_t empty = 0;
      const auto& coarse_units = ref::units_of(O, K, coarse);
      for (const auto& u : coarse_units) empty += ref::remaining(m.keep(), K, u) == 0;
      REQUIRE(empty >= static_cast<std::size_t>(0.3 * static_cast<double>(coarse_units.size())));
    }
  prune_options bad;
  bad.coarse = coarse_phase{units::filter{}, 0.9};
  REQUIRE_THROWS_WITH(prune<P>(matrix_view(w, O, K), units::simd{}, 0.5, bad), Catch::Contains("exceeds the overall"));
}

TEMPLATE_TEST_CASE("achieved sparsity lies within one unit of the target; units are whole", "[select]",
                   presets::nvidia, presets::pocl_avx512, presets::amd_gcn) {
  using P = TestType;
  std::mt19937 g(5);
  for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{512, 4608}, {67, 97}, {1, 1}, {3, 1000}}) {
    const auto w = ref::random_weights(g, rows * cols, 0);
    for (double s : {0.0, 0.5, 0.75, 0.9, 0.999}) {
      auto check = [&](const auto& m, unit_shape u) {
        const double total = static_cast<double>(rows * cols);
        INFO(rows << "x" << cols << " s " << s << " unit " << u.rows << "x" << u.cols);
        REQUIRE(std::fabs(m.sparsity() - s) * total <= static_cast<double>(u.rows) * u.cols);
        for (const auto& un : ref::units_of(rows, cols, u)) {
          const std::size_t rem = ref::remaining(m.keep(), cols, un);
          REQUIRE((rem == 0 || rem == (un.r1 - un.r0) * (un.c1 - un.c0)));
        }
      };
      check(prune<P>(matrix_view(w, rows, cols), units::simd{}, s), P::simd_unit);
      check(prune<P>(matrix_view(w, rows, cols), units::tile{}, s), P::tile_unit);
      check(prune<P>(matrix_view(w, rows, cols), units::element{}, s), unit_shape{1, 1});
    }
  }
}

TEST_CASE("equal scores are broken by position", "[select]") {
  using P = presets::nvidia; // SIMD unit 8x1
  const std::vector<float> zeros(16 * 4, 0.0f);
  const auto m = prune<P>(matrix_view(zeros, 16, 4), units::simd{}, 0.5);
  // 8 units in row-major unit order: the first four (row-block 0) go first.
  for (std::size_t r = 0; r < 16; ++r)
    for (std::size_t c = 0; c < 4; ++c) REQUIRE(m.kept(r, c) == (r >= 8));
  const std::vector<float> ones(4, 1.0f);
  const auto e = prune<P>(matrix_view(ones, 1, 4), units::element{}, 0.5);
  REQUIRE(e.keep() == std::vector<std::uint8_t>{0, 0, 1, 1});
}

TEST_CASE("bad input is refused with a clear message", "[select][errors]") {
  using P = presets::nvidia;
  std::vector<float> w(8 * 8, 1.0f);
  const matrix_view v(w, 8, 8);
  REQUIRE_THROWS_AS(prune<P>(v, units::simd{}, 1.0), gapp::invalid_argument);
  REQUIRE_THROWS_WITH(prune<P>(v, units::simd{}, -0.1), Catch::Contains("must lie in [0, 1)"));
  REQUIRE_THROWS_WITH(prune<P>(v, units::simd{}, std::nan("")), Catch::Contains("must lie in [0, 1)"));
  REQUIRE_NOTHROW(prune<P>(v, units::simd{}, 0.0));
  REQUIRE(prune<P>(v, units::simd{}, 0.0).sparsity() == 0.0);
  REQUIRE_THROWS_AS(prune<P>(matrix_view(w.data(), 0, 8), units::simd{}, 0.5), gapp::invalid_argument);
  REQUIRE_THROWS_AS(matrix_view(w, 7, 8), gapp::shape_error);
  w[13] = std::nanf("");
  REQUIRE_THROWS_WITH(prune<P>(v, units::simd{}, 0.5), Catch::Contains("weights holds a NaN value at (1, 5)"));
  w[13] = INFINITY;
  REQUIRE_THROWS_AS(prune<P>(v, units::simd{}, 0.5), gapp::value_error);
  w[13] = 1.0f;
  std::vector<float> scores(64, 1.0f);
  scores[3] = -INFINITY;
  prune_options opt;
  opt.scores = scores;
  REQUIRE_THROWS_WITH(prune<P>(v, units::simd{}, 0.5, opt), Catch::Contains("scores holds an infinite value"));
  const std::vector<float> short_scores(63, 1.0f); // one fewer than the weights: never read past its end
  opt.scores = short_scores;
  REQUIRE_THROWS_WITH(prune<P>(v, units::simd{}, 0.5, opt), Catch::Contains("63 scores for a"));
  opt.scores = {};
  opt.balanced = true;
  REQUIRE_THROWS_WITH(prune<P>(v, units::filter{}, 0.5, opt), Catch::Contains("balanced selection is not defined"));
  REQUIRE_THROWS_WITH(prune<P>(v, units::nm{2, 4}, 0.75), Catch::Contains("fixes the sparsity at 0.5"));
  REQUIRE_THROWS_AS(prune<P>(v, units::nm{5, 4}, 0.0), gapp::invalid_argument);
  REQUIRE_THROWS_WITH(prune<P>(v, units::channel{3}, 0.5), Catch::Contains("does not divide K = 8"));
  REQUIRE_THROWS_AS(prune<P>(v, units::block{0, 2}, 0.5), gapp::invalid_argument);
  REQUIRE(prune<P>(v, units::nm{2, 4}).sparsity() == 0.5);
}
