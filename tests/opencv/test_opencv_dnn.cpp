// OpenCV DNN with gapp's layers against OpenCV's own backend, on the committed small ONNX
// model (tests/opencv/make_model.py): dense, pruned on load, masks from gapp-prune, the
// fallback path, and bad input.
#include <catch2/catch.hpp>

#include <gapp/integrations/opencv_dnn.hpp>
#include <gapp/io/npy.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "../host/run_tool.hpp"
#include "../opencl/cl_env.hpp"

namespace od = gapp::integrations::opencv_dnn;
namespace fs = std::filesystem;

namespace {

const std::string data_dir = GAPP_OPENCV_TEST_DATA;

std::string tmp(const std::string& name) {
  const fs::path d = fs::path(GAPP_TEST_TMP) / "opencv";
  fs::create_directories(d);
  return (d / name).string();
}

cv::Mat input_blob(std::size_t batch = 2) {
  static const gapp::npy::tensor<float> x = gapp::npy::read_floats(data_dir + "/input.npy");
  std::vector<int> shape(x.shape.begin(), x.shape.end());
  cv::Mat m(shape, CV_32F, const_cast<float*>(x.data.data()));
  if (batch >= x.shape[0]) return m.clone();
  return m(cv::Range(0, static_cast<int>(batch)), cv::Range::all()).clone();
}

cv::Mat run(cv::dnn::Net& net, const cv::Mat& x) {
  net.setInput(x);
  return net.forward().clone();
}

/// max |a − b| / max |b|
double rel_diff(const cv::Mat& a, const cv::Mat& b) {
  REQUIRE(a.total() == b.total());
  return cv::norm(a, b, cv::NORM_INF) / std::max(cv::norm(b, cv::NORM_INF), 1e-30);
}

const od::layer_record& find(const std::vector<od::layer_record>& rs, const std::string& weight) {
  for (const auto& r : rs)
    if (r.info.weight_name == weight) return r;
  FAIL("no record of the layer with weights " << weight);
  return rs.front();
}

/// OpenCV's own network on each gapp layer's weights masked as gapp ran them (a copy of the
/// ONNX file with the removed weights set to 0). Net::setParam cannot do it: OpenCV's fully
/// connected layer keeps its own copy of the weights.
cv::Mat opencv_masked(const std::vector<od::layer_record>& rs, const cv::Mat& x) {
  const std::string path = tmp("masked.onnx");
  std::size_t masked = 0;
  for (const auto& r : rs) masked += r.keep ? 1 : 0;
  REQUIRE(od::write_masked_onnx(data_dir + "/small.onnx", path, rs) == masked);
  cv::dnn::Net ref = od::read_onnx(path);
  return run(ref, x);
}

// The presets this suite compiles its layers for: PoCL's CPU devices and NVIDIA GPUs, the
// devices it runs on (each preset compiled in costs about 17 s of build time; dispatch over
// every preset is tested in the host and OpenCL suites). On another device: the first of
// them that can run there.
using tested_presets = gapp::presets::preset_list<gapp::presets::pocl_avx512, gapp::presets::pocl_avx2,
                                                  gapp::presets::nvidia>;

template <class F>
void with_preset(F&& f) {
  cl_env& e = cl_env::get();
  const gapp::opencl::device_info info = gapp::opencl::query(e.device);
  const gapp::policy_choice c = gapp::choose_policy<tested_presets, tested_presets>(info);
  tested_presets::visit(c.name, [&](auto preset) {
    gapp::opencl::require_can_run<decltype(preset)>(info);
    f(preset);
  });
}

} // namespace

TEST_CASE("opencv_dnn: OpenCV's own backend reproduces PyTorch on the committed model", "[opencv]") {
  cv::dnn::Net net = od::read_onnx(data_dir + "/small.onnx");
  const gapp::npy::tensor<float> want = gapp::npy::read_floats(data_dir + "/expected.npy");
  const cv::Mat y = run(net, input_blob());
  const cv::Mat expected(static_cast<int>(want.shape[0]), static_cast<int>(want.shape[1]), CV_32F,
                         const_cast<float*>(want.data.data()));
  CHECK(rel_diff(y.reshape(1, expected.rows), expected) <= 1e-4);
}

