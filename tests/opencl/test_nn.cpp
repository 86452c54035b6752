// CNN layers and a whole (small) VGG16 on the device against the host references.
#include <catch2/catch.hpp>

#include "../host/reference.hpp"
#include "cl_env.hpp"

#include <filesystem>

using namespace gapp;

namespace {

nn::tensor4 random_input(std::mt19937& g, std::size_t n, std::size_t c, std::size_t h, std::size_t w) {
  nn::tensor4 t(n, c, h, w);
  std::normal_distribution<float> d;
  for (auto& v : t.data) v = d(g);
  return t;
}

std::vector<float> to_cnhw(const nn::tensor4& t) {
  std::vector<float> out(t.data.size());
  for (std::size_t b = 0; b < t.n; ++b)
    for (std::size_t c = 0; c < t.c; ++c)
      std::copy_n(&t.data[(b * t.c + c) * t.h * t.w], t.h * t.w, &out[(c * t.n + b) * t.h * t.w]);
  return out;
}

/// CNHW in the padded layout: a border of one `border` pixel around each image.
std::vector<float> to_padded(const std::vector<float>& cnhw, std::size_t cb, std::size_t h, std::size_t w, float border) {
  std::vector<float> out(cb * (h + 2) * (w + 2), border);
  for (std::size_t i = 0; i < cb; ++i)
    for (std::size_t y = 0; y < h; ++y)
      std::copy_n(&cnhw[(i * h + y) * w], w, &out[(i * (h + 2) + y + 1) * (w + 2) + 1]);
  return out;
}

void require_close(const std::vector<float>& got, const std::vector<float>& want, double tol) {
  REQUIRE(got.size() == want.size());
  double scale = 1e-6;
  for (float v : want) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i << " got " << got[i] << " want " << want[i]);
    REQUIRE(std::fabs(static_cast<double>(got[i]) - want[i]) <= tol * scale);
  }
}

struct conv_case {
  std::size_t batch, cin, cout, h, w, k, stride, pad;
};

/// He-initialised weights with random non-zero biases (he_init's are 0), so that a wrong
/// bias, or a wrong act(bias) fill of pruned rows, changes the logits.
nn::vgg16_weights with_biases(nn::vgg16_weights w, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 0.2f);
  for (auto& p : w.params)
    for (auto& b : p.bias) b = d(g);
  return w;
}

/// Column tiles per work-group of the GEMMs check_conv makes (gemm_options::tiles_per_group).
std::size_t g_tiles_per_group = 0;

