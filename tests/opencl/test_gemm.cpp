// Every kernel variant of both families against the host reference (naive GEMM on the
// masked weights + bias + ReLU), on edge shapes, at several sparsities, for several
// tilings (so several work-group shapes) of each family.
#include <catch2/catch.hpp>

#include "../host/reference.hpp"
#include "cl_env.hpp"

#include <cmath>
#include <sstream>

using namespace gapp;

namespace {

using cpu16 = device_traits<16, 4096, 1 << 20, 16, lane_mapping::vector>;
using gpu32 = device_traits<32, 1024, 48 * 1024, 1, lane_mapping::work_items>;
using gpu8 = device_traits<8, 256, 32 * 1024, 1, lane_mapping::work_items>;

// direct family: work-groups 1x8, 4x4, 4x2 (vector lanes) and 16x8 (Mali, float4)
using direct_a = presets::pocl_avx512;
using direct_b = policy<cpu16, tiling<32, 64, 16, 8, 16, 4, staging::direct>>;
using direct_c = policy<cpu16, tiling<8, 64, 8, 4, 16, 2, staging::direct>>;
using direct_d = presets::arm_mali_valhall;
// local family: work-groups 16x16, 16x8, 8x8
using local_a = presets::nvidia;
using local_b = presets::intel_gen9;
using local_c = policy<gpu8, tiling<16, 16, 8, 2, 2, 1, staging::local>>;

struct shape {
  std::size_t M, K, N;
};
const std::vector<shape> shapes = {{1, 1, 1}, {37, 53, 29}, {70, 100, 45}, {128, 64, 96}, {9, 300, 17}, {33, 70, 48}};
// N of at most kernels::narrow_max_n: the narrow kernel (a fully connected layer at batch 1 to 4)
const std::vector<shape> narrow_shapes = {{1, 7, 1}, {37, 53, 1}, {70, 300, 2}, {130, 1000, 1}, {9, 77, 3}, {64, 129, 4}};

// Whether a launch over N columns must run the narrow kernel: every walk it covers
// (kernels::has_narrow) for a policy whose register tile is a vector of rows.
bool g_expect_narrow = false;

std::vector<float> reference(const std::vector<float>& wm, const std::vector<float>& x, const std::vector<float>& bias,
                             std::size_t M, std::size_t K, std::size_t N, bool relu) {
  std::vector<float> y(M * N);
  for (std::size_t m = 0; m < M; ++m)
    for (std::size_t n = 0; n < N; ++n) {
      double s = bias.empty() ? 0.0 : bias[m];
      for (std::size_t k = 0; k < K; ++k) s += static_cast<double>(wm[m * K + k]) * x[k * N + n];
      y[m * N + n] = static_cast<float>(relu ? std::max(s, 0.0) : s);
    }
  return y;
}

void compare(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& wm,
             const std::vector<float>& x, std::size_t M, std::size_t K, std::size_t N) {
  // error relative to the tolerance 1e-5 * sum |w * x| + 1e-6, worst element reported
  double worst = 0;
  std::size_t wm_ = 0, wn_ = 0;
  for (std::size_t m = 0; m < M; ++m)
    for (std::size_t n = 0; n < N; ++n) {
      double mag = 1e-6;
      for (std::size_t k = 0; k < K; ++k) mag += std::fabs(static_cast<double>(wm[m * K + k]) * x[k * N + n]);
      const double err = std::fabs(static_cast<double>(got[m * N + n]) - want[m * N + n]) / (1e-5 * mag + 1e-6);
      if (!std::isnan(worst) && !(err <= worst)) worst = err, wm_ = m, wn_ = n; // the first NaN stays
    }
  INFO("worst: row " << wm_ << " col " << wn_ << " got " << got[wm_ * N + wn_] << " want " << want[wm_ * N + wn_]);
  REQUIRE(worst <= 1.0);
}

/// Runs one op over X and checks Y against the reference.
/// `tuning`: whether gemm_op adds the device's build options (on PoCL's CPU device the direct
/// family's software prefetch and K chunks); without them, the kernels other devices build.
bool g_tuning = true;
/// gemm_options::tiles_per_group of the operations run_case makes (0: chosen).
std::size_t g_tiles_per_group = 0;

template <class P, class W>
void run_case(const W& weights, const std::vector<float>& masked, std::size_t M, std::size_t K, std::size_t N,
              bool bias_on, bool relu, std::mt19937& g, const char* expect_variant, bool balanced = false) {
  cl_env& env = cl_env::get();
  opencl::gemm_options opt;
  opt.device_tuning = g_tuning;
  opt.tiles_per_group = g_tiles_per_group;
  opt.epi.bias = bias_on, opt.epi.relu = relu;
  std::vector<float> bias;
  if (bias_on) bias = ref::random_weights(g, M, 0), opt.bias = bias;
  opencl::gemm_op<P> op(env.context, env.device, env.cache, weights, opt);
  INFO("variant " << op.variant());
  std::string v = op.variant();
  REQUIRE(v.rfind(expect_variant, 0) == 0);
  // (a filter or channel mask that removed everything leaves only the kernel that fills rows)
  const bool narrow_walk = v.rfind("nm", 0) != 0 && v != "csr" && op.plan().gemm.has_value();
  if (g_expect_narrow && narrow_walk) {
    REQUIRE(op.uses_narrow(N));
    REQUIRE(op.source().name == "gapp_gemm"); // the wide kernel stays the operation's kernel
    REQUIRE(!op.uses_narrow(kernels::narrow_max_n + 1));
  } else if (N > kernels::narrow_max_n) {
    REQUIRE(!op.uses_narrow(N));
  }
  if (balanced) REQUIRE(v.find("balanced") != std::string::npos);
  if (g_tiles_per_group > 1 && op.plan().gemm && op.plan().gemm->grid.column_tiles && !op.uses_narrow(N)) {
    // one work-group along N per g_tiles_per_group column tiles (the last one's share partial)
    const std::size_t tn = static_cast<std::size_t>(P::tn), tiles = (N + tn - 1) / tn;
    REQUIRE(P::mode == staging::direct);
    REQUIRE(op.geometry(N).global[0] == (tiles + g_tiles_per_group - 1) / g_tiles_per_group * P::work_group_x);
  }
  const auto x = ref::random_weights(g, K * N, 0);
  std::vector<float> y0(M * N, 12345.0f); // every element must be overwritten
  cl::Buffer xb = to_device(x), yb = to_device(y0);
  op.enqueue(env.queue, xb, yb, N).wait();
  const auto y = from_device(yb, M * N);
  compare(y, reference(masked, x, bias, M, K, N, relu), masked, x, M, K, N);
}

template <class P>
void all_variants(bool tuning, const std::vector<shape>& shape_list = shapes, bool expect_narrow = false) {
  g_tuning = tuning;
  g_expect_narrow = expect_narrow;
  std::mt19937 g(31337);
  int cases = 0;
  for (const shape& s : shape_list)
    for (double sp : {0.0, 0.5, 0.9, -1.0}) { // -1: everything pruned
      const auto w = ref::random_weights(g, s.M * s.K, 0);
      const matrix_view wv(w, s.M, s.K);
      INFO(P::tm << "x" << P::tn << "x" << P::tk << " " << s.M << "x" << s.K << "x" << s.N << " s " << sp
                 << " device options " << tuning);
      const bool relu = (cases++ % 2) == 0;
      auto masks_for = [&](auto unit) {
        using U = decltype(unit);
        if (sp < 0) return mask<P, U>(s.M, s.K, std::vector<std::uint8_t>(s.M * s.K, 0), unit);
        return prune<P>(wv, unit, sp);
      };
      if (sp >= 0) run_case<P>(wv, w, s.M, s.K, s.N, true, relu, g, "dense");
      {
        auto m = masks_for(units::tile{});
        run_case<P>(pack(wv, m), m.apply(wv), s.M, s.K, s.N, true, relu, g, "tile");
        prune_options bal;
        bal.balanced = true;
        if (sp >= 0) {
          auto mb = prune<P>(wv, units::tile{}, sp, bal);
          run_case<P>(pack(wv, mb), mb.apply(wv), s.M, s.K, s.N, true, !relu, g, "tile", true);
        }
      }
      {
        auto m = masks_for(units::simd{});
        run_case<P>(pack(wv, m), m.apply(wv), s.M, s.K, s.N, true, relu, g, "simd");
        if (sp >= 0) {
          prune_options bal;
          bal.balanced = true;
          auto mb = prune<P>(wv, units::simd{}, sp, bal);
          run_case<P>(pack(wv, mb), mb.apply(wv), s.M, s.K, s.N, false, !relu, g, "simd", true);
        }
      }
      {
        auto m = masks_for(units::multi{});
        run_case<P>(pack(wv, m), m.apply(wv), s.M, s.K, s.N, true, relu, g, "multi");
        if (sp >= 0) {
          prune_options bal;
          bal.balanced = true;
          auto mb = prune<P>(wv, units::multi{}, sp, bal);
          run_case<P>(pack(wv, mb), mb.apply(wv), s.M, s.K, s.N, true, !relu, g, "multi");
        }
      }
      {
        auto m = sp < 0 ? masks_for(units::nm{2, 4}) : prune<P>(wv, units::nm{2, 4});
        run_case<P>(pack(wv, m), m.apply(wv), s.M, s.K, s.N, true, !relu, g, "nm");
      }
      {
        auto m = masks_for(units::filter{});
        run_case<P>(pack(wv, m), m.apply(wv), s.M, s.K, s.N, true, relu, g, "filter");
      }
      {
        auto m = masks_for(units::channel{1});
        run_case<P>(pack(wv, m), m.apply(wv), s.M, s.K, s.N, true, !relu, g, "channel");
      }
      {
        auto m = masks_for(units::element{});
        run_case<P>(pack(wv, m), m.apply(wv), s.M, s.K, s.N, true, relu, g, "csr");
      }
    }
}

} // namespace