TEST_CASE("opencv_dnn: dense gapp layers agree with OpenCV's own backend; uncovered layers fall back", "[opencv]") {
  with_preset([](auto preset) {
    using P = decltype(preset);
    cl_env& e = cl_env::get();
    cv::dnn::Net ref = od::read_onnx(data_dir + "/small.onnx");
    const cv::Mat x = input_blob();
    const cv::Mat want = run(ref, x);
    cv::Mat got, got1, got2;
    std::vector<od::layer_record> rs;
    {
      od::gapp_layers<P> layers(e.context, e.device, e.queue);
      cv::dnn::Net net = od::read_onnx(data_dir + "/small.onnx", layers);
      got = run(net, x);
      rs = layers.records();
      // the same network at batch 1: OpenCV sets it up again (fusions offered again), and the
      // padded inputs' borders lie elsewhere; then at batch 2 again
      got1 = run(net, input_blob(1));
      got2 = run(net, x);
    }
    CHECK(rel_diff(got, want) <= 1e-4);
    CHECK(rel_diff(got1, run(ref, input_blob(1))) <= 1e-4);
    CHECK(rel_diff(got2, want) <= 1e-4);
    REQUIRE(rs.size() == 7);
    const auto& c1 = find(rs, "conv1.weight");
    CHECK(c1.on_gapp);
    CHECK(c1.fused_batch_norm);
    CHECK(c1.fused_relu);
    CHECK(c1.technique == "dense");
    CHECK(!c1.keep);
    CHECK(c1.calls == 1);
    // a stride-1 "same" convolution: over padded activations (each 12 × 12 image with a
    // border of one pixel on the device, both ways), implicit, nothing to choose
    CHECK(c1.padded);
    CHECK(c1.implicit);
    CHECK(!c1.lowering_measured);
    CHECK(c1.bytes_to_device == 3 * 2 * 12 * 12 * 4); // the images' values, not their borders
    CHECK(c1.bytes_from_device == 32 * 2 * 12 * 12 * 4);
    // the suite's queue profiles its commands: the copies are timed, within the call's time
    CHECK(c1.copies_timed);
    CHECK(c1.copy_ms > 0);
    CHECK(c1.wall_ms > c1.copy_ms);
    const auto& c2 = find(rs, "conv2.weight"); // stride 2: im2col
    CHECK(c2.on_gapp);
    CHECK(!c2.implicit);
    CHECK(!c2.padded);
    CHECK(!c2.lowering_measured);
    CHECK(c2.fused_relu);
    CHECK(!c2.fused_batch_norm);
    const auto& sh = find(rs, "short.weight"); // followed by the residual add: nothing fused
    CHECK(sh.on_gapp);
    CHECK(sh.padded); // 1 × 1, stride 1: "same" too
    CHECK(!sh.fused_relu);
    CHECK(find(rs, "fc1.weight").on_gapp);
    CHECK(find(rs, "fc2.weight").on_gapp);
    const auto& g = find(rs, "grouped.weight");
    CHECK(!g.on_gapp);
    CHECK(g.reason == "groups 2");
    const auto& d = find(rs, "dilated.weight");
    CHECK(!d.on_gapp);
    CHECK(d.reason == "dilation");
    CHECK(d.calls == 0);

    // the plain layout (options::padded off): the same results; the "same" convolution is
    // timed both ways at its first call and the faster kept
    od::options plain;
    plain.padded = false;
    const cl::CommandQueue unprofiled(e.context, e.device); // copies not timed on it
    od::gapp_layers<P> layers(e.context, e.device, unprofiled, plain);
    cv::dnn::Net net = od::read_onnx(data_dir + "/small.onnx", layers);
    CHECK(rel_diff(run(net, x), want) <= 1e-4);
    const auto prs = layers.records();
    const auto& p1 = find(prs, "conv1.weight");
    CHECK(!p1.padded);
    CHECK(p1.bytes_to_device == 2 * 3 * 12 * 12 * 4);
    CHECK(p1.bytes_from_device == 2 * 32 * 12 * 12 * 4);
    CHECK(!p1.copies_timed);
    CHECK(p1.copy_ms == 0);
    CHECK(p1.wall_ms > 0);
    CHECK(p1.lowering_measured);
    CHECK(p1.implicit_ms > 0);
    CHECK(p1.im2col_ms > 0);
    CHECK(p1.implicit == (p1.implicit_ms <= p1.im2col_ms));
    CHECK(!find(prs, "short.weight").padded);
  });
}