template <class P>
void check_conv(gapp::technique t, double sparsity) {
  cl_env& env = cl_env::get();
  std::mt19937 g(17);
  const conv_case cases[] = {{2, 3, 8, 9, 7, 3, 1, 1}, {1, 5, 16, 8, 8, 1, 1, 0}, {3, 4, 12, 11, 13, 3, 2, 1},
                             {1, 2, 5, 6, 6, 5, 1, 2}, {2, 6, 70, 5, 9, 3, 1, 0}, {3, 8, 20, 13, 17, 3, 1, 1},
                             {2, 4, 9, 5, 70, 3, 1, 1},
                             // images narrower than the kernel's reach: 1 × 1 (a GEMV at batch 1,
                             // the narrow kernel where im2col), 3 × 2 under a 5 × 5 kernel; with
                             // stride 1 and 2 (whose im2col once read past the image's row there)
                             {1, 6, 10, 1, 1, 3, 1, 1}, {1, 6, 10, 1, 1, 3, 2, 1}, {2, 3, 7, 3, 2, 5, 2, 2},
                             // stride 2 over rows of 8 outputs and more (im2col's 16-float loads):
                             // a 7 × 7 stem whose last loads would pass the row's end (width 40:
                             // the loop stops at 2·ox + x0 + 16 > 40), odd and even widths, 1 × 1
                             {1, 3, 8, 12, 40, 7, 2, 3}, {2, 4, 6, 9, 37, 3, 2, 1}, {1, 5, 9, 6, 34, 1, 2, 0},
                             // launches narrower than a register tile of two vectors (N < RN): a
                             // 4 × 4 image at batch 1 (padded N = 22, plain N = 16) and 3 × 5 (padded
                             // N = 19, whose last whole vector inside N holds border columns)
                             {1, 6, 20, 4, 4, 3, 1, 1}, {1, 3, 9, 3, 5, 3, 1, 1}};
  for (const auto& c : cases)
   for (const int layout : {0, 1, 2}) {
    // implicit (1, 2): the GEMM reads the CNHW input itself (stride 1, "same" padding only);
    // 2: in the padded layout (kernels up to 3x3)
    const bool implicit = layout > 0, padded = layout == 2;
    if (implicit && (c.stride != 1 || 2 * c.pad + 1 != c.k)) continue;
    if (padded && c.k > 3) continue;
    INFO("conv " << c.batch << "x" << c.cin << "x" << c.h << "x" << c.w << " -> " << c.cout << " k" << c.k << " s"
                 << c.stride << " p" << c.pad << " " << gapp::to_string(t) << (implicit ? " implicit" : "")
                 << (padded ? " padded" : ""));
    const conv_shape s{c.cout, c.cin, c.k, c.k};
    const auto w = ref::random_weights(g, s.size(), 0);
    const auto bias = ref::random_weights(g, c.cout, 0);
    opencl::gemm_options opt;
    opt.epi = {true, true};
    opt.bias = std::vector<float>(bias); // (a copy moved in: GCC 12 -Wnonnull misfires on assigning to the empty vector here)
    if (implicit) opt.implicit_kh = opt.implicit_kw = static_cast<int>(c.k);
    opt.padded = padded;
    opt.tiles_per_group = g_tiles_per_group;
    auto pg = gapp::nn::make_pruned_gemm<P>(env.context, env.device, env.cache, as_gemm(w.data(), s), t, sparsity,
                                          s.kernel_area(), opt);
    const auto masked = pg.masked;
    opencl::conv2d_op<P> conv(env.context, env.device, env.cache, s, std::move(pg.op), {c.stride, c.pad});
    // the direct family reads the input itself for every technique but element-wise and N:M
    const bool expect_implicit =
        implicit && P::mode == staging::direct && !t.is<units::element>() && !t.is<units::nm>();
    REQUIRE(conv.implicit() == expect_implicit);
    // the filter technique fills its pruned rows with a second kernel, in the plain layout
    const bool expect_padded = padded && expect_implicit && !t.is<units::filter>();
    REQUIRE(conv.padded() == expect_padded);
    const auto in = random_input(g, c.batch, c.cin, c.h, c.w);
    const std::size_t oh = conv.out_h(c.h), ow = conv.out_w(c.w);
    if (expect_padded) {
      // the input's border is zero; the output buffer starts as 7 everywhere: the computed
      // span's border cells must come out 0, the cells before and after it stay untouched
      cl::Buffer ib = to_device(to_padded(to_cnhw(in), c.cin * c.batch, c.h, c.w, 0.0f));
      const std::size_t pitch = ow + 2, plane = c.batch * (oh + 2) * pitch, first = pitch + 1;
      cl::Buffer ob = to_device(std::vector<float>(c.cout * plane, 7.0f));
      conv.enqueue(env.queue, ib, ob, c.batch, c.h, c.w, cl::Buffer()).wait();
      const auto want = nn::conv2d(in, masked, bias, s, c.stride, c.pad, true);
      const auto got = from_device(ob, c.cout * plane);
      std::vector<float> want_p = to_padded(to_cnhw(want), c.cout * c.batch, oh, ow, 0.0f);
      for (std::size_t m = 0; m < c.cout; ++m)
        for (std::size_t q = 0; q < first; ++q) want_p[m * plane + q] = want_p[m * plane + plane - 1 - q] = 7.0f;
      require_close(got, want_p, 1e-4);
      REQUIRE(!conv.can_run_implicit());
      REQUIRE_THROWS_AS(conv.set_im2col(true), gapp::invalid_argument);
      // a plain-layout output buffer is too small for the padded one
      cl::Buffer small = to_device(std::vector<float>(c.cout * c.batch * oh * ow));
      REQUIRE_THROWS_AS(conv.enqueue(env.queue, ib, small, c.batch, c.h, c.w, cl::Buffer()), gapp::shape_error);
      continue;
    }
    cl::Buffer ib = to_device(to_cnhw(in)), ob = to_device(std::vector<float>(c.cout * c.batch * oh * ow, 7.0f));
    cl::Buffer scratch = conv.implicit() ? cl::Buffer() : to_device(std::vector<float>(conv.scratch_floats(c.batch, c.h, c.w)));
    conv.enqueue(env.queue, ib, ob, c.batch, c.h, c.w, scratch).wait();
    const auto want = nn::conv2d(in, masked, bias, s, c.stride, c.pad, true);
    require_close(from_device(ob, want.data.size()), to_cnhw(want), 1e-4);
    REQUIRE(conv.can_run_implicit() == expect_implicit);
    if (expect_implicit) { // the same operation the other way: im2col, then the plan's matrix kernel
      conv.set_im2col(true);
      REQUIRE(!conv.implicit());
      cl::Buffer sc = to_device(std::vector<float>(conv.scratch_floats(c.batch, c.h, c.w)));
      cl::Buffer ob2 = to_device(std::vector<float>(c.cout * c.batch * oh * ow, 7.0f));
      conv.enqueue(env.queue, ib, ob2, c.batch, c.h, c.w, sc).wait();
      require_close(from_device(ob2, want.data.size()), to_cnhw(want), 1e-4);
    }
  }
}

} // namespace