TEMPLATE_TEST_CASE("every GEMM kernel variant matches the host reference", "[opencl][gemm]", direct_a, direct_b,
                   direct_c, direct_d, local_a, local_b, local_c) {
  all_variants<TestType>(true);
  g_tuning = true;
}

// The narrow kernel (N ≤ 4): every walk it covers, on row counts that are not whole tiles,
// K not a multiple of TK or of 4, for three direct tilings (RM 8, 4, 4; TK 32, 8, 8; vectors
// of 16 and 4 floats; direct_b repeats direct_a's RM).
TEMPLATE_TEST_CASE("the narrow kernel (N of 1 to 4) matches the host reference for every variant", "[opencl][gemm]",
                   direct_a, direct_c, direct_d) {
  all_variants<TestType>(true, narrow_shapes, true);
  g_expect_narrow = false;
  g_tuning = true;
}

// The direct family as devices other than PoCL's CPU device build it (no software prefetch,
// no K chunks): every variant again, at the same shapes, for the CPU preset and the GPU
// preset of the family (the options change the walks, not the tiling).
TEMPLATE_TEST_CASE("every direct GEMM kernel variant without device build options", "[opencl][gemm]", direct_a,
                   direct_d) {
  all_variants<TestType>(false);
  g_tuning = true;
}

