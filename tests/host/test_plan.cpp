// The plan layer on the host: every packed format meets its kernel's arguments in the
// kernel's order, and running the plan as the kernels index it gives the reference product;
// validation names the field of any inconsistent packed structure; one unit and technique
// vocabulary.
#include <catch2/catch.hpp>

#include "plan_interpreter.hpp"
#include "reference.hpp"

#include <gapp/prune.hpp>

#include <cmath>
#include <string>

using namespace gapp;

namespace {

const std::pair<std::size_t, std::size_t> shapes[] = {{1, 9}, {7, 18}, {64, 64}, {67, 99}, {130, 207}};

/// act(W·X + bias) with the masked W, in double.
std::vector<float> reference(const std::vector<float>& w, std::size_t rows, std::size_t cols, const std::vector<float>& x,
                             std::size_t n, const kernels::plan_options& o) {
  std::vector<float> y(rows * n);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < n; ++j) {
      double a = o.epi.bias ? o.bias[r] : 0.0;
      for (std::size_t k = 0; k < cols; ++k) a += double(w[r * cols + k]) * x[k * n + j];
      y[r * n + j] = static_cast<float>(o.epi.relu ? std::max(a, 0.0) : a);
    }
  return y;
}

void require_close(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(double(got[i]) - want[i]);
    worst = std::isnan(got[i]) ? INFINITY : std::max(worst, d / (1.0 + std::fabs(want[i])));
  }
  REQUIRE(worst < 1e-4);
}

template <class P, class U>
void check_unit(const U& unit_in, double s, bool balanced) {
  std::mt19937 g(11);
  for (auto [rows, cols] : shapes)
    for (bool epi : {false, true}) {
      U unit = unit_in;
      if constexpr (std::is_same_v<U, units::channel>)
        if (cols % static_cast<std::size_t>(unit.kernel_area)) continue;
      const auto w = ref::random_weights(g, rows * cols, 0);
      const matrix_view v(w, rows, cols);
      prune_options po;
      po.balanced = balanced;
      const auto m = prune<P>(v, unit, s, po);
      kernels::plan_options o;
      o.epi = {epi, epi};
      if (epi) o.bias = ref::random_weights(g, rows, 0);
      const kernels::gemm_plan plan = kernels::plan_gemm<P>(pack(v, m), o);
      const std::size_t n = 1 + rows % 13;
      const auto x = ref::random_weights(g, cols * n, 0);
      INFO(P::name << " " << units::name_of<U>() << (balanced ? "-balanced " : " ") << rows << "x" << cols
                   << " variant " << plan.variant << " epilogue " << epi);
      require_close(ref::run_plan<P>(plan, x, n), reference(m.apply(v), rows, cols, x, n, o));
      if (plan.gemm) {
        // the arguments are the kernel's, in its order, and the source declares exactly them
        const auto& table = unit_traits<U>::kernel_walk == walk::csr ? kernels::csr_kernel_args() : kernels::gemm_kernel_args();
        REQUIRE(plan.gemm->args.size() == table.size());
        for (std::size_t i = 0; i < table.size(); ++i) REQUIRE(std::string(plan.gemm->args[i].arg.name) == table[i].name);
        REQUIRE(plan.gemm->source.source.find(kernels::parameter_list(table)) != std::string::npos);
        REQUIRE(plan.gemm->config.mode == kernels::walk_of<P, U>());
      }
    }
}

template <class P>
void check_all_units() {
  check_unit<P>(units::element{}, 0.7, false);
  check_unit<P>(units::simd{}, 0.6, false);
  check_unit<P>(units::simd{}, 0.6, true);
  check_unit<P>(units::tile{}, 0.5, false);
  check_unit<P>(units::tile{}, 0.5, true);
  check_unit<P>(units::multi{}, 0.7, false);
  check_unit<P>(units::multi{}, 0.7, true);
  check_unit<P>(units::filter{}, 0.5, false);
  check_unit<P>(units::filter{}, 0.99, false); // every row pruned: a fill alone
  check_unit<P>(units::channel{9}, 0.4, false);
  check_unit<P>(units::channel{9}, 0.99, false); // every channel pruned
  check_unit<P>(units::nm{2, 4}, 0.5, false);
  check_unit<P>(units::block{P::tm, P::tk}, 0.5, false);
}

} // namespace

