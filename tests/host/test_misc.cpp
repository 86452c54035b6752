#include <catch2/catch.hpp>

#include "reference.hpp"

using namespace gapp;

TEST_CASE("cubic schedule follows Zhu & Gupta", "[schedule]") {
  cubic_schedule s{0.0, 0.9, 100, 1100, 100};
  REQUIRE(s.at(0) == 0.0);
  REQUIRE(s.at(100) == 0.0);
  REQUIRE(s.at(1100) == Approx(0.9));
  REQUIRE(s.at(5000) == Approx(0.9));
  // t = 600: half-way, 0.9 + (0 - 0.9) * 0.5^3
  REQUIRE(s.at(600) == Approx(0.9 - 0.9 * 0.125));
  // held between update steps
  REQUIRE(s.at(650) == s.at(600));
  double prev = -1;
  for (long t = 0; t <= 1200; t += 50) {
    REQUIRE(s.at(t) >= prev);
    prev = s.at(t);
  }
  REQUIRE_THROWS_AS((cubic_schedule{0.5, 0.2, 0, 10, 1}.at(3)), gapp::invalid_argument);
  REQUIRE_THROWS_AS((cubic_schedule{0.0, 1.0, 0, 10, 1}.at(3)), gapp::invalid_argument);
  REQUIRE_THROWS_AS((cubic_schedule{0.0, 0.5, 10, 0, 1}.at(3)), gapp::invalid_argument);
  REQUIRE_THROWS_AS((cubic_schedule{0.0, 0.5, 0, 10, 0}.at(3)), gapp::invalid_argument);
  // the end one step before the beginning is refused; at the beginning itself, a step function
  REQUIRE_THROWS_WITH((cubic_schedule{0.0, 0.5, 10, 9, 1}.at(3)), Catch::Contains("end_step precedes begin_step"));
  const cubic_schedule step{0.1, 0.5, 10, 10, 1};
  REQUIRE(step.at(10) == 0.1);
  REQUIRE(step.at(11) == 0.5);
}

TEST_CASE("OIHW maps onto the GEMM matrix with the input channel slowest", "[conv]") {
  const conv_shape s{4, 3, 3, 2};
  REQUIRE(s.gemm_rows() == 4);
  REQUIRE(s.gemm_cols() == 18);
  std::vector<float> w(s.size());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  const matrix_view g = as_gemm(w.data(), s);
  for (std::size_t o = 0; o < 4; ++o)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t r = 0; r < 3; ++r)
        for (std::size_t q = 0; q < 2; ++q) REQUIRE(g(o, s.gemm_col(c, r, q)) == w[s.oihw_index(o, c, r, q)]);
  // a channel unit removes exactly one input channel of every filter
  using P = presets::nvidia;
  const auto m = prune<P>(g, channel_unit(s), 0.3);
  std::size_t removed_channels = 0;
  for (std::size_t c = 0; c < 3; ++c) {
    const bool k = m.kept(0, s.gemm_col(c, 0, 0));
    removed_channels += !k;
    for (std::size_t o = 0; o < 4; ++o)
      for (std::size_t r = 0; r < 3; ++r)
        for (std::size_t q = 0; q < 2; ++q) REQUIRE(m.kept(o, s.gemm_col(c, r, q)) == k);
  }
  REQUIRE(removed_channels == 1);
  REQUIRE(channel_unit(s).kernel_area == 6);
  REQUIRE_THROWS_AS(as_gemm(w.data(), conv_shape{4, 0, 3, 3}), gapp::shape_error);
}

TEST_CASE("kept L2 fraction and masked copies", "[mask]") {
  using P = presets::nvidia;
  const std::vector<float> w{3, 4, 0, 0};
  const mask<P, units::element> m(2, 2, {1, 0, 1, 1});
  REQUIRE(kept_l2_fraction(matrix_view(w, 2, 2), m) == Approx(0.6));
  REQUIRE(m.apply(matrix_view(w, 2, 2)) == std::vector<float>{3, 0, 0, 0});
  REQUIRE(m.sparsity() == Approx(0.25));
  const std::vector<float> z(4, 0.0f);
  REQUIRE(kept_l2_fraction(matrix_view(z, 2, 2), m) == 1.0);
  REQUIRE_THROWS_AS(kept_l2_fraction(matrix_view(z.data(), 1, 4), m), gapp::shape_error);
  REQUIRE_THROWS_AS((mask<P, units::element>(0, 2, {})), gapp::invalid_argument);
}