// Several consecutive column tiles per work-group (kernels::grid_rule::column_tiles), forced
// on every launch: every variant, with tile counts that 2 and 3 do not divide and fewer
// tiles than 16 (one group along N), for three direct tilings.
TEMPLATE_TEST_CASE("every direct GEMM kernel variant computing several column tiles per work-group", "[opencl][gemm]",
                   direct_a, direct_c, direct_d) {
  const std::size_t tn = static_cast<std::size_t>(TestType::tn);
  for (const std::size_t r : {2, 3, 16}) {
    g_tiles_per_group = r;
    all_variants<TestType>(true, {{37, 70, 7 * tn + 5}, {9, 33, 4 * tn}, {70, 20, tn + 1}});
  }
  g_tiles_per_group = 0;
  g_tuning = true;
}

// What gemm_op chooses itself on PoCL's CPU devices: a launch over enough column tiles
// takes several per work-group (opencl::cpu_tiles_per_group); without the device's tuning,
// or with tiles_per_group = 1, one.
TEST_CASE("a direct GEMM on a CPU device with many column tiles takes several per work-group", "[opencl][gemm]") {
  using P = direct_a;
  cl_env& env = cl_env::get();
  REQUIRE(opencl::is_pocl_cpu(env.device)); // the device every test runs on
  cl_uint units = 0;
  REQUIRE(env.device.getInfo(CL_DEVICE_MAX_COMPUTE_UNITS, &units) == CL_SUCCESS);
  const std::size_t tn = static_cast<std::size_t>(P::tn), tiles = 384 * units + 1;
  const std::size_t M = P::tm, K = 50, N = (tiles - 1) * tn + 17;
  const std::size_t r = opencl::cpu_tiles_per_group(tiles, 1, units);
  REQUIRE(r > 1);
  std::mt19937 g(10);
  const auto w = ref::random_weights(g, M * K, 0);
  const matrix_view wv(w, M, K);
  const auto m = prune<P>(wv, units::simd{}, 0.9);
  const std::size_t chosen = (tiles + r - 1) / r * P::work_group_x;
  opencl::gemm_op<P> dense(env.context, env.device, env.cache, wv);
  REQUIRE(dense.geometry(N).global[0] == chosen);
  opencl::gemm_options plain;
  plain.device_tuning = false;
  opencl::gemm_op<P> untuned(env.context, env.device, env.cache, wv, plain);
  REQUIRE(untuned.geometry(N).global[0] == tiles * P::work_group_x);
  opencl::gemm_options off;
  off.tiles_per_group = 1;
  opencl::gemm_op<P> one(env.context, env.device, env.cache, pack(wv, m), off);
  REQUIRE(one.geometry(N).global[0] == tiles * P::work_group_x);
  g_tiles_per_group = 0;
  g_tuning = true;
  g_expect_narrow = false;
  run_case<P>(pack(wv, m), m.apply(wv), M, K, N, true, true, g, "simd");
  opencl::gemm_op<P> op(env.context, env.device, env.cache, pack(wv, m));
  REQUIRE(op.geometry(N).global[0] == chosen);
  // a launch with few tiles keeps one per work-group
  REQUIRE(op.geometry(5 * tn).global[0] == 5 * P::work_group_x);
}

