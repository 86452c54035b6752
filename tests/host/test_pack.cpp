// Every packed format round-trips to the masked dense matrix exactly.
#include <catch2/catch.hpp>

#include "reference.hpp"

using namespace gapp;

namespace {

const std::pair<std::size_t, std::size_t> shapes[] = {{1, 1}, {1, 9}, {7, 1}, {13, 31}, {64, 64}, {67, 97}, {130, 200}};

template <class P, class U>
void round_trip(const U& unit, double s, bool balanced = false) {
  std::mt19937 g(77);
  for (auto [rows, cols] : shapes) {
    if constexpr (std::is_same_v<U, units::channel>)
      if (cols % static_cast<std::size_t>(unit.kernel_area)) continue;
    for (int kind : {0, 1, 2}) {
      const auto w = ref::random_weights(g, rows * cols, kind);
      const matrix_view v(w, rows, cols);
      prune_options opt;
      opt.balanced = balanced;
      const auto m = prune<P>(v, unit, s, opt);
      const auto p = pack(v, m);
      INFO(units::name_of<U>() << " " << rows << "x" << cols << " kind " << kind << " s " << s);
      REQUIRE(p.unpack() == m.apply(v));
      if constexpr (std::is_same_v<U, units::simd>) {
        if (balanced) REQUIRE(p.fixed_count >= 0);
        REQUIRE(p.row_ptr.size() == (rows + P::simd_unit.rows - 1) / P::simd_unit.rows + 1);
        for (auto k : p.k_idx) REQUIRE(k % P::simd_unit.cols == 0);
      }
    }
  }
}

template <class P>
void all_units(double s) {
  round_trip<P>(units::element{}, s);
  round_trip<P>(units::simd{}, s);
  round_trip<P>(units::simd{}, s, true);
  round_trip<P>(units::tile{}, s);
  round_trip<P>(units::multi{}, s);
  round_trip<P>(units::filter{}, s);
  round_trip<P>(units::channel{1}, s);
  round_trip<P>(units::channel{3}, s);
  round_trip<P>(units::block{3, 5}, s);
}

} // namespace

TEMPLATE_TEST_CASE("pruned masks pack and unpack exactly", "[pack]", presets::nvidia, presets::pocl_avx512,
                   presets::amd_gcn) {
  for (double s : {0.0, 0.5, 0.9, 0.999}) all_units<TestType>(s);
  round_trip<TestType>(units::nm{2, 4}, 0.5);
  round_trip<TestType>(units::nm{1, 3}, 1 - 1.0 / 3);
}

TEST_CASE("arbitrary masks pack and unpack exactly", "[pack]") {
  using P = presets::pocl_avx512;
  std::mt19937 g(11);
  std::bernoulli_distribution keep(0.3);
  for (auto [rows, cols] : shapes) {
    const auto w = ref::random_weights(g, rows * cols, 0);
    std::vector<std::uint8_t> k(rows * cols);
    for (auto& x : k) x = keep(g);
    const matrix_view v(w, rows, cols);
    const auto expect = ref::masked(w, k);
    REQUIRE(pack(v, mask<P, units::element>(rows, cols, k)).unpack() == expect);
    REQUIRE(pack(v, mask<P, units::simd>(rows, cols, k)).unpack() == expect);
    REQUIRE(pack(v, mask<P, units::tile>(rows, cols, k)).unpack() == expect);
    REQUIRE(pack(v, mask<P, units::multi>(rows, cols, k)).unpack() == expect);
    REQUIRE(pack(v, mask<P, units::filter>(rows, cols, k)).unpack() == expect);
    REQUIRE(pack(v, mask<P, units::channel>(rows, cols, k)).unpack() == expect);
    REQUIRE(pack(v, mask<P, units::block>(rows, cols, k, units::block{2, 2})).unpack() == expect);
  }
}

TEST_CASE("packed layouts hold what their documentation says", "[pack]") {
  using P = presets::nvidia; // SIMD unit 8x1, tile 64x16
  std::vector<float> w(16 * 32);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i + 1);
  const matrix_view v(w, 16, 32);
  std::vector<std::uint8_t> k(w.size(), 0);
  for (std::size_t r = 8; r < 16; ++r) k[r * 32 + 5] = 1; // one SIMD unit: rows 8..15, column 5
  const auto su = pack(v, mask<P, units::simd>(16, 32, k));
  REQUIRE(su.row_ptr == std::vector<std::int32_t>{0, 0, 1});
  REQUIRE(su.k_idx == std::vector<std::int32_t>{5});
  REQUIRE(su.fixed_count == -1);
  for (int r = 0; r < 8; ++r) REQUIRE(su.values[static_cast<std::size_t>(r)] == w[(8 + static_cast<std::size_t>(r)) * 32 + 5]);
  const auto csr = pack(v, mask<P, units::element>(16, 32, k));
  REQUIRE(csr.nnz() == 8);
  REQUIRE(csr.bytes() == 4 * (17 + 8 + 8));
  const auto tl = pack(v, mask<P, units::tile>(16, 32, k));
  REQUIRE(tl.row_ptr == std::vector<std::int32_t>{0, 1});
  REQUIRE(tl.col_idx == std::vector<std::int32_t>{0});
  REQUIRE(tl.values.size() == 64 * 16); // zero padded to the full tile
  const auto ml = pack(v, mask<P, units::multi>(16, 32, k));
  REQUIRE(ml.tile_col == std::vector<std::int32_t>{0});
  REQUIRE(ml.row_blocks_per_tile() == 8);
  REQUIRE(ml.seg_ptr == std::vector<std::int32_t>{0, 0, 1, 1, 1, 1, 1, 1, 1});
  const auto fr = pack(v, mask<P, units::filter>(16, 32, k));
  REQUIRE(fr.kept_rows.size() == 8);
  REQUIRE(fr.kept_rows.front() == 8);
}

TEST_CASE("pack refuses a mask that does not fit", "[pack][errors]") {
  using P = presets::nvidia;
  std::vector<float> w(8 * 8, 1.0f);
  const matrix_view v(w, 8, 8);
  const auto m = prune<P>(matrix_view(w.data(), 4, 16), units::simd{}, 0.5);
  REQUIRE_THROWS_WITH(pack(v, m), Catch::Contains("weights are 8x8 but the mask is 4x16"));
  std::vector<std::uint8_t> k(64, 1);
  REQUIRE_THROWS_WITH(pack(v, mask<P, units::nm>(8, 8, k, units::nm{2, 4})),
                      Catch::Contains("keeps more than 2 weights in group 0 of row 0"));
  REQUIRE_THROWS_AS((mask<P, units::simd>(8, 7, k)), gapp::shape_error);
  k[5] = 2;
  REQUIRE_THROWS_WITH((mask<P, units::simd>(8, 8, k)), Catch::Contains("value 2 at index 5"));
  w[9] = std::nanf("");
  REQUIRE_THROWS_AS(pack(v, mask<P, units::simd>(8, 8, std::vector<std::uint8_t>(64, 1))), gapp::value_error);
}
