// gapp-vgg16 end to end: a network saved as .npy files (and gapp-prune-style masks) in,
// logits and JSON out, against the host forward pass; bad input is one line and exit 1.
#include <catch2/catch.hpp>

#include "../host/run_tool.hpp"
#include "cl_env.hpp"

#include <gapp/tune/advise.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#ifdef GAPP_VGG16_EXE
using namespace gapp;
namespace fs = std::filesystem;

namespace {

gapp_test::tool_result run_tool(const std::string& args, const std::string& dir) {
  return gapp_test::run_tool(GAPP_VGG16_EXE, args, dir + "/tool");
}

} // namespace

TEST_CASE("gapp-vgg16 runs a saved network with its masks and matches the host forward pass", "[opencl][tool]") {
  const std::string dir = std::string(GAPP_TEST_TMP) + "/vgg16_tool";
  fs::remove_all(dir);
  fs::create_directories(dir + "/dense");
  fs::create_directories(dir + "/tile");
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.in_channels = 1, cfg.width = 0.0625, cfg.hidden = 24, cfg.classes = 10;
  const auto w = [&] { // random non-zero biases (he_init's are 0)
    auto v = nn::he_init(cfg, 3);
    std::mt19937 gb(3);
    std::normal_distribution<float> d(0.0f, 0.2f);
    for (auto& p : v.params)
      for (auto& b : p.bias) b = d(gb);
    return v;
  }();
  nn::save_npy_dir(w, dir + "/dense");

  // 7 images (the last batch of 3 is partial) and their labels
  const std::size_t N = 7;
  nn::tensor4 x(N, 1, 32, 32);
  std::mt19937 g(5);
  std::normal_distribution<float> d;
  for (auto& v : x.data) v = d(g);
  npy::write(dir + "/x.npy", {N, 1, 32, 32}, x.data.data());
  const auto want = nn::forward_host(w, x);
  std::vector<std::uint8_t> labels(N);
  for (std::size_t i = 0; i < N; ++i) labels[i] = static_cast<std::uint8_t>(nn::argmax(want, 10)[i]);
  labels[0] = static_cast<std::uint8_t>((labels[0] + 1) % 10); // one wrong label: accuracy 6/7
  npy::write(dir + "/y.npy", {N}, labels.data());
  const std::string common = " --input 32 --in-channels 1 --width 0.0625 --hidden 24 --classes 10 --batch 3 --images " +
                             dir + "/x.npy --labels " + dir + "/y.npy --policy arm-mali-valhall";

  auto close = [](const std::vector<float>& got, const std::vector<float>& ref) {
    REQUIRE(got.size() == ref.size());
    double scale = 1e-6, diff = 0;
    for (std::size_t i = 0; i < ref.size(); ++i)
      scale = std::max(scale, static_cast<double>(std::fabs(ref[i]))),
      diff = std::max(diff, static_cast<double>(std::fabs(got[i] - ref[i])));
    REQUIRE(diff <= 1e-3 * scale);
  };

  SECTION("dense") {
    const auto r = run_tool("--weights " + dir + "/dense --logits " + dir + "/dense.npy" + common, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    REQUIRE(r.out.find("\"images\":7") != std::string::npos);
    REQUIRE(r.out.find("\"accuracy\":0.857143") != std::string::npos);
    const auto logits = npy::read_floats(dir + "/dense.npy");
    REQUIRE(logits.shape == std::vector<std::size_t>{N, 10});
    close(logits.data, want);
    // every GEMM computing 3 column tiles per work-group: the same logits
    const auto r3 = run_tool("--weights " + dir + "/dense --logits " + dir + "/dense3.npy --tiles-per-group 3" + common, dir);
    INFO(r3.err);
    REQUIRE(r3.status == 0);
    close(npy::read_floats(dir + "/dense3.npy").data, want);
    const auto r0 = run_tool("--weights " + dir + "/dense --tiles-per-group 0" + common, dir);
    REQUIRE(r0.status != 0);
    REQUIRE(r0.err.find("--tiles-per-group expects a positive integer, got '0'") != std::string::npos);
  }
  SECTION("tile masks fixed by files, conv1_1 and fc8 dense") {
    using P = presets::arm_mali_valhall;
    auto pruned = w;
    for (std::size_t i = 1; i + 1 < w.layers.size(); ++i) {
      const auto& l = w.layers[i];
      const matrix_view v(w.params[i].weight.data(), l.shape.gemm_rows(), l.shape.gemm_cols());
      const auto m = prune<P>(v, units::tile{}, 0.75);
      pruned.params[i].weight = m.apply(v);
      npy::write(dir + "/tile/" + l.name + ".mask.npy", nn::weight_shape(l), m.data());
    }
    nn::save_npy_dir(pruned, dir + "/tile");
    const auto r = run_tool("--weights " + dir + "/tile --masks " + dir + "/tile --technique tile --logits " + dir +
                                "/tile.npy" + common, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    REQUIRE(r.out.find("\"masked_layers\":14") != std::string::npos);
    REQUIRE(r.out.find("\"masks_unchecked\":14") != std::string::npos); // no metadata: said, not silent
    REQUIRE(r.out.find("\"kernels\":[\"dense\",\"tile") != std::string::npos);
    close(npy::read_floats(dir + "/tile.npy").data, nn::forward_host(pruned, x));

    // metadata beside one mask: checked when it fits, refused when it names another policy
    // or technique, before any work
    const auto& l2 = w.layers[2];
    mask_metadata meta;
    meta.policy = "arm-mali-valhall", meta.technique = "tile", meta.granularity = "tile";
    meta.unit = P::tile_unit, meta.simd_unit = P::simd_unit, meta.tile_unit = P::tile_unit;
    meta.shape = nn::weight_shape(l2), meta.gemm_rows = l2.shape.gemm_rows(), meta.gemm_cols = l2.shape.gemm_cols();
    meta.criterion = "l1", meta.target_sparsity = 0.75, meta.achieved_sparsity = 0.75;
    const std::string meta_file = dir + "/tile/" + l2.name + ".mask.json";
    npy::write_atomic(meta_file, to_json(meta));
    const auto checked = run_tool("--weights " + dir + "/tile --masks " + dir + "/tile --technique tile" + common, dir);
    INFO(checked.err);
    REQUIRE(checked.status == 0);
    REQUIRE(checked.out.find("\"masks_checked\":1,\"masks_unchecked\":13") != std::string::npos);
    const auto as_simd = run_tool("--weights " + dir + "/tile --masks " + dir + "/tile --technique simd" + common, dir);
    REQUIRE(as_simd.status != 0);
    REQUIRE(as_simd.err.find(meta_file + ": the mask was made with technique 'tile'") != std::string::npos);
    meta.policy = "nvidia", meta.simd_unit = presets::nvidia::simd_unit, meta.tile_unit = presets::nvidia::tile_unit;
    npy::write_atomic(meta_file, to_json(meta));
    const auto other = run_tool("--weights " + dir + "/tile --masks " + dir + "/tile --technique tile" + common, dir);
    REQUIRE(other.status != 0);
    REQUIRE(other.err.find("made for policy 'nvidia'") != std::string::npos);
    REQUIRE(other.err.find("runs with policy 'arm-mali-valhall'") != std::string::npos);
    fs::remove(meta_file);

    // a mask value other than 0 or 1: the file is named
    {
      const auto& l5 = w.layers[2];
      const std::string f5 = dir + "/tile/" + l5.name + ".mask.npy";
      auto m5 = npy::read_bytes(f5);
      const auto keep5 = m5.data;
      m5.data[12] = 2;
      npy::write(f5, m5.shape, m5.data.data());
      const auto two = run_tool("--weights " + dir + "/tile --masks " + dir + "/tile --technique tile" + common, dir);
      REQUIRE(two.status != 0);
      REQUIRE(two.err.find(f5 + ": value 2 at index 12") != std::string::npos);
      npy::write(f5, m5.shape, keep5.data());
    }
    // a mask whose shape does not fit its layer
    const std::uint8_t one = 1;
    npy::write(dir + "/tile/features.5.mask.npy", {1}, &one);
    const auto bad = run_tool("--weights " + dir + "/tile --masks " + dir + "/tile --technique tile" + common, dir);
    REQUIRE(bad.status != 0);
    REQUIRE(bad.err.find("features.5.mask.npy: the mask has shape [1], the layer's weights [") != std::string::npos);
  }
  SECTION("a plan: per-layer techniques and sparsities, pruned on load or from masks") {
    using P = presets::arm_mali_valhall;
    // a plan as gapp-advise writes it: three techniques and dense, by layer
    tune::plan plan;
    plan.policy = "arm-mali-valhall", plan.batch = 3, plan.predicted_ms = 5.0, plan.other_ms = 1.0;
    const char* techs[] = {"dense", "simd", "tile", "simd-balanced", "dense"};
    const double sparsity[] = {0, 0.75, 0.5, 0.9, 0};
    auto want_w = w;
    fs::create_directories(dir + "/plan_masks");
    for (std::size_t i = 0; i < w.layers.size(); ++i) {
      const auto& l = w.layers[i];
      tune::plan_layer pl;
      pl.name = l.name, pl.display = l.display, pl.m = l.shape.gemm_rows(), pl.k = l.shape.gemm_cols();
      const std::size_t c = i == 0 || i + 1 == w.layers.size() ? 0 : 1 + i % 3;
      pl.technique = techs[c], pl.sparsity = sparsity[c];
      plan.layers.push_back(pl);
      if (c == 0) continue;
      const matrix_view v(w.params[i].weight.data(), pl.m, pl.k);
      const technique t = parse_technique(pl.technique);
      prune_options po;
      po.balanced = t.balanced;
      std::visit([&](auto unit) {
        const auto m = prune<P>(v, unit, pl.sparsity, po);
        want_w.params[i].weight = m.apply(v);
        npy::write(dir + "/plan_masks/" + l.name + ".mask.npy", nn::weight_shape(l), m.data());
      }, *t.unit);
    }
    npy::write_atomic(dir + "/plan.json", tune::to_json(plan));
    const std::string plan_common = " --input 32 --in-channels 1 --width 0.0625 --hidden 24 --classes 10 --images " +
                                    dir + "/x.npy --labels " + dir + "/y.npy --weights " + dir + "/dense";
    const auto want = nn::forward_host(want_w, x);
    const auto r = run_tool("--plan " + dir + "/plan.json --logits " + dir + "/plan.npy" + plan_common, dir);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    REQUIRE(r.out.find("\"technique\":\"plan\"") != std::string::npos);
    REQUIRE(r.out.find("\"batch\":3") != std::string::npos); // the plan's batch
    REQUIRE(r.out.find("\"predicted_batch_ms\":5.000") != std::string::npos);
    REQUIRE(r.out.find("\"kernels\":[\"dense\",\"tile-balanced\",\"simd-balanced\",\"simd\",") != std::string::npos);
    close(npy::read_floats(dir + "/plan.npy").data, want);
    const auto rm = run_tool("--plan " + dir + "/plan.json --masks " + dir + "/plan_masks --logits " + dir +
                                 "/plan_m.npy --layer-times" + plan_common, dir);
    INFO(rm.err);
    REQUIRE(rm.status == 0);
    REQUIRE(rm.out.find("\"masked_layers\":14") != std::string::npos);
    REQUIRE(rm.out.find("\"layer_ms\":{\"conv1_1 ") != std::string::npos);
    REQUIRE(rm.out.find("\"conv1_1 gemm\":") != std::string::npos);
    REQUIRE(rm.out.find("\"fc8 gemm\":") != std::string::npos);
    close(npy::read_floats(dir + "/plan_m.npy").data, want);

    // a plan made on another device runs, without a prediction
    auto elsewhere = plan;
    elsewhere.device = "another device";
    npy::write_atomic(dir + "/plan_other.json", tune::to_json(elsewhere));
    const auto ro = run_tool("--plan " + dir + "/plan_other.json" + plan_common, dir);
    REQUIRE(ro.status == 0);
    REQUIRE(ro.out.find("\"prediction\":\"none: the plan was made for device 'another device'\"") != std::string::npos);
    REQUIRE(ro.out.find("predicted_batch_ms") == std::string::npos);

    // bad plans: refused before any work, naming the cause
    auto refused = [&](const std::string& args, const std::string& what) {
      const auto b = run_tool(args + plan_common, dir);
      INFO(args << "\n" << b.err);
      REQUIRE(b.status != 0);
      REQUIRE(b.err.find(what) != std::string::npos);
    };
    refused("--plan " + dir + "/plan.json --technique simd", "no --technique with it");
    fs::remove(dir + "/plan_masks/" + w.layers[2].name + ".mask.npy");
    refused("--plan " + dir + "/plan.json --masks " + dir + "/plan_masks", w.layers[2].name + ".mask.npy: missing");
    auto edited = plan;
    edited.layers[3].name = "features.99";
    npy::write_atomic(dir + "/plan_bad.json", tune::to_json(edited));
    refused("--plan " + dir + "/plan_bad.json", "names layer 'features.99'");
    edited = plan;
    edited.layers[3].k += 1;
    npy::write_atomic(dir + "/plan_bad.json", tune::to_json(edited));
    refused("--plan " + dir + "/plan_bad.json", "was planned as a");
    edited = plan;
    edited.policy = "pocl-avx512@64x48x32/8x48/4-direct";
    npy::write_atomic(dir + "/plan_bad.json", tune::to_json(edited));
    refused("--plan " + dir + "/plan_bad.json", "is not a preset");
    npy::write_atomic(dir + "/plan_bad.json", tune::to_json(plan).substr(0, 200));
    refused("--plan " + dir + "/plan_bad.json", dir + "/plan_bad.json");
  }
  SECTION("bad arguments and input") {
    auto fails_with = [&](const std::string& args, const std::string& text) {
      const auto r = run_tool(args, dir);
      INFO(args << "\n" << r.err);
      REQUIRE(r.status != 0);
      REQUIRE(r.out.empty());
      REQUIRE(r.err.rfind("gapp-vgg16: error: ", 0) == 0);
      REQUIRE(r.err.find(text) != std::string::npos);
    };
    fails_with("--weights " + dir + "/dense --technique tile" + common, "needs --masks");
    fails_with("--weights " + dir + "/dense --technique sparse" + common, "unknown technique 'sparse'");
    fails_with("--weights " + dir + "/dense --masks " + dir + "/dense" + common, "--masks needs a sparse");
    fails_with("--weights " + dir + "/nowhere" + common, "nowhere/features.0.weight.npy");
    fails_with("--weights " + dir + "/dense" + common + " --width 0.5", "shape");
    fails_with("--weights " + dir + "/dense --batch 0" + common, "--batch expects a positive integer");
    fails_with("--weights " + dir + "/dense" + common + " --policy gpu9000", "unknown policy 'gpu9000'");
    npy::write(dir + "/x3.npy", {N, 3, 32, 32}, std::vector<float>(N * 3 * 32 * 32).data());
    fails_with("--weights " + dir + "/dense --input 32 --in-channels 1 --width 0.0625 --hidden 24 --classes 10 --images " +
                   dir + "/x3.npy",
               "images must be N x 1 x 32 x 32 (NCHW float32), got shape [7,3,32,32]");
    // outputs never replace inputs; every option checked on its own
    auto bytes = [](const std::string& p) {
      std::ifstream in(p, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    const std::string x_bytes = bytes(dir + "/x.npy"), w_bytes = bytes(dir + "/dense/features.0.weight.npy");
    fails_with("--weights " + dir + "/dense --logits " + dir + "/x.npy" + common, "is the same file as --images");
    fails_with("--weights " + dir + "/dense --logits " + dir + "/dense/../dense/features.0.weight.npy" + common,
               "is the same file as a weight file");
    REQUIRE(bytes(dir + "/x.npy") == x_bytes);
    REQUIRE(bytes(dir + "/dense/features.0.weight.npy") == w_bytes);
    fails_with("--weights " + dir + "/dense --device 1.5" + common, "--device expects a device index");
    fails_with("--weights " + dir + "/dense --device 99" + common, "no OpenCL device 99");
    fails_with("--weights " + dir + "/dense --batch 100000" + common, "--batch must be at most 65536");
    fails_with("--weights " + dir + "/dense --input 32 --in-channels 1 --width 0.0625 --hidden 24 --classes 10 --images " +
                   dir + "/dense",
               "is a directory, not a regular file");
  }
}
#endif