namespace {

/// A 3 × 3 convolution with padding 1 of a test network: random weights and bias.
struct small_conv {
  std::string name;
  int in, out, stride;
  cv::Mat w, b;
  small_conv(std::string n, int i, int o, int st, std::mt19937& g) : name(std::move(n)), in(i), out(o), stride(st) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int ws[] = {out, in, 3, 3};
    w = cv::Mat(4, ws, CV_32F), b = cv::Mat(1, out, CV_32F);
    for (std::size_t k = 0; k < w.total(); ++k) w.ptr<float>()[k] = nd(g);
    for (std::size_t k = 0; k < b.total(); ++k) b.ptr<float>()[k] = nd(g);
  }
};

/// The convolutions one after the other (each with its weights times the keep-mask of the
/// record of its name in `masks`, where there is one).
cv::dnn::Net conv_net(const std::vector<small_conv>& convs, const std::vector<od::layer_record>* masks = nullptr) {
  cv::dnn::Net net;
  for (const small_conv& c : convs) {
    cv::dnn::LayerParams lp;
    lp.name = c.name;
    lp.type = "Convolution";
    const int k[] = {3, 3}, one[] = {1, 1}, st[] = {c.stride, c.stride};
    lp.set("kernel_size", cv::dnn::DictValue::arrayInt(k, 2));
    lp.set("pad", cv::dnn::DictValue::arrayInt(one, 2));
    lp.set("stride", cv::dnn::DictValue::arrayInt(st, 2));
    lp.set("num_output", c.out);
    lp.set("bias_term", true);
    cv::Mat w = c.w.clone();
    if (masks)
      for (const auto& r : *masks)
        if (r.info.name == c.name && r.keep)
          for (std::size_t i = 0; i < w.total(); ++i) w.ptr<float>()[i] *= (*r.keep)[i];
    lp.blobs = {w, c.b.clone()};
    net.addLayerToPrev(lp.name, lp.type, lp);
  }
  return net;
}

/// A batch of n random c × h × w inputs.
cv::Mat random_blob(std::mt19937& g, int n, int c, int h, int w) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int shape[] = {n, c, h, w};
  cv::Mat x(4, shape, CV_32F);
  for (std::size_t i = 0; i < x.total(); ++i) x.ptr<float>()[i] = nd(g);
  return x;
}

} // namespace

TEST_CASE("opencv_dnn: one convolution over inputs whose batch and size change between calls", "[opencv]") {
  with_preset([](auto preset) {
    using P = decltype(preset);
    cl_env& e = cl_env::get();
    // a network of one 3 × 3 "same" convolution, 5 → 6 channels, with a bias
    std::mt19937 g(11);
    const std::vector<small_conv> convs{{"conv", 5, 6, 1, g}};
    const std::vector<cv::Mat> xs{random_blob(g, 1, 5, 12, 12), random_blob(g, 2, 5, 9, 7), random_blob(g, 1, 5, 12, 12),
                                  random_blob(g, 3, 5, 4, 16)};
    // OpenCV creates a network's layers when it first runs: the reference runs before gapp's
    // layers are registered, so that its convolution is OpenCV's own
    cv::dnn::Net ref = conv_net(convs);
    std::vector<cv::Mat> want;
    for (const cv::Mat& x : xs) want.push_back(run(ref, x));
    od::gapp_layers<P> layers(e.context, e.device, e.queue);
    cv::dnn::Net net = conv_net(convs);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      INFO("input " << i << ": " << xs[i].size[0] << " x 5 x " << xs[i].size[2] << " x " << xs[i].size[3]);
      CHECK(rel_diff(run(net, xs[i]), want[i]) <= 1e-4);
    }
    const auto rs = layers.records();
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].on_gapp);
    CHECK(rs[0].padded);
    CHECK(rs[0].calls == xs.size());
  });
}