TEMPLATE_TEST_CASE("plan: every unit runs as its kernel indexes it", "[plan]", presets::pocl_avx512, presets::nvidia,
                   presets::arm_mali_valhall) {
  check_all_units<TestType>();
}

TEST_CASE("plan: the direct family runs multi-level units as SIMD units over the same units", "[plan]") {
  using P = presets::pocl_avx512;
  std::mt19937 g(5);
  for (const auto& [rows, cols] : shapes)
    for (const bool balanced : {false, true}) {
      const auto v = ref::random_weights(g, rows * cols, 0);
      const matrix_view w(v.data(), rows, cols);
      prune_options po;
      po.balanced = balanced;
      const auto m = prune<P>(w, units::multi{}, 0.7, po);
      const auto packed = pack(w, m);
      const unit_list u = kernels::units_of(packed);
      INFO(rows << "x" << cols << (balanced ? " balanced" : ""));
      REQUIRE(u.kept_units() == packed.kept_units());
      REQUIRE(u.row_ptr.size() == (rows + P::simd_unit.rows - 1) / P::simd_unit.rows + 1);
      REQUIRE(u.unpack() == packed.unpack()); // the same weights in the same places
      const kernels::gemm_plan plan = kernels::plan_gemm<P>(packed);
      REQUIRE(plan.gemm->config.mode == kernels::walk::simd);
      REQUIRE(plan.variant.rfind("multi", 0) == 0);
      REQUIRE(plan.gemm->arg("I3").as<std::int32_t>() == u.k_idx);
    }
  // the local family keeps its multi-level walk (it stages X only for the kept tiles)
  STATIC_REQUIRE(kernels::walk_of<presets::nvidia, units::multi>() == kernels::walk::multi);
  kernels::gemm_config c;
  c.mode = kernels::walk::multi;
  REQUIRE_THROWS_WITH(kernels::gemm_source<P>(c), Catch::Contains("walks multi-level units as SIMD units"));
  REQUIRE_NOTHROW(kernels::gemm_source<presets::nvidia>(c));
}

TEST_CASE("plan: dense weights, arguments and geometry", "[plan]") {
  using P = presets::pocl_avx512;
  std::mt19937 g(5);
  const auto w = ref::random_weights(g, 70 * 33, 0);
  const auto plan = kernels::plan_gemm<P>(matrix_view(w, 70, 33));
  REQUIRE(plan.variant == "dense");
  REQUIRE(!plan.fill);
  const auto& l = *plan.gemm;
  REQUIRE(l.arg("M").value == 70);
  REQUIRE(l.arg("K").value == 33);
  REQUIRE(l.arg("N").source == kernels::arg_source::launch_n);
  REQUIRE(l.arg("X").source == kernels::arg_source::input_x);
  REQUIRE(l.arg("Y").source == kernels::arg_source::output_y);
  REQUIRE(l.arg("Wv").bound);
  for (const char* unused : {"I0", "I1", "I2", "I3", "IB", "rowmap", "kmap", "bias"}) REQUIRE(!l.arg(unused).bound);
  const auto geo = l.geometry(100);
  REQUIRE(geo.local[0] == static_cast<std::size_t>(P::work_group_x));
  REQUIRE(geo.local[1] == static_cast<std::size_t>(P::work_group_y));
  REQUIRE(geo.global[0] == (100 + P::tn - 1) / P::tn * P::work_group_x);
  REQUIRE(geo.global[1] == (70 + P::tm - 1) / P::tm * P::work_group_y);
  // several column tiles per work-group (the direct family's kernels take them): 1000
  // columns are 32 tiles of 32, 7 groups of 5 (the last with 2); rows unchanged
  REQUIRE(l.grid.column_tiles);
  const std::size_t tiles = (1000 + P::tn - 1) / P::tn;
  const auto g5 = l.grid.geometry(1000, 5);
  REQUIRE(g5.global[0] == (tiles + 4) / 5 * P::work_group_x);
  REQUIRE(g5.global[1] == geo.global[1]);
  REQUIRE(g5.local[0] == geo.local[0]);
  REQUIRE(l.grid.geometry(1000, 1).global[0] == tiles * P::work_group_x);
  REQUIRE(l.grid.geometry(1000, 100).global[0] == static_cast<std::size_t>(P::work_group_x));
  // the local family's kernels compute one tile per work-group, whatever is asked
  const auto lp = kernels::plan_gemm<presets::nvidia>(matrix_view(w, 70, 33));
  REQUIRE(!lp.gemm->grid.column_tiles);
  REQUIRE(lp.gemm->grid.geometry(1000, 5).global[0] == lp.gemm->grid.geometry(1000).global[0]);
  REQUIRE_THROWS_WITH(l.arg("Z"), Catch::Contains("no argument 'Z'"));
  const auto x = ref::random_weights(g, 33 * 5, 0);
  require_close(ref::run_plan<P>(plan, x, 5), reference(w, 70, 33, x, 5, {}));

  kernels::plan_options o;
  o.epi.bias = true;
  o.bias.assign(69, 0.0f);
  REQUIRE_THROWS_AS(kernels::plan_gemm<P>(matrix_view(w, 70, 33), o), shape_error);
  o.bias.assign(70, 0.0f);
  o.bias[3] = NAN;
  REQUIRE_THROWS_AS(kernels::plan_gemm<P>(matrix_view(w, 70, 33), o), value_error);
}