TEMPLATE_TEST_CASE("conv2d on the device matches direct convolution loops", "[opencl][nn]", presets::pocl_avx512,
                   presets::nvidia) {
  check_conv<TestType>(gapp::parse_technique("dense"), 0.0);
  check_conv<TestType>(gapp::parse_technique("tile"), 0.5);
  check_conv<TestType>(gapp::parse_technique("simd"), 0.7);
  check_conv<TestType>(gapp::parse_technique("channel"), 0.4);
  check_conv<TestType>(gapp::parse_technique("element"), 0.8);
  check_conv<TestType>(gapp::parse_technique("filter"), 0.5);
  check_conv<TestType>(gapp::parse_technique("multi"), 0.6);
  check_conv<TestType>(gapp::parse_technique("nm:2:4"), 0.5);
  check_conv<TestType>(gapp::parse_technique("simd-balanced"), 0.6);
  check_conv<TestType>(gapp::parse_technique("tile-balanced"), 0.5);
}

// The direct family's kernels computing several consecutive column tiles per work-group
// (kernels::grid_rule::column_tiles), forced on every launch: 3 tiles per group (not
// dividing the cases' tile counts) and 64 (more than any case has: one group along N), every
// layout (im2col matrix, implicit, padded) and the walks with their own kernels.
TEST_CASE("conv2d with several column tiles per work-group matches direct convolution loops", "[opencl][nn]") {
  for (const std::size_t r : {3, 64}) {
    INFO(r << " column tiles per work-group");
    g_tiles_per_group = r;
    check_conv<presets::pocl_avx512>(gapp::parse_technique("dense"), 0.0);
    check_conv<presets::pocl_avx512>(gapp::parse_technique("simd"), 0.7);
    check_conv<presets::pocl_avx512>(gapp::parse_technique("tile-balanced"), 0.5);
    check_conv<presets::pocl_avx512>(gapp::parse_technique("multi"), 0.6);
  }
  g_tiles_per_group = 0;
}