// K chunks (GAPP_KCHUNK) by the walk's length and layout (opencl::cpu_k_chunks): over a
// matrix only where the walk is longer than one chunk (a single chunk shares nothing and its
// barrier costs); over padded activations never for the dense walk, and for the tile walk
// only where it is longer than four chunks. The prefetch stays.
TEST_CASE("direct kernels walk K in chunks by the walk's length and layout", "[opencl][gemm]") {
  using P = direct_a;
  cl_env& env = cl_env::get();
  REQUIRE(opencl::is_pocl_cpu(env.device));
  const auto chunk = static_cast<std::size_t>(opencl::cpu_k_chunk<P>());
  const auto has_chunks = [](const std::string& o) { return o.find("-DGAPP_KCHUNK=") != std::string::npos; };
  std::mt19937 g(12);
  for (const std::size_t K : {std::size_t{9}, chunk, chunk + 1}) {
    const auto w = ref::random_weights(g, 40 * K, 0);
    const matrix_view wv(w, 40, K);
    const auto m = prune<P>(wv, units::simd{}, 0.5);
    opencl::gemm_op<P> dense(env.context, env.device, env.cache, wv), simd(env.context, env.device, env.cache, pack(wv, m));
    for (const auto* op : {&dense, &simd}) {
      const std::string& o = op->source().options;
      INFO("K " << K << " " << op->variant() << ": " << o);
      REQUIRE(o.find("-DGAPP_SOFTWARE_PREFETCH=1") != std::string::npos);
      REQUIRE(has_chunks(o) == (K > chunk));
    }
    const auto x = ref::random_weights(g, K * 33, 0);
    const cl::Buffer xb = to_device(x), yb = to_device(std::vector<float>(40 * 33));
    dense.enqueue(env.queue, xb, yb, 33).wait();
    compare(from_device(yb, 40 * 33), reference(w, x, {}, 40, K, 33, false), w, x, 40, K, 33);
  }
  REQUIRE(has_chunks(opencl::device_options<P>(env.device))); // walk not given
  // the rule itself
  REQUIRE(!opencl::cpu_k_chunks<P>(chunk, false, false));
  REQUIRE(opencl::cpu_k_chunks<P>(chunk + 1, false, true));
  REQUIRE(!opencl::cpu_k_chunks<P>(100 * chunk, true, false));
  REQUIRE(!opencl::cpu_k_chunks<P>(4 * chunk, true, true));
  REQUIRE(opencl::cpu_k_chunks<P>(4 * chunk + P::tk, true, true));

  // The tile walk by its kept tiles, over a matrix and over padded activations: a 3x3
  // convolution of 128 channels (K = 1152, 36 tiles of 32 per tile row), one 9 x 11 image.
  const std::size_t C = 128, K = 9 * C, M = 128, H = 9, W = 11;
  const auto w = ref::random_weights(g, M * K, 0);
  const matrix_view wv(w, M, K);
  const auto img = ref::random_weights(g, C * H * W, 0);
  std::vector<float> cols(K * H * W, 0.0f); // im2col of the image, "same" padding
  for (std::size_t r = 0; r < K; ++r)
    for (std::size_t y = 0; y < H; ++y)
      for (std::size_t x = 0; x < W; ++x) {
        const long iy = static_cast<long>(y + r / 3 % 3) - 1, ix = static_cast<long>(x + r % 3) - 1;
        if (iy >= 0 && ix >= 0 && iy < static_cast<long>(H) && ix < static_cast<long>(W))
          cols[r * H * W + y * W + x] = img[(r / 9 * H + iy) * W + ix];
      }
  const auto lay = kernels::padded_layout(1, H, W);
  std::vector<float> padded(C * lay.plane, 0.0f);
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t y = 0; y < H; ++y)
      std::copy_n(&img[(c * H + y) * W], W, &padded[c * lay.plane + (y + 1) * lay.pitch + 1]);
  const cl::Buffer xm = to_device(cols), xp = to_device(padded);
  // s = 0.02 keeps 35 or 36 tiles of a tile row (a walk of more than four chunks), 0.9 keeps
  // 3 or 4 (less than one); dense: the whole K
  for (const double s : {0.0, 0.02, 0.9}) {
    const auto m = prune<P>(wv, units::tile{}, s == 0.0 ? 0.5 : s);
    const std::vector<float> masked = s == 0.0 ? w : m.apply(wv);
    const auto want = reference(masked, cols, {}, M, K, H * W, false);
    for (const bool pad : {false, true}) {
      opencl::gemm_options opt;
      if (pad) opt.implicit_kh = opt.implicit_kw = 3, opt.padded = true, opt.narrow = false;
      kernels::gemm_plan plan = s == 0.0 ? kernels::plan_gemm<P>(wv, opt.plan()) : kernels::plan_gemm<P>(pack(wv, m), opt.plan());
      const std::size_t walk = plan.gemm->walk_k;
      const bool tile = s > 0.0;
      const bool expect = pad ? tile && walk > 4 * chunk : walk > chunk;
      INFO("tile sparsity " << s << (pad ? ", padded" : ", matrix") << ", walk " << walk);
      std::size_t most = 0; // kept tiles of the fullest tile row, from the masked weights
      for (std::size_t r0 = 0; r0 < M; r0 += P::tm) {
        std::size_t kept = 0;
        for (std::size_t k0 = 0; k0 < K; k0 += P::tk) {
          bool any = false;
          for (std::size_t r = r0; r < std::min(M, r0 + P::tm); ++r)
            for (std::size_t k = k0; k < std::min(K, k0 + P::tk); ++k) any = any || masked[r * K + k] != 0.0f;
          kept += any;
        }
        most = std::max(most, kept);
      }
      REQUIRE(walk == (tile ? most * P::tk : K));
      if (s == 0.02) REQUIRE(walk > 4 * chunk);
      if (s == 0.9) REQUIRE(walk <= chunk);
      // as gemm_op chooses, and with the other choice forced (the plan's own options, no
      // device tuning), both against the reference
      for (const bool forced : {false, true}) {
        kernels::gemm_plan p = plan;
        if (forced) {
          p.gemm->source.options += " -DGAPP_SOFTWARE_PREFETCH=1";
          if (!expect) p.gemm->source.options += " -DGAPP_KCHUNK=" + std::to_string(chunk);
        }
        opencl::gemm_op<P> op(env.context, env.device, env.cache, std::move(p), !forced);
        REQUIRE(has_chunks(op.source().options) == (forced ? !expect : expect));
        std::vector<float> got(M * H * W);
        if (pad) {
          const cl::Buffer yb = to_device(std::vector<float>(M * lay.plane, 0.0f));
          op.enqueue_conv(env.queue, xp, yb, 1, H, W).wait();
          const auto yp = from_device(yb, M * lay.plane);
          for (std::size_t r = 0; r < M; ++r)
            for (std::size_t y = 0; y < H; ++y)
              std::copy_n(&yp[r * lay.plane + (y + 1) * lay.pitch + 1], W, &got[(r * H + y) * W]);
        } else {
          const cl::Buffer yb = to_device(std::vector<float>(M * H * W));
          op.enqueue(env.queue, xm, yb, H * W).wait();
          got = from_device(yb, M * H * W);
        }
        compare(got, want, masked, cols, M, K, H * W);
      }
    }
  }
}