namespace {

/// Corrupting `field` of a valid packed structure must raise format_error naming it, from
/// validate() and from the plan.
template <class P, class U, class F>
void expect_refused(const packed<P, U>& good, const char* field, F&& corrupt) {
  packed<P, U> bad = good;
  corrupt(bad);
  INFO(units::name_of<U>() << ": corrupting " << field);
  try {
    validate(bad);
    FAIL("validate accepted it");
  } catch (const format_error& e) {
    REQUIRE(e.field().rfind(field, 0) == 0);
  }
  REQUIRE_THROWS_AS(kernels::plan_gemm<P>(bad), format_error);
}

} // namespace

TEST_CASE("plan: the narrow kernel for N of at most 4, and an implicit plan's matrix kernels", "[plan]") {
  using P = presets::pocl_avx512;
  std::mt19937 g(6);
  const auto w = ref::random_weights(g, 70 * 100, 0);
  const auto plan = kernels::plan_gemm<P>(matrix_view(w, 70, 100));
  const auto& l = *plan.gemm;
  REQUIRE(l.narrow);
  REQUIRE(l.narrow->source.name == "gapp_gemm_narrow");
  REQUIRE(l.narrow->max_n == kernels::narrow_max_n);
  REQUIRE(l.uses_narrow(1));
  REQUIRE(l.uses_narrow(kernels::narrow_max_n));
  REQUIRE(!l.uses_narrow(kernels::narrow_max_n + 1));
  // one work-item per RM rows and all columns, one tile row per work-group: 70 rows = 2 tile rows
  const auto gn = l.geometry(3);
  REQUIRE(gn.global[0] == 1);
  REQUIRE(gn.local[0] == 1);
  REQUIRE(gn.local[1] == static_cast<std::size_t>(P::tm / P::rm));
  REQUIRE(gn.global[1] == 2 * static_cast<std::size_t>(P::tm / P::rm));
  const auto gw = l.geometry(5), want = kernels::gemm_geometry<P>(70, 5);
  REQUIRE((gw.global[0] == want.global[0] && gw.global[1] == want.global[1]));
  REQUIRE(!l.matrix); // only an implicit convolution's plan has matrix kernels

  // none where the register tile is not a vector of rows (RM 12), nor for the local family,
  // element-wise or N:M
  using rm12 = policy<device_traits<16, 4096, 1 << 20, 16, lane_mapping::vector>,
                      tiling<96, 32, 32, 12, 32, 4, staging::direct>>;
  REQUIRE(!kernels::plan_gemm<rm12>(matrix_view(w, 70, 100)).gemm->narrow);
  REQUIRE(!kernels::plan_gemm<presets::nvidia>(matrix_view(w, 70, 100)).gemm->narrow);
  const matrix_view wv(w, 70, 100);
  REQUIRE(!kernels::plan_gemm<P>(pack(wv, prune<P>(wv, units::element{}, 0.5))).gemm->narrow);
  REQUIRE(!kernels::plan_gemm<P>(pack(wv, prune<P>(wv, units::nm{2, 4}))).gemm->narrow);
  REQUIRE(kernels::plan_gemm<P>(pack(wv, prune<P>(wv, units::simd{}, 0.5))).gemm->narrow);
  REQUIRE(kernels::plan_gemm<P>(pack(wv, prune<P>(wv, units::tile{}, 0.5))).gemm->narrow);

  // without narrow (a convolution's GEMM): none
  kernels::plan_options no_narrow;
  no_narrow.narrow = false;
  REQUIRE(!kernels::plan_gemm<P>(matrix_view(w, 70, 100), no_narrow).gemm->narrow);

  // an implicit convolution: the conv kernel reads the input, the matrix kernel reads a
  // column matrix, over the same arguments
  const auto wc = ref::random_weights(g, 16 * 27, 0);
  kernels::plan_options o;
  o.implicit_kh = o.implicit_kw = 3;
  const auto pc = kernels::plan_gemm<P>(matrix_view(wc, 16, 27), o);
  REQUIRE(pc.implicit());
  REQUIRE(!pc.gemm->narrow);
  REQUIRE(pc.gemm->matrix);
  REQUIRE(pc.gemm->source.source.find("#define GAPP_IMPLICIT 1") != std::string::npos);
  REQUIRE(pc.gemm->matrix->source.source.find("#define GAPP_IMPLICIT 0") != std::string::npos);
  REQUIRE(pc.gemm->matrix->source.name == "gapp_gemm");
}