TEST_CASE("max-pool and flatten on the device", "[opencl][nn]") {
  cl_env& env = cl_env::get();
  // both walks of the pool, whichever the device would pick; widths that fill the row walk's
  // 8-wide steps exactly (16, 32), leave a remainder (38, 7) or have no full step (5, 3)
  const auto walk = GENERATE(opencl::layer_kernels::pool_walk::automatic, opencl::layer_kernels::pool_walk::pixels,
                             opencl::layer_kernels::pool_walk::rows);
  INFO("pool walk " << static_cast<int>(walk));
  opencl::layer_kernels lk(env.context, env.device, env.cache, walk);
  std::mt19937 g(3);
  for (auto [h, w] : {std::pair<std::size_t, std::size_t>{8, 8}, {7, 5}, {2, 3}, {6, 38}, {5, 16}, {4, 32}, {3, 7}}) {
    const auto in = random_input(g, 3, 4, h, w);
    cl::Buffer ib = to_device(to_cnhw(in)), ob = to_device(std::vector<float>(4 * 3 * (h / 2) * (w / 2)));
    lk.maxpool2(env.queue, ib, ob, 4, 3, h, w).wait();
    const auto want = nn::maxpool2(in);
    REQUIRE(from_device(ob, want.data.size()) == to_cnhw(want));
    // either side in the padded layout: a padded input's border (here 9) is never read, a
    // padded output's border (here 5) never written
    const std::size_t oh = h / 2, ow = w / 2;
    for (const bool ip : {false, true})
      for (const bool op : {false, true}) {
        INFO("padded in " << ip << " out " << op);
        cl::Buffer pi = to_device(ip ? to_padded(to_cnhw(in), 12, h, w, 9.0f) : to_cnhw(in));
        const std::size_t osz = 12 * (oh + 2 * op) * (ow + 2 * op);
        cl::Buffer po = to_device(std::vector<float>(osz, 5.0f));
        lk.maxpool2(env.queue, pi, po, 4, 3, h, w, ip, op).wait();
        REQUIRE(from_device(po, osz) == (op ? to_padded(to_cnhw(want), 12, oh, ow, 5.0f) : to_cnhw(want)));
      }
    // between the layouts and back
    cl::Buffer pad = to_device(std::vector<float>(12 * (h + 2) * (w + 2), 3.0f)), back = to_device(std::vector<float>(12 * h * w));
    lk.repad(env.queue, ib, pad, 4, 3, h, w, true).wait();
    REQUIRE(from_device(pad, 12 * (h + 2) * (w + 2)) == to_padded(to_cnhw(in), 12, h, w, 3.0f));
    lk.repad(env.queue, pad, back, 4, 3, h, w, false).wait();
    REQUIRE(from_device(back, 12 * h * w) == to_cnhw(in));
    REQUIRE_THROWS_AS(lk.repad(env.queue, ib, back, 4, 3, h, w, true), gapp::shape_error); // too small for padded
    REQUIRE_THROWS_AS(lk.maxpool2(env.queue, ib, ob, 4, 3, h, w, true, false), gapp::shape_error);
  }
  const auto in = random_input(g, 3, 4, 2, 2);
  cl::Buffer ib = to_device(to_cnhw(in)), ob = to_device(std::vector<float>(48));
  lk.flatten(env.queue, ib, ob, 4, 3, 4).wait();
  const auto got = from_device(ob, 48);
  for (std::size_t b = 0; b < 3; ++b)
    for (std::size_t f = 0; f < 16; ++f) REQUIRE(got[f * 3 + b] == in.data[b * 16 + f]);
  REQUIRE_THROWS_AS(lk.maxpool2(env.queue, ib, ob, 4, 3, 1, 4), gapp::shape_error);
}

