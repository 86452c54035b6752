// Reordering: permutations fold into the weights without changing what the network
// computes; the searched order never keeps less magnitude than the identity, and keeps much
// more where rows of different importance are interleaved.
#include <catch2/catch.hpp>

#include "reference.hpp"

#include <gapp/nn/vgg16.hpp>
#include <gapp/prune.hpp>

#include <algorithm>
#include <filesystem>
#include <random>

using namespace gapp;

TEST_CASE("reorder: rows, column groups and values move as the permutation says", "[reorder]") {
  const std::vector<float> w{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; // 3 × 4
  const reorder::permutation p{2, 0, 1};
  CHECK(reorder::permute_rows(matrix_view(w, 3, 4), p) == std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(reorder::permute_column_groups(matrix_view(w, 3, 4), {1, 0}, 2) ==
        std::vector<float>{2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9});
  CHECK(reorder::permute_values({5, 6, 7}, p) == std::vector<float>{7, 5, 6});
  CHECK(reorder::inverse(p) == reorder::permutation{1, 2, 0});
  // not permutations: wrong size, out of range, repeated
  CHECK_THROWS_WITH(reorder::permute_rows(matrix_view(w, 3, 4), {0, 1}), Catch::Contains("2 entries for 3"));
  CHECK_THROWS_WITH(reorder::permute_rows(matrix_view(w, 3, 4), {0, 1, 3}), Catch::Contains("outside [0, 3)"));
  CHECK_THROWS_WITH(reorder::permute_rows(matrix_view(w, 3, 4), {0, 1, 1}), Catch::Contains("appears twice"));
  CHECK_THROWS_AS(reorder::permute_column_groups(matrix_view(w, 3, 4), {0, 1, 2}, 3), shape_error);
}

TEST_CASE("reorder: a permuted network computes the same logits", "[reorder][nn]") {
  nn::vgg16_config cfg;
  cfg.input = 64, cfg.in_channels = 3, cfg.width = 0.0625, cfg.hidden = 24, cfg.classes = 7;
  nn::vgg16_weights w = nn::he_init(cfg, 9);
  std::mt19937 g(4);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  for (auto& p : w.params)
    for (auto& b : p.bias) b = nd(g); // non-zero biases: they must follow their rows
  nn::tensor4 x(2, 3, 64, 64);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& v : x.data) v = u(g);
  const std::vector<float> ref = nn::forward_host(w, x);
  nn::vgg16_weights p = w;
  // every layer but the last, including conv5_3 → fc6 (flattened 2×2 maps) and fc6 → fc7
  for (std::size_t i = 0; i + 1 < p.layers.size(); ++i) {
    reorder::permutation perm = reorder::identity(p.layers[i].shape.out_channels);
    std::shuffle(perm.begin(), perm.end(), g);
    nn::permute_channels(p, i, perm);
  }
  CHECK(p.params[3].weight != w.params[3].weight);
  const std::vector<float> out = nn::forward_host(p, x);
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < ref.size(); ++i)
    diff = std::max(diff, std::fabs(double(out[i]) - ref[i])), scale = std::max(scale, std::fabs(double(ref[i])));
  CHECK(scale > 0.1);
  CHECK(diff <= 1e-5 * scale);
  // a wrong fold (the next layer left alone) changes the logits: the check can fail
  nn::vgg16_weights q = w;
  reorder::permutation rev = reorder::identity(q.layers[4].shape.out_channels);
  std::reverse(rev.begin(), rev.end());
  q.params[4].weight = reorder::permute_rows(
      matrix_view(q.params[4].weight, q.layers[4].shape.out_channels, q.layers[4].shape.gemm_cols()), rev);
  q.params[4].bias = reorder::permute_values(q.params[4].bias, rev);
  const std::vector<float> wrong = nn::forward_host(q, x);
  double wd = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) wd = std::max(wd, std::fabs(double(wrong[i]) - ref[i]));
  CHECK(wd > 1e-3 * scale);
  CHECK_THROWS_WITH(nn::permute_channels(p, p.layers.size() - 1, reorder::identity(7)), Catch::Contains("no next layer"));
  CHECK_THROWS_AS(nn::permute_channels(p, 0, reorder::identity(3)), invalid_argument);
}