TEST_CASE("validation: every field of every packed format is checked", "[plan][validate]") {
  using P = presets::pocl_avx512;
  std::mt19937 g(3);
  const std::size_t R = 70, C = 99;
  const auto w = ref::random_weights(g, R * C, 0);
  const matrix_view v(w, R, C);

  const auto tile = pack(v, prune<P>(v, units::tile{}, 0.5));
  REQUIRE_NOTHROW(validate(tile));
  expect_refused(tile, "col_idx", [](auto& p) { p.col_idx[0] = 1000; });
  expect_refused(tile, "col_idx", [](auto& p) { p.col_idx[0] = -1; });
  expect_refused(tile, "row_ptr", [](auto& p) { p.row_ptr.back() += 1; });
  expect_refused(tile, "row_ptr", [](auto& p) { p.row_ptr.pop_back(); });
  expect_refused(tile, "values", [](auto& p) { p.values.pop_back(); });
  expect_refused(tile, "values", [](auto& p) { p.values[1] = INFINITY; });
  expect_refused(tile, "block_rows", [](auto& p) { p.block_rows = 8; });

  const auto simd = pack(v, prune<P>(v, units::simd{}, 0.5));
  expect_refused(simd, "k_idx", [](auto& p) { p.k_idx[0] = static_cast<std::int32_t>(C); });
  expect_refused(simd, "k_idx", [](auto& p) { p.k_idx[1] = p.k_idx[0]; }); // a repeat
  expect_refused(simd, "k_idx", [](auto& p) { p.k_idx[0] += 1; });          // off a unit's first column
  expect_refused(simd, "row_ptr", [](auto& p) { std::swap(p.row_ptr[1], p.row_ptr[2]); p.row_ptr[1] += 100; });
  expect_refused(simd, "values", [](auto& p) { p.values.resize(p.values.size() - 3); });
  expect_refused(simd, "unit_rows", [](auto& p) { p.unit_rows += 1; });
  expect_refused(simd, "fixed_count", [](auto& p) { p.fixed_count = 12345; });

  const auto multi = pack(v, prune<P>(v, units::multi{}, 0.7));
  expect_refused(multi, "tile_col", [](auto& p) { p.tile_col[0] = 99; });
  expect_refused(multi, "seg_ptr", [](auto& p) { p.seg_ptr.back() -= 1; });
  expect_refused(multi, "k_idx", [](auto& p) { p.k_idx[0] = static_cast<std::int32_t>(C) + 8; });
  expect_refused(multi, "k_idx", [](auto& p) { p.k_idx[0] += 1; }); // off a unit's first column
  expect_refused(multi, "tile_ptr", [](auto& p) { p.tile_ptr[0] = 1; });

  const auto csr = pack(v, prune<P>(v, units::element{}, 0.7));
  expect_refused(csr, "col_idx", [](auto& p) { p.col_idx[2] = static_cast<std::int32_t>(C); });
  expect_refused(csr, "values", [](auto& p) { p.values.push_back(1.0f); });
  expect_refused(csr, "row_ptr", [](auto& p) { p.row_ptr[3] = -5; });

  const auto nm = pack(v, prune<P>(v, units::nm{2, 4}));
  expect_refused(nm, "index", [](auto& p) { p.index[0] = 4; });
  expect_refused(nm, "index", [](auto& p) { p.index.pop_back(); });
  expect_refused(nm, "n", [](auto& p) { p.n = 5; });

  const auto filter = pack(v, prune<P>(v, units::filter{}, 0.5));
  expect_refused(filter, "kept_rows", [](auto& p) { p.kept_rows[0] = static_cast<std::int32_t>(R); });
  expect_refused(filter, "values", [](auto& p) { p.values.pop_back(); });

  const auto channel = pack(v, prune<P>(v, units::channel{9}, 0.5));
  expect_refused(channel, "kept_channels", [](auto& p) { p.kept_channels[0] = 11; });
  expect_refused(channel, "kernel_area", [](auto& p) { p.kernel_area = 7; });

  // a struct built by hand, of the wrong size everywhere
  packed<P, units::tile> empty;
  REQUIRE_THROWS_AS(validate(empty), format_error);
}