TEST_CASE("a small VGG16 runs end to end and matches the host forward pass", "[opencl][nn][vgg16]") {
  cl_env& env = cl_env::get();
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.in_channels = 3, cfg.width = 0.0625, cfg.hidden = 24, cfg.classes = 10;
  const auto w = with_biases(nn::he_init(cfg, 42), 42);
  REQUIRE(w.layers.size() == 16);
  REQUIRE(w.layers[0].name == "features.0");
  REQUIRE(w.layers[12].name == "features.28");
  REQUIRE(w.layers[15].name == "classifier.6");
  REQUIRE(w.layers[13].shape.in_channels == 32); // 512 * 0.0625 channels at 1x1
  std::mt19937 g(9);
  for (std::size_t batch : {1, 3}) {
    const auto input = random_input(g, batch, 3, 32, 32);
    for (auto t : {gapp::parse_technique("dense"), gapp::parse_technique("tile"), gapp::parse_technique("simd"),
                   gapp::parse_technique("multi"), gapp::parse_technique("nm:2:4"), gapp::parse_technique("filter"),
                   gapp::parse_technique("element"), gapp::parse_technique("simd-balanced"), gapp::parse_technique("channel")}) {
     // the convolutions as the net runs them by default (padded layout where the plan can,
     // the others chosen by measuring), in the plain layout chosen by measuring, all im2col,
     // all implicit in the plain layout (batch 1)
     for (int lowering : {0, 1, 2, 3}) {
      if (lowering == 3 && batch != 1) continue;
      INFO("batch " << batch << " technique " << gapp::to_string(t) << " lowering " << lowering);
      using P = presets::pocl_avx512;
      gapp::nn::vgg16_net<P>::options opt;
      opt.tech = t, opt.sparsity = 0.5, opt.batch = batch;
      if (lowering == 1 || lowering == 3) opt.padded = false;
      if (lowering == 3) opt.choose_lowering = false;
      if (lowering == 2) opt.implicit_conv = false;
      int progress = 0;
      opt.progress = [&](const std::string&) { ++progress; };
      gapp::nn::vgg16_net<P> net(env.context, env.device, env.cache, w, opt);
      REQUIRE(progress == 16);
      const auto logits = net.forward(env.queue, input);
      const auto want = nn::forward_host(w, input, &net.effective_params());
      require_close(logits, want, 1e-3);
      if (t != gapp::parse_technique("dense")) REQUIRE(net.sparsity() > 0.3);
      REQUIRE(nn::argmax(logits, 10) == nn::argmax(want, 10));
      // every conv layer of a technique the direct family runs implicitly: padded (but the
      // filter technique's), measured both ways (chosen), implicit (told so) or im2col
      const bool can_implicit = !t.is<units::element>() && !t.is<units::nm>();
      const auto& lw = net.lowerings();
      REQUIRE(lw.size() == 16);
      for (std::size_t i = 0; i < 16; ++i) {
        INFO("layer " << i);
        // conv1_1 runs dense whatever the technique; conv5_x sees 2 x 2 images, at batch 1 a
        // GEMV: im2col and the narrow kernel
        const bool tiny = batch == 1 && i >= 10 && i < 13;
        const bool conv = i < 13, implicit_able = conv && (can_implicit || i == 0) && !tiny;
        const bool padded_able = implicit_able && (i == 0 || !t.is<units::filter>());
        REQUIRE(!lw[i].pending);
        REQUIRE(lw[i].padded == (padded_able && lowering == 0));
        REQUIRE(lw[i].measured == (implicit_able && !lw[i].padded && (lowering == 0 || lowering == 1)));
        if (lw[i].measured) {
          REQUIRE(lw[i].implicit_ms > 0);
          REQUIRE(lw[i].im2col_ms > 0);
          REQUIRE(lw[i].implicit == (lw[i].implicit_ms <= lw[i].im2col_ms));
        } else {
          REQUIRE(lw[i].implicit == (implicit_able && (lowering == 3 || lw[i].padded)));
        }
      }
      if (lowering <= 1) require_close(net.forward(env.queue, input), want, 1e-3); // the pass after the choice
     }
    }
  }
}

TEST_CASE("VGG16 with reordered channels computes the same logits on the device", "[opencl][nn][vgg16][reorder]") {
  cl_env& env = cl_env::get();
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.in_channels = 3, cfg.width = 0.0625, cfg.hidden = 24, cfg.classes = 10;
  const auto w = with_biases(nn::he_init(cfg, 5), 5);
  // each layer's output channels in the order search_rows finds for SIMD units at 0.5
  auto p = w;
  using P = presets::pocl_avx512;
  std::size_t moved = 0;
  for (std::size_t i = 0; i + 1 < p.layers.size(); ++i) {
    const auto& l = p.layers[i];
    const auto r = reorder::search_rows<P>(matrix_view(p.params[i].weight, l.shape.gemm_rows(), l.shape.gemm_cols()),
                                           units::simd{}, 0.5);
    REQUIRE(r.kept_l2 >= r.identity_kept_l2);
    moved += r.order != reorder::identity(l.shape.out_channels);
    nn::permute_channels(p, i, r.order);
  }
  REQUIRE(moved > 0);
  std::mt19937 g(2);
  const auto input = random_input(g, 2, 3, 32, 32);
  gapp::nn::vgg16_net<P>::options opt;
  opt.batch = 2;
  gapp::nn::vgg16_net<P> a(env.context, env.device, env.cache, w, opt), b(env.context, env.device, env.cache, p, opt);
  require_close(b.forward(env.queue, input), a.forward(env.queue, input), 1e-4);
}