TEST_CASE("reorder: the searched order never keeps less than the identity", "[reorder]") {
  std::mt19937 g(21);
  using P = presets::pocl_avx512; // SIMD unit 8×4, tile 64×32
  const policy_units pu{P::simd_unit, P::tile_unit};
  for (std::size_t rows : {1, 5, 8, 13, 70, 130}) {
    for (int kind : {0, 1, 2}) {
      const auto w = ref::random_weights(g, rows * 72, kind);
      const matrix_view v(w, rows, 72);
      for (double s : {0.5, 0.9})
        for (bool bal : {false, true}) {
          reorder::search_options o;
          o.balanced = bal, o.max_evaluations = 40;
          auto check = [&](const auto& unit, const char* name) {
            INFO(name << " rows " << rows << " kind " << kind << " s " << s << " balanced " << bal);
            const reorder::search_result r = reorder::search_rows(v, unit, s, pu, o);
            reorder::check_permutation(r.order, rows, "test");
            CHECK(r.kept_l2 >= r.identity_kept_l2);
            CHECK(r.kept_l2 == Approx(reorder::kept_l2_with(v, r.order, unit, s, pu, o)));
            CHECK(r.identity_kept_l2 == Approx(reorder::kept_l2_with(v, reorder::identity(rows), unit, s, pu, o)));
            CHECK(r.evaluations <= std::max<std::size_t>(o.max_evaluations, 2));
          };
          check(units::simd{}, "simd");
          check(units::tile{}, "tile");
          check(units::multi{}, "multi");
          check(units::block{4, 8}, "block 4x8");
          if (!bal) check(units::filter{}, "filter"); // rows one tall: nothing to gain
        }
    }
  }
}