TEST_CASE("opencv_dnn: convolutions over images of a few pixels run the narrow kernel", "[opencv]") {
  with_preset([](auto preset) {
    using P = decltype(preset);
    cl_env& e = cl_env::get();
    // a 3 × 3 "same" convolution (24 → 40 channels), then a 3 × 3 one with stride 2 (40 → 48)
    std::mt19937 g(5);
    const std::vector<small_conv> convs{{"same", 24, 40, 1, g}, {"strided", 40, 48, 2, g}};
    // output pixels of the two layers in all: 1 and 1, 4 and 1, 4 and 2, 36 and 9, 1 and 1
    const std::vector<cv::Mat> xs{random_blob(g, 1, 24, 1, 1), random_blob(g, 1, 24, 2, 2), random_blob(g, 2, 24, 1, 2),
                                  random_blob(g, 1, 24, 6, 6), random_blob(g, 1, 24, 1, 1)};
    const bool tiny[] = {true, true, true, false, true}; // both layers' outputs hold at most 4 pixels
    // element-wise units have no narrow kernel: their own kernel runs, over im2col
    for (const char* t : {"dense", "simd", "tile", "element"}) {
      INFO("technique " << t);
      od::options o;
      o.tech = gapp::parse_technique(t);
      o.sparsity = o.tech.dense() ? 0.0 : 0.75;
      std::vector<cv::Mat> got;
      std::vector<od::layer_record> rs;
      {
        od::gapp_layers<P> layers(e.context, e.device, e.queue, o);
        cv::dnn::Net net = conv_net(convs);
        for (std::size_t i = 0; i < xs.size(); ++i) {
          got.push_back(run(net, xs[i]));
          const auto now = layers.records();
          REQUIRE(now.size() == 2);
          INFO("input " << i);
          for (const auto& r : now) {
            CHECK(r.on_gapp);
            CHECK(!r.padded); // planned at the first call, whose outputs were 1 pixel
            CHECK(r.narrow == (tiny[i] && !o.tech.is<gapp::units::element>()));
          }
        }
        rs = layers.records();
      }
      // OpenCV's own layers, on the weights as gapp ran them (gapp's layers are gone)
      cv::dnn::Net ref = conv_net(convs, &rs);
      for (std::size_t i = 0; i < xs.size(); ++i) {
        INFO("input " << i << ": " << xs[i].size[0] << " x 24 x " << xs[i].size[2] << " x " << xs[i].size[3]);
        CHECK(rel_diff(got[i], run(ref, xs[i])) <= 1e-4);
      }
      if (!o.tech.dense())
        for (const auto& r : rs) CHECK(r.sparsity > 0.5);
    }
  });
}

TEST_CASE("opencv_dnn: pruned on load, gapp's layers equal OpenCV on the masked weights", "[opencv]") {
  with_preset([](auto preset) {
    using P = decltype(preset);
    cl_env& e = cl_env::get();
    const cv::Mat x = input_blob();
    cv::dnn::Net dense_ref = od::read_onnx(data_dir + "/small.onnx");
    const cv::Mat dense = run(dense_ref, x);
    for (const char* t : {"simd", "tile", "simd-balanced", "element"}) {
      INFO("technique " << t);
      od::options o;
      o.tech = gapp::parse_technique(t);
      o.sparsity = 0.75;
      cv::Mat got;
      std::vector<od::layer_record> rs;
      {
        od::gapp_layers<P> layers(e.context, e.device, e.queue, o);
        cv::dnn::Net net = od::read_onnx(data_dir + "/small.onnx", layers);
        got = run(net, x);
        rs = layers.records();
      }
      int pruned = 0;
      for (const auto& r : rs)
        if (r.on_gapp) {
          REQUIRE(r.keep);
          CHECK(r.sparsity > 0.5);
          CHECK(r.mask == "pruned on load");
          ++pruned;
        }
      CHECK(pruned == 5);
      CHECK(rel_diff(got, opencv_masked(rs, x)) <= 1e-4);
      CHECK(rel_diff(got, dense) > 1e-3); // the masks took effect
    }
  });
}