TEST_CASE("VGG16 with one global sparsity over its layers", "[opencl][nn][vgg16]") {
  cl_env& env = cl_env::get();
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.width = 0.0625, cfg.hidden = 24, cfg.classes = 10;
  const auto w = with_biases(nn::he_init(cfg, 5), 5);
  std::mt19937 g(2);
  const auto input = random_input(g, 2, 3, 32, 32);
  using P = presets::pocl_avx512;
  for (auto t : {gapp::parse_technique("tile"), gapp::parse_technique("simd"), gapp::parse_technique("channel"), gapp::parse_technique("element")}) {
    INFO(gapp::to_string(t));
    gapp::nn::vgg16_net<P>::options opt;
    opt.tech = t, opt.sparsity = 0.6, opt.batch = 2, opt.global = true;
    gapp::nn::vgg16_net<P> net(env.context, env.device, env.cache, w, opt);
    // one target over all pruned layers (conv1_1 stays dense): the total is close to it
    REQUIRE(net.sparsity() > 0.5);
    REQUIRE(net.sparsity() < 0.65);
    require_close(net.forward(env.queue, input), nn::forward_host(w, input, &net.effective_params()), 1e-3);
  }
  gapp::nn::vgg16_net<P>::options bad;
  bad.tech = gapp::parse_technique("nm:2:4"), bad.global = true;
  REQUIRE_THROWS_WITH((gapp::nn::vgg16_net<P>(env.context, env.device, env.cache, w, bad)),
                      Catch::Contains("global selection is not defined for the nm:2:4 technique"));
}