TEST_CASE("vocabulary: unit traits and technique names", "[plan][vocabulary]") {
  STATIC_REQUIRE(std::is_same_v<packed<presets::nvidia, units::simd>::format_type, unit_list>);
  STATIC_REQUIRE(std::is_same_v<packed<presets::nvidia, units::block>::format_type, block_list>);
  STATIC_REQUIRE(unit_traits<units::filter>::kernel_walk == walk::dense);
  STATIC_REQUIRE(!unit_traits<units::nm>::balanceable);
  STATIC_REQUIRE(!units::is_unit_v<int>);

  for (const char* name : {"dense", "element", "filter", "channel", "simd", "tile", "multi", "nm:2:4", "nm:1:8",
                           "block:4x4", "simd-balanced", "tile-balanced", "multi-balanced", "element-balanced"})
    REQUIRE(to_string(parse_technique(name)) == name);
  REQUIRE(parse_technique("dense").dense());
  REQUIRE(parse_technique("simd-balanced").is<units::simd>());
  REQUIRE(parse_technique("simd-balanced").balanced);
  REQUIRE(parse_technique("nm:2:4").family() == "nm");
  REQUIRE_THROWS_WITH(parse_technique("balanced"), Catch::Contains("unknown technique 'balanced'"));
  REQUIRE_THROWS_WITH(parse_technique("nm2:4"), Catch::Contains("unknown technique"));
  REQUIRE_THROWS_WITH(parse_technique("filter-balanced"), Catch::Contains("not defined for filter units"));
  REQUIRE_THROWS_WITH(parse_unit("nm:5:4"), Catch::Contains("need N <= M"));
  REQUIRE_THROWS_WITH(parse_unit("nm:0:4"), Catch::Contains("positive integers"));
  REQUIRE_THROWS_WITH(parse_unit("block:4"), Catch::Contains("block:RxC"));
  REQUIRE(std::get<units::channel>(parse_unit("channel", 9)).kernel_area == 9);
}

TEST_CASE("plan: walk_k, the longest walk along K of one work-item", "[plan]") {
  using P = presets::pocl_avx512;
  std::mt19937 g(21);
  const std::size_t M = 130, K = 700; // 3 tile rows of 64, 22 tiles of 32 (the last partial)
  const auto w = ref::random_weights(g, M * K, 0);
  const matrix_view wv(w, M, K);
  REQUIRE(kernels::plan_gemm<P>(wv).gemm->walk_k == K);
  REQUIRE(kernels::plan_gemm<P>(pack(wv, prune<P>(wv, units::simd{}, 0.5))).gemm->walk_k == K);
  // the tile walk: TK x the kept tiles of the fullest tile row, counted here from the mask
  for (const bool balanced : {false, true})
    for (const double s : {0.3, 0.8}) {
      INFO("tile sparsity " << s << (balanced ? ", balanced" : ""));
      prune_options po;
      po.balanced = balanced;
      const auto m = prune<P>(wv, units::tile{}, s, po);
      std::size_t most = 0;
      for (std::size_t r0 = 0; r0 < M; r0 += P::tm) {
        std::size_t kept = 0;
        for (std::size_t k0 = 0; k0 < K; k0 += P::tk) kept += m.kept(r0, k0) ? 1 : 0;
        most = std::max(most, kept);
      }
      const auto plan = kernels::plan_gemm<P>(pack(wv, m));
      REQUIRE(plan.gemm->walk_k == most * static_cast<std::size_t>(P::tk));
      REQUIRE(plan.gemm->walk_k < K);
    }
  // channel-compacted: the compacted K (channels 0 and 2 of 3 kept, kernel area 9)
  const auto wc = ref::random_weights(g, 16 * 27, 0);
  std::vector<std::uint8_t> keep(16 * 27, 0);
  for (std::size_t r = 0; r < 16; ++r)
    for (std::size_t k = 0; k < 27; ++k) keep[r * 27 + k] = k / 9 != 1;
  REQUIRE(kernels::plan_gemm<P>(pack(matrix_view(wc, 16, 27), mask<P, units::channel>(16, 27, keep, units::channel{9})))
              .gemm->walk_k == 18);
}