TEST_CASE("opencv_dnn: masks written by gapp-prune, matched by initializer name", "[opencv]") {
  with_preset([](auto preset) {
    using P = decltype(preset);
    cl_env& e = cl_env::get();
    const std::string policy(P::name);
    const std::string wdir = tmp("weights"), mdir = tmp("masks");
    fs::remove_all(mdir);
    fs::create_directories(wdir);
    fs::create_directories(mdir);
    cv::dnn::Net ref = od::read_onnx(data_dir + "/small.onnx");
    const auto names = od::onnx_weight_names(data_dir + "/small.onnx");
    // conv2 and fc1 get SIMD masks from gapp-prune; the others stay dense
    for (const std::string layer : {"onnx_node!/conv2/Conv", "onnx_node!/fc1/Gemm"}) {
      REQUIRE(names.count(layer));
      const cv::Mat w = ref.getParam(layer, 0);
      std::vector<std::size_t> shape;
      for (int i = 0; i < w.dims; ++i) shape.push_back(static_cast<std::size_t>(w.size[i]));
      const std::string wpath = wdir + "/" + names.at(layer) + ".npy", mpath = mdir + "/" + names.at(layer) + ".npy";
      gapp::npy::write(wpath, shape, w.ptr<float>());
      const auto r = gapp_test::run_tool(GAPP_PRUNE_EXE,
                                         "--policy " + policy + " --unit simd --sparsity 0.75 --mask " + mpath + " " + wpath,
                                         tmp("prune_" + names.at(layer)));
      INFO(r.err);
      REQUIRE(r.status == 0);
    }
    { // a mask for a layer the model does not have
      const std::vector<std::uint8_t> ghost(4, 1);
      gapp::npy::write(mdir + "/ghost.weight.npy", {2, 2}, ghost.data());
    }
    od::options o;
    o.tech = gapp::parse_technique("simd");
    o.mask_dir = mdir;
    const cv::Mat x = input_blob();
    cv::Mat got;
    std::vector<od::layer_record> rs;
    std::vector<std::string> unmatched;
    {
      od::gapp_layers<P> layers(e.context, e.device, e.queue, o);
      cv::dnn::Net net = od::read_onnx(data_dir + "/small.onnx", layers);
      got = run(net, x);
      rs = layers.records();
      unmatched = layers.unmatched_masks();
    }
    CHECK(unmatched == std::vector<std::string>{"ghost.weight.npy"});
    CHECK(find(rs, "conv2.weight").mask == mdir + "/conv2.weight.npy");
    CHECK(find(rs, "conv2.weight").sparsity == Approx(0.75).margin(0.05));
    CHECK(find(rs, "fc1.weight").keep);
    CHECK(!find(rs, "conv1.weight").keep);
    CHECK(find(rs, "conv1.weight").technique == "dense");
    CHECK(rel_diff(got, opencv_masked(rs, x)) <= 1e-4);

    SECTION("a mask made for another technique is refused when the network is read") {
      od::options t = o;
      t.tech = gapp::parse_technique("tile");
      od::gapp_layers<P> layers(e.context, e.device, e.queue, t);
      CHECK_THROWS_WITH(od::read_onnx(data_dir + "/small.onnx", layers),
                        Catch::Contains("conv2.weight.json") && Catch::Contains("technique 'simd'"));
    }
    SECTION("a mask made for another policy is refused when the network is read") {
      const std::string other = policy == "amd-gcn" ? "nvidia" : "amd-gcn";
      const std::string w = wdir + "/conv2.weight.npy", m = mdir + "/conv2.weight.npy";
      const auto r = gapp_test::run_tool(GAPP_PRUNE_EXE, "--policy " + other + " --unit simd --sparsity 0.75 --mask " + m + " " + w,
                                         tmp("prune_other"));
      REQUIRE(r.status == 0);
      od::gapp_layers<P> layers(e.context, e.device, e.queue, o);
      CHECK_THROWS_WITH(od::read_onnx(data_dir + "/small.onnx", layers),
                        Catch::Contains("conv2.weight.json") && Catch::Contains("made for policy '" + other + "'"));
    }
    SECTION("a mask of another shape is refused, naming both shapes") {
      const std::vector<std::uint8_t> wrong(40 * 9, 1);
      gapp::npy::write(mdir + "/conv2.weight.npy", {40, 9}, wrong.data());
      fs::remove(mdir + "/conv2.weight.json");
      od::gapp_layers<P> layers(e.context, e.device, e.queue, o);
      CHECK_THROWS_AS(od::read_onnx(data_dir + "/small.onnx", layers), gapp::shape_error);
    }
  });
}