TEST_CASE("VGG16 runs with masks fixed elsewhere (e.g. fine-tuned with gapp-prune's masks)", "[opencl][nn][vgg16]") {
  cl_env& env = cl_env::get();
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.in_channels = 1, cfg.width = 0.0625, cfg.hidden = 24, cfg.classes = 10;
  auto w = with_biases(nn::he_init(cfg, 8), 8);
  std::mt19937 g(4);
  const auto input = random_input(g, 3, 1, 32, 32);
  using P = presets::arm_mali_valhall;
  for (auto [t, unit_name] : {std::pair{gapp::parse_technique("tile"), "tile"}, std::pair{gapp::parse_technique("simd"), "simd"},
                              std::pair{gapp::parse_technique("filter"), "filter"}}) {
    INFO(unit_name);
    // masks selected per layer outside the network; conv1_1 and fc8 left dense (empty masks),
    // and the masked weights stored as a fine-tuned network would hold them
    auto pruned = w;
    std::vector<std::vector<std::uint8_t>> masks(w.layers.size());
    std::size_t removed = 0;
    for (std::size_t i = 1; i + 1 < w.layers.size(); ++i) {
      const auto& sh = w.layers[i].shape;
      const matrix_view v(w.params[i].weight.data(), sh.gemm_rows(), sh.gemm_cols());
      const auto keep = t == gapp::parse_technique("tile")   ? prune<P>(v, units::tile{}, 0.7).keep()
                        : t == gapp::parse_technique("simd") ? prune<P>(v, units::simd{}, 0.7).keep()
                                                       : prune<P>(v, units::filter{}, 0.7).keep();
      for (std::size_t k = 0; k < keep.size(); ++k)
        if (!keep[k]) pruned.params[i].weight[k] = 0.0f, ++removed;
      masks[i] = keep;
    }
    gapp::nn::vgg16_net<P>::options opt;
    opt.tech = t, opt.batch = 3, opt.masks = masks;
    gapp::nn::vgg16_net<P> net(env.context, env.device, env.cache, pruned, opt);
    REQUIRE(net.variants().front() == "dense");
    REQUIRE(net.variants().back() == "dense");
    REQUIRE(net.variants()[5] != "dense");
    std::size_t total = 0;
    for (const auto& l : w.layers) total += l.shape.size();
    REQUIRE(net.sparsity() == Approx(static_cast<double>(removed) / static_cast<double>(total)));
    require_close(net.forward(env.queue, input), nn::forward_host(pruned, input), 1e-3);
  }
  gapp::nn::vgg16_net<P>::options bad;
  bad.tech = gapp::parse_technique("tile");
  bad.masks.resize(3);
  REQUIRE_THROWS_AS((gapp::nn::vgg16_net<P>(env.context, env.device, env.cache, w, bad)), gapp::shape_error);
  bad.masks.assign(w.layers.size(), {});
  bad.masks[4].assign(7, 1);
  REQUIRE_THROWS_WITH((gapp::nn::vgg16_net<P>(env.context, env.device, env.cache, w, bad)),
                      Catch::Contains("the mask of features.10 has 7 values"));
  // an error inside a layer names the layer
  bad.masks[4].assign(w.layers[4].shape.size(), 1);
  bad.masks[4][12] = 2;
  REQUIRE_THROWS_WITH((gapp::nn::vgg16_net<P>(env.context, env.device, env.cache, w, bad)),
                      Catch::Contains("layer conv3_1 (features.10): mask: value 2 at index 12"));
  bad.masks[4].clear();
  bad.tech = gapp::parse_technique("dense");
  REQUIRE_THROWS_AS((gapp::nn::vgg16_net<P>(env.context, env.device, env.cache, w, bad)), gapp::invalid_argument);
}

TEST_CASE("VGG16 weights round trip through a .npy directory with PyTorch names", "[nn][vgg16]") {
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.width = 0.0625, cfg.hidden = 8, cfg.classes = 4;
  const auto w = nn::he_init(cfg, 1);
  const std::string dir = std::string(GAPP_TEST_TMP) + "/vgg16_npy";
  std::filesystem::create_directories(dir);
  nn::save_npy_dir(w, dir);
  REQUIRE(std::filesystem::exists(dir + "/features.0.weight.npy"));
  REQUIRE(std::filesystem::exists(dir + "/classifier.6.bias.npy"));
  const auto r = nn::load_npy_dir(cfg, dir);
  for (std::size_t i = 0; i < w.params.size(); ++i) {
    REQUIRE(r.params[i].weight == w.params[i].weight);
    REQUIRE(r.params[i].bias == w.params[i].bias);
  }
  REQUIRE(npy::read_floats(dir + "/features.0.weight.npy").shape == std::vector<std::size_t>{4, 3, 3, 3});
  // a file of the wrong shape is named in the error
  const float one = 1.0f;
  npy::write(dir + "/features.2.bias.npy", {1}, &one);
  REQUIRE_THROWS_WITH(nn::load_npy_dir(cfg, dir), Catch::Contains("features.2.bias.npy: shape (1)"));
  std::filesystem::remove(dir + "/features.2.bias.npy");
  nn::save_npy_dir(w, dir);
  auto nan_w = w.params[3].weight;
  nan_w[5] = std::nanf("");
  npy::write(dir + "/" + w.layers[3].name + ".weight.npy", nn::weight_shape(w.layers[3]), nan_w.data());
  REQUIRE_THROWS_WITH(nn::load_npy_dir(cfg, dir),
                      Catch::Contains(w.layers[3].name + ".weight.npy: holds a NaN value at index 5"));
  std::filesystem::remove(dir + "/features.2.bias.npy"); // a missing file
  REQUIRE_THROWS_AS(nn::load_npy_dir(cfg, dir), gapp::file_error);
  cfg.input = 40;
  REQUIRE_THROWS_AS(nn::vgg16_layers(cfg), gapp::invalid_argument);
}