TEST_CASE("channel-compacted GEMM on a convolution's kernel area", "[opencl][gemm]") {
  using P = direct_b;
  std::mt19937 g(5);
  const conv_shape cs{20, 7, 3, 3};
  const auto w = ref::random_weights(g, cs.size(), 0);
  const matrix_view wv = as_gemm(w.data(), cs);
  for (double sp : {0.3, 0.7}) {
    const auto m = prune<P>(wv, channel_unit(cs), sp);
    run_case<P>(pack(wv, m), m.apply(wv), cs.gemm_rows(), cs.gemm_cols(), 33, true, true, g, "channel");
  }
}

TEST_CASE("GEMM without epilogue and with fixed trip counts disabled", "[opencl][gemm]") {
  using P = local_c;
  std::mt19937 g(6);
  const auto w = ref::random_weights(g, 40 * 48, 0);
  const matrix_view wv(w, 40, 48);
  prune_options bal;
  bal.balanced = true;
  const auto m = prune<P>(wv, units::simd{}, 0.5, bal);
  cl_env& env = cl_env::get();
  opencl::gemm_options opt;
  opt.fixed_trip_count = false;
  opencl::gemm_op<P> op(env.context, env.device, env.cache, pack(wv, m), opt);
  REQUIRE(op.variant() == "simd");
  const auto x = ref::random_weights(g, 48 * 19, 0);
  cl::Buffer xb = to_device(x), yb = to_device(std::vector<float>(40 * 19));
  op.enqueue(env.queue, xb, yb, 19).wait();
  const auto masked = m.apply(wv);
  compare(from_device(yb, 40 * 19), reference(masked, x, {}, 40, 48, 19, false), masked, x, 40, 48, 19);
}