TEST_CASE("opencv_dnn: bad input gets a clear error", "[opencv]") {
  with_preset([](auto preset) {
    using P = decltype(preset);
    cl_env& e = cl_env::get();
    SECTION("a file OpenCV cannot read: its error, with the file name") {
      const std::string bad = tmp("garbage.onnx");
      std::ofstream(bad) << "this is not an ONNX model";
      CHECK_THROWS_AS(od::read_onnx(bad), gapp::file_error);
      CHECK_THROWS_WITH(od::read_onnx(bad), Catch::Contains(bad));
      CHECK_THROWS_AS(od::onnx_weight_names(bad), gapp::file_error);
      // a truncated model
      std::ifstream in(data_dir + "/small.onnx", std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const std::string cut = tmp("truncated.onnx");
      std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
      CHECK_THROWS_WITH(od::onnx_weight_names(cut), Catch::Contains(cut));
      // the same readers on bytes in memory: the file's result, and the same errors
      CHECK(od::onnx_weight_names(bytes, "m.onnx") == od::onnx_weight_names(data_dir + "/small.onnx"));
      CHECK(od::onnx_input_shape(bytes, "m.onnx") == od::onnx_input_shape(data_dir + "/small.onnx"));
      CHECK_THROWS_WITH(od::onnx_weight_names(std::string_view(bytes).substr(0, bytes.size() / 2), "m.onnx"),
                        Catch::StartsWith("m.onnx: not a valid ONNX file"));
      CHECK_THROWS_WITH(od::onnx_input_shape(std::string_view("\x3a\x05" "abc"), "m.onnx"), Catch::StartsWith("m.onnx:"));
      CHECK_THROWS_WITH(od::read_onnx(cut), Catch::Contains(cut));
      CHECK_THROWS_AS(od::read_onnx(tmp("missing.onnx")), gapp::file_error);
      CHECK_THROWS_WITH(od::read_onnx(tmp("missing.onnx")), Catch::EndsWith("missing.onnx: no such file"));
      // a directory is named as one, by both readers
      const std::string dir = tmp("model_dir.onnx");
      std::filesystem::create_directories(dir);
      CHECK_THROWS_WITH(od::read_onnx(dir), Catch::EndsWith("model_dir.onnx: is a directory, not a regular file"));
      od::gapp_layers<P> layers(e.context, e.device, e.queue);
      CHECK_THROWS_WITH(od::read_onnx(dir, layers), Catch::EndsWith("model_dir.onnx: is a directory, not a regular file"));
    }
    SECTION("sparsity outside [0, 1)") {
      od::options o;
      o.tech = gapp::parse_technique("simd");
      o.sparsity = 1.0;
      CHECK_THROWS_AS(od::gapp_layers<P>(e.context, e.device, e.queue, o), gapp::invalid_argument);
      o.sparsity = std::nan("");
      CHECK_THROWS_AS(od::gapp_layers<P>(e.context, e.device, e.queue, o), gapp::invalid_argument);
    }
    SECTION("an out-of-order queue") {
      cl_int err = CL_SUCCESS;
      const cl::CommandQueue ooo(e.context, e.device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
      if (err != CL_SUCCESS) {
        WARN("the device makes no out-of-order queues (" << err << "): nothing to check");
      } else {
        CHECK_THROWS_AS(od::gapp_layers<P>(e.context, e.device, ooo), gapp::invalid_argument);
        CHECK_THROWS_WITH(od::gapp_layers<P>(e.context, e.device, ooo), Catch::Contains("in order"));
      }
    }
    SECTION("a mask directory that is not one") {
      od::options o;
      o.tech = gapp::parse_technique("simd");
      o.mask_dir = tmp("no-such-dir");
      CHECK_THROWS_AS(od::gapp_layers<P>(e.context, e.device, e.queue, o), gapp::file_error);
    }
    SECTION("one registration per policy at a time; OpenCV's layers come back after it") {
      auto gapp_conv1 = [](cv::dnn::Net& net) {
        return !net.getLayer(net.getLayerId("onnx_node!/conv1/Conv")).dynamicCast<od::detail::weight_layer<P>>().empty();
      };
      {
        od::gapp_layers<P> layers(e.context, e.device, e.queue);
        CHECK_THROWS_AS(od::gapp_layers<P>(e.context, e.device, e.queue), gapp::invalid_argument);
        cv::dnn::Net net = od::read_onnx(data_dir + "/small.onnx");
        CHECK(gapp_conv1(net));
      }
      cv::dnn::Net net = od::read_onnx(data_dir + "/small.onnx");
      CHECK(!gapp_conv1(net));
    }
  });
}

TEST_CASE("opencv_dnn: OpenCV's own layers on gapp's weights, and the faster of the two engines", "[opencv]") {
  with_preset([](auto preset) {
    using P = decltype(preset);
    cl_env& e = cl_env::get();
    const cv::Mat x2 = input_blob(2), x1 = input_blob(1);
    auto pass = [&](od::engine run_on, std::vector<od::layer_record>& rs) {
      od::options o;
      o.tech = gapp::parse_technique("simd");
      o.sparsity = 0.75;
      o.run_on = run_on;
      od::gapp_layers<P> layers(e.context, e.device, e.queue, o);
      cv::dnn::Net net = od::read_onnx(data_dir + "/small.onnx", layers);
      std::vector<cv::Mat> ys{run(net, x2), run(net, x1)}; // the second call changes the batch
      rs = layers.records();
      return ys;
    };
    std::vector<od::layer_record> on_gapp, on_opencv, fastest;
    const auto yg = pass(od::engine::gapp, on_gapp);
    const auto yo = pass(od::engine::opencv, on_opencv);
    const auto yf = pass(od::engine::fastest, fastest);
    // every engine computes the network on the same masked weights (batch norms folded in,
    // ReLUs fused): as OpenCV's own backend does with the masks written into the model
    const cv::Mat want2 = opencv_masked(on_gapp, x2), want1 = opencv_masked(on_gapp, x1);
    for (const auto* ys : {&yg, &yo, &yf}) {
      CHECK(rel_diff((*ys)[0], want2) <= 1e-4);
      CHECK(rel_diff((*ys)[1], want1) <= 1e-4);
    }
    REQUIRE(on_opencv.size() == on_gapp.size());
    REQUIRE(fastest.size() == on_gapp.size());
    std::size_t covered = 0, fused = 0;
    for (std::size_t i = 0; i < on_gapp.size(); ++i) {
      const od::layer_record &g = on_gapp[i], &o = on_opencv[i], &f = fastest[i];
      INFO("layer " << g.info.name);
      REQUIRE(o.info.name == g.info.name);
      REQUIRE(f.info.name == g.info.name);
      CHECK(o.on_gapp == g.on_gapp);
      if (!g.on_gapp) continue;
      ++covered;
      fused += g.fused_batch_norm || g.fused_relu;
      CHECK(!g.runs_opencv);
      CHECK(g.calls == 2);
      CHECK(g.opencv_calls == 0);
      CHECK(!g.engine_measured);
      REQUIRE(g.keep);
      REQUIRE(o.keep);
      CHECK(*o.keep == *g.keep); // the same mask, whichever engine runs it
      CHECK(o.runs_opencv);
      CHECK(o.opencv_calls == 2);
      CHECK(o.calls == 0);
      CHECK(o.bytes_to_device == 0);
      CHECK(o.wall_ms == 0);
      CHECK(!o.engine_measured);
      // fastest: both timed at the first call, the faster runs; the counters hold the two calls
      CHECK(f.engine_measured);
      CHECK(f.gapp_ms > 0);
      CHECK(f.opencv_ms > 0);
      CHECK(f.runs_opencv == (f.opencv_ms < f.gapp_ms));
      CHECK(f.calls + f.opencv_calls == 2);
      CHECK(f.calls == (f.runs_opencv ? 0u : 2u));
    }
    CHECK(covered >= 3);
    CHECK(fused >= 1); // a folded batch norm or a fused ReLU is part of what OpenCV's own layer runs
  });
}