TEST_CASE("plan: a padded convolution reads its rows through a per-launch offset table", "[plan]") {
  using P = presets::pocl_avx512;
  std::mt19937 g(8);
  const auto wc = ref::random_weights(g, 16 * 27, 0);
  const matrix_view wv(wc, 16, 27);
  kernels::plan_options o;
  o.implicit_kh = o.implicit_kw = 3;
  o.padded = true;
  const auto pc = kernels::plan_gemm<P>(wv, o);
  REQUIRE(pc.padded());
  REQUIRE(!pc.gemm->matrix); // no im2col way in the padded layout
  REQUIRE(pc.gemm->source.source.find("#define GAPP_IMPLICIT 2") != std::string::npos);
  REQUIRE(pc.gemm->arg("kmap").source == kernels::arg_source::padded_rows);
  // 2 images of 5 x 7: pitch 9, image 63, plane 126, N = 126 - 2 * 10
  const auto e = kernels::padded_layout(2, 5, 7);
  REQUIRE((e.pitch == 9 && e.image == 63 && e.plane == 126 && e.first == 10 && e.n == 106));
  // two 2 x 3 images with their borders
  const std::vector<float> img{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const std::vector<float> want{0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0,
                                0, 0, 0, 0, 0, 0, 7, 8, 9, 0, 0, 10, 11, 12, 0, 0, 0, 0, 0, 0};
  REQUIRE(kernels::to_padded(img, 2, 2, 3) == want);
  REQUIRE_THROWS_AS(kernels::to_padded(img, 3, 2, 3), gapp::shape_error);
  const auto off = kernels::padded_row_offsets(*pc.gemm, 2, 5, 7);
  REQUIRE(off.size() >= 27 + 64);
  for (std::size_t r = 0; r < 27; ++r) { // (c, i, j) = (r / 9, r / 3 % 3, r % 3)
    INFO("row " << r);
    REQUIRE(off[r] == static_cast<std::int32_t>(r / 9 * 126 + (r / 3 % 3) * 9 + r % 3) - 10);
  }
  for (std::size_t k = 27; k < off.size(); ++k) REQUIRE(off[k] == off[26]); // past K: a valid row
  // channel-compacted W: the table goes through the channel map (channels 0 and 2 kept)
  std::vector<std::uint8_t> keep(16 * 27, 0);
  for (std::size_t r = 0; r < 16; ++r)
    for (std::size_t k = 0; k < 27; ++k) keep[r * 27 + k] = k / 9 != 1;
  const auto pch = kernels::plan_gemm<P>(pack(wv, mask<P, units::channel>(16, 27, keep, units::channel{9})), o);
  REQUIRE(pch.padded());
  const auto offc = kernels::padded_row_offsets(*pch.gemm, 1, 4, 4); // plane 36, pitch 6, first 7
  for (std::size_t k = 0; k < 18; ++k) {
    const std::size_t r = k < 9 ? k : k + 9;
    REQUIRE(offc[k] == static_cast<std::int32_t>(r / 9 * 36 + (r / 3 % 3) * 6 + r % 3) - 7);
  }
  // the filter technique fills its pruned rows in the plain layout: not padded; N:M never
  // reads the input itself; bad requests
  REQUIRE(!kernels::plan_gemm<P>(pack(wv, prune<P>(wv, units::filter{}, 0.5)), o).padded());
  REQUIRE(!kernels::plan_gemm<P>(pack(wv, prune<P>(wv, units::nm{2, 4})), o).padded());
  REQUIRE_THROWS_AS(kernels::padded_row_offsets(*kernels::plan_gemm<P>(wv).gemm, 1, 4, 4), gapp::invalid_argument);
  kernels::plan_options no_conv;
  no_conv.padded = true;
  REQUIRE_THROWS_AS(kernels::plan_gemm<P>(wv, no_conv), gapp::invalid_argument);
  const auto w75 = ref::random_weights(g, 4 * 75, 0);
  kernels::plan_options five = o;
  five.implicit_kh = five.implicit_kw = 5;
  REQUIRE_THROWS_AS(kernels::plan_gemm<P>(matrix_view(w75, 4, 75), five), gapp::invalid_argument);
}

TEST_CASE("plan: what a plan refuses before it reads a weight, and the local family's plain GEMM", "[plan]") {
  using P = presets::pocl_avx512;
  std::mt19937 g(9);
  const auto w36 = ref::random_weights(g, 16 * 36, 0);
  const matrix_view v36(w36, 16, 36);
  // an implicit convolution needs an odd kernel along both axes (each of these divides K = 36)
  for (const auto& [kh, kw] : {std::pair{2, 3}, std::pair{3, 2}, std::pair{1, 4}, std::pair{2, 2}}) {
    kernels::plan_options o;
    o.implicit_kh = kh, o.implicit_kw = kw;
    INFO(kh << "x" << kw);
    REQUIRE_THROWS_WITH(kernels::plan_gemm<P>(v36, o), Catch::Contains("needs an odd kernel"));
  }
  // the padded layout's border is one pixel: 5 x 5 is refused by the plan itself
  const auto w75 = ref::random_weights(g, 4 * 75, 0);
  kernels::plan_options five;
  five.implicit_kh = five.implicit_kw = 5;
  REQUIRE_NOTHROW(kernels::plan_gemm<P>(matrix_view(w75, 4, 75), five)); // the plain implicit layout takes it
  five.padded = true;
  REQUIRE_THROWS_WITH(kernels::plan_gemm<P>(matrix_view(w75, 4, 75), five), Catch::StartsWith("gemm plan: the padded layout"));
  // beyond 32-bit indexing: refused from the shape alone (the view's 2^32 values are never read)
  REQUIRE_THROWS_AS(kernels::plan_gemm<P>(matrix_view(w36.data(), std::size_t{1} << 16, std::size_t{1} << 16)), gapp::shape_error);
  REQUIRE_THROWS_WITH(kernels::plan_gemm<P>(matrix_view(w36.data(), std::size_t{1} << 16, std::size_t{1} << 16)),
                      Catch::Contains("32-bit indexing"));

  // a padded launch whose row offsets pass 32 bits: K = 27 reads three planes of B × 7 × 9
  const auto w27 = ref::random_weights(g, 16 * 27, 0);
  kernels::plan_options pad;
  pad.implicit_kh = pad.implicit_kw = 3;
  pad.padded = true;
  const auto pc = kernels::plan_gemm<P>(matrix_view(w27, 16, 27), pad);
  // 17e6 images: the last row's offset 2 · 1.071e9 + 2 · 9 + 2 − 10 fits; 20e6: 2.52e9 does not
  const auto fits = kernels::padded_row_offsets(*pc.gemm, 17'000'000, 5, 7);
  REQUIRE(fits[26] == 2'142'000'010);
  REQUIRE_THROWS_AS(kernels::padded_row_offsets(*pc.gemm, 20'000'000, 5, 7), gapp::shape_error);

  // the local family has no implicit convolution: asked for one, padded or not, its plan
  // stays a GEMM over the im2col matrix, and computes it
  using L = presets::nvidia;
  for (bool padded : {false, true}) {
    pad.padded = padded;
    const auto pl = kernels::plan_gemm<L>(matrix_view(w27, 16, 27), pad);
    INFO("padded " << padded);
    REQUIRE(!pl.implicit());
    REQUIRE(!pl.padded());
    REQUIRE(!pl.gemm->config.padded);
    REQUIRE(pl.gemm->source.source.find("#define GAPP_IMPLICIT 0") != std::string::npos);
    const std::size_t n = 11;
    const auto x = ref::random_weights(g, 27 * n, 0);
    require_close(ref::run_plan<L>(pl, x, n), reference(w27, 16, 27, x, n, kernels::plan_options{}));
  }
}