TEST_CASE("direct kernels without the device's build options (the GPU build) on K chunks' edges",
          "[opencl][gemm]") {
  // On PoCL's CPU device gemm_op builds the direct family with software prefetch and K
  // chunks; other devices get the plain kernels. Both must agree with the reference, for a
  // K of several chunks plus a remainder.
  using P = direct_a;
  std::mt19937 g(8);
  const std::size_t M = 70, K = 2 * static_cast<std::size_t>(opencl::cpu_k_chunk<P>()) + 45, N = 50;
  const auto w = ref::random_weights(g, M * K, 0);
  const auto x = ref::random_weights(g, K * N, 0);
  const matrix_view wv(w, M, K);
  cl_env& env = cl_env::get();
  for (const bool tuning : {false, true}) {
    opencl::gemm_options opt;
    opt.device_tuning = tuning;
    for (const double s : {0.0, 0.3}) {
      INFO("device tuning " << tuning << ", tile sparsity " << s);
      const auto m = prune<P>(wv, units::tile{}, s);
      const auto masked = m.apply(wv);
      auto op = s == 0.0 ? opencl::gemm_op<P>(env.context, env.device, env.cache, wv, opt)
                         : opencl::gemm_op<P>(env.context, env.device, env.cache, pack(wv, m), opt);
      const cl::Buffer xb = to_device(x), yb = to_device(std::vector<float>(M * N));
      op.enqueue(env.queue, xb, yb, N).wait();
      compare(from_device(yb, M * N), reference(masked, x, {}, M, K, N, false), masked, x, M, K, N);
    }
  }
}