TEST_CASE("reorder: interleaved strong and weak rows are grouped", "[reorder]") {
  // 16 rows alternating |w| ≈ 1 and ≈ 0.01: every 8-row SIMD unit mixes both; at 0.5 the
  // identity keeps half of the strong weights, grouping the strong rows keeps all of them
  std::mt19937 g(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(16 * 64);
  for (std::size_t r = 0; r < 16; ++r)
    for (std::size_t k = 0; k < 64; ++k) w[r * 64 + k] = nd(g) * (r % 2 ? 0.01f : 1.0f);
  const reorder::search_result r = reorder::search_rows<presets::pocl_avx512>(matrix_view(w, 16, 64), units::simd{}, 0.5);
  CHECK(r.identity_kept_l2 < 0.8);
  CHECK(r.kept_l2 > 0.99);
  // the kept rows are the strong ones: after reordering, the first unit row holds them
  for (std::size_t i = 0; i < 8; ++i) CHECK(r.order[i] % 2 == 0);
  // a single-row unit cannot gain from a row order: the identity comes back
  const reorder::search_result e = reorder::search_rows<presets::pocl_avx512>(matrix_view(w, 16, 64), units::element{}, 0.5);
  CHECK(e.order == reorder::identity(16));
  CHECK(e.evaluations == 1);
}

TEST_CASE("reorder: input-channel orders for tile units never keep less, and group strong channels", "[reorder]") {
  using P = presets::pocl_avx512; // tile unit 64×32: 32 columns hold 3.5 channels of 3×3
  const policy_units pu{P::simd_unit, P::tile_unit};
  std::mt19937 g(5);
  for (std::size_t rows : {1, 8, 70}) {
    for (std::size_t group : {1, 9}) {
      const std::size_t cols = group * 40; // 40 input channels
      const auto w = ref::random_weights(g, rows * cols, 1);
      const matrix_view v(w, rows, cols);
      reorder::search_options o;
      o.max_evaluations = 30;
      for (double s : {0.5, 0.75}) {
        INFO("rows " << rows << " group " << group << " s " << s);
        const auto r = reorder::search_column_groups(v, group, units::tile{}, s, pu, o);
        reorder::check_permutation(r.order, 40, "test");
        CHECK(r.kept_l2 >= r.identity_kept_l2);
        CHECK(r.kept_l2 == Approx(reorder::kept_l2_with_groups(v, r.order, group, units::tile{}, s, pu, o)));
        const auto m = reorder::search_column_groups(v, group, units::multi{}, s, pu, o);
        CHECK(m.kept_l2 >= m.identity_kept_l2);
      }
    }
  }
  // 64 rows × 64 one-column channels alternating strong and weak: each 32-column tile mixes
  // them; grouping the strong channels lets whole tiles of weak ones go
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(64 * 64);
  for (std::size_t r = 0; r < 64; ++r)
    for (std::size_t k = 0; k < 64; ++k) w[r * 64 + k] = nd(g) * (k % 2 ? 0.01f : 1.0f);
  const auto r = reorder::search_column_groups(matrix_view(w, 64, 64), 1, units::tile{}, 0.5, pu);
  CHECK(r.identity_kept_l2 < 0.8);
  CHECK(r.kept_l2 > 0.99);
  // units that hold whole channels gain nothing: identity at once
  const auto s = reorder::search_column_groups(matrix_view(w, 64, 64), 4, units::simd{}, 0.5, pu);
  CHECK(s.order == reorder::identity(16));
  CHECK(s.evaluations == 1);
  CHECK_THROWS_AS(reorder::search_column_groups(matrix_view(w, 64, 64), 7, units::tile{}, 0.5, pu), shape_error);
}

TEST_CASE("reorder: one order for a layer boundary serves the layer's rows and the next layer's inputs", "[reorder]") {
  using P = presets::pocl_avx512;
  const policy_units pu{P::simd_unit, P::tile_unit};
  std::mt19937 g(9);
  reorder::search_options o;
  o.max_evaluations = 40;
  for (std::size_t channels : {1, 7, 64}) {
    for (std::size_t group : {1, 9}) {
      const auto w = ref::random_weights(g, channels * 27, 1), n = ref::random_weights(g, 48 * channels * group, 2);
      const matrix_view wv(w, channels, 27), nv(n, 48, channels * group);
      for (double s : {0.5, 0.75}) {
        INFO("channels " << channels << " group " << group << " s " << s);
        for (const any_unit& u : {any_unit(units::simd{}), any_unit(units::tile{}), any_unit(units::multi{})}) {
          const auto r = std::visit(
              [&](const auto& unit) { return reorder::search_rows_with_next(wv, nv, group, unit, s, pu, o); }, u);
          reorder::check_permutation(r.order, channels, "test");
          CHECK(r.kept_l2 >= r.identity_kept_l2);
          // the combined fraction is the two layers' kept magnitude over their whole magnitude
          const double aw = reorder::sum_squares(wv), an = reorder::sum_squares(nv);
          const double kw = std::visit([&](const auto& unit) { return reorder::kept_l2_with(wv, r.order, unit, s, pu, o); }, u);
          const double kn = std::visit(
              [&](const auto& unit) { return reorder::kept_l2_with_groups(nv, r.order, group, unit, s, pu, o); }, u);
          CHECK(r.kept_l2 == Approx(std::sqrt((kw * kw * aw + kn * kn * an) / (aw + an))));
        }
      }
    }
  }
  // 64 channels alternating strong and weak in the next layer only (one column each): the
  // rows of this layer are alike, so the order is for the next layer's 32-column tiles
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(64 * 16), n(64 * 64);
  for (auto& v : w) v = 0.01f * nd(g);
  for (std::size_t r = 0; r < 64; ++r)
    for (std::size_t k = 0; k < 64; ++k) n[r * 64 + k] = nd(g) * (k % 2 ? 0.01f : 1.0f);
  const auto r = reorder::search_rows_with_next(matrix_view(w, 64, 16), matrix_view(n, 64, 64), 1, units::tile{}, 0.5, pu);
  CHECK(r.identity_kept_l2 < 0.8);
  CHECK(r.kept_l2 > 0.99);
  // the same order on rows alone (search_rows) cannot see the next layer
  const auto rows_only = reorder::search_rows(matrix_view(w, 64, 16), units::tile{}, 0.5, pu);
  CHECK(reorder::kept_l2_with_groups(matrix_view(n, 64, 64), rows_only.order, 1, units::tile{}, 0.5, pu) < 0.9);
  CHECK_THROWS_AS(reorder::search_rows_with_next(matrix_view(w, 64, 16), matrix_view(n, 64, 64), 2, units::tile{}, 0.5, pu),
                  shape_error);
}

TEST_CASE("reorder: permutation files are checked, naming the file", "[reorder][errors]") {
  const std::string dir = std::string(GAPP_TEST_TMP) + "/perm_files";
  std::filesystem::create_directories(dir);
  const reorder::permutation p{2, 0, 3, 1};
  reorder::write_permutation(dir + "/ok.npy", p);
  CHECK(reorder::read_permutation(dir + "/ok.npy", 4) == p);
  auto bad = [&](const std::string& name, const std::vector<std::int32_t>& v, std::vector<std::size_t> shape,
                 const char* why) {
    const std::string path = dir + "/" + name;
    npy::write(path, shape, v.data());
    INFO(name);
    CHECK_THROWS_AS(reorder::read_permutation(path, 4), file_error);
    CHECK_THROWS_WITH(reorder::read_permutation(path, 4), Catch::Contains(path) && Catch::Contains(why));
  };
  bad("short.npy", {0, 1, 2}, {3}, "3 entries for 4");
  bad("repeat.npy", {0, 1, 1, 2}, {4}, "appears twice");
  bad("range.npy", {0, 1, 2, 4}, {4}, "outside [0, 4)");
  bad("negative.npy", {0, -1, 2, 3}, {4}, "outside [0, 4)");
  bad("matrix.npy", {0, 1, 2, 3}, {2, 2}, "1-D");
  const std::vector<float> f{0, 1, 2, 3};
  npy::write(dir + "/float.npy", {4}, f.data());
  CHECK_THROWS_WITH(reorder::read_permutation(dir + "/float.npy", 4), Catch::Contains("expected int32"));
}
