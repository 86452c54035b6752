// gapp-prune end to end: files in, mask and JSON out; bad arguments write nothing.
#include <catch2/catch.hpp>

#include "reference.hpp"
#include "run_tool.hpp"

#include <gapp/nn/vgg16.hpp>
#include <gapp/tune.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#ifdef GAPP_PRUNE_EXE
using namespace gapp;
namespace fs = std::filesystem;

namespace {

std::string tmp(const std::string& name) { return std::string(GAPP_TEST_TMP) + "/cli_" + name; }

using result = gapp_test::tool_result;

/// Runs gapp-prune; `tag` keeps the output files of test cases that CTest runs in
/// parallel apart.
result run(const std::string& args, const std::string& tag) {
  return gapp_test::run_tool(GAPP_PRUNE_EXE, args, tmp(tag));
}

double field(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\":");
  REQUIRE(at != std::string::npos);
  return std::strtod(json.c_str() + at + key.size() + 3, nullptr);
}

} // namespace

TEST_CASE("gapp-prune prunes 2-D and OIHW .npy files like the library does", "[cli]") {
  std::mt19937 g(2024);
  const conv_shape cs{24, 8, 3, 3};
  const auto w4 = ref::random_weights(g, cs.size(), 0);
  npy::write(tmp("w4.npy"), {24, 8, 3, 3}, w4.data());
  const auto w2 = ref::random_weights(g, 67 * 45, 0);
  npy::write(tmp("w2.npy"), {67, 45}, w2.data());

  using P = presets::amd_gcn;
  auto check = [&](const std::string& unit_arg, const auto& unit, const std::string& file, const std::vector<float>& w,
                   std::size_t rows, std::size_t cols, const std::vector<std::size_t>& shape, double s) {
    fs::remove(tmp("m.npy"));
    fs::remove(tmp("p.npy"));
    const auto r = run("--policy amd-gcn --unit " + unit_arg + " --sparsity " + std::to_string(s) + " --mask " +
                       tmp("m.npy") + " --pruned " + tmp("p.npy") + " " + tmp(file), "lib");
    INFO(unit_arg << " " << file << "\n" << r.out << r.err);
    REQUIRE(r.status == 0);
    REQUIRE(r.out.find("\"policy\":\"amd-gcn\"") != std::string::npos);
    const auto lib = prune<P>(matrix_view(w.data(), rows, cols), unit, s);
    const unit_shape us = lib.shape();
    REQUIRE(r.out.find("\"unit\":[" + std::to_string(us.rows) + "," + std::to_string(us.cols) + "]") !=
            std::string::npos);
    REQUIRE(field(r.out, "target_sparsity") == Approx(s));
    REQUIRE(field(r.out, "achieved_sparsity") == Approx(lib.sparsity()).epsilon(1e-7));
    REQUIRE(field(r.out, "kept_l2_fraction") ==
            Approx(kept_l2_fraction(matrix_view(w.data(), rows, cols), lib)).epsilon(1e-7));
    const auto m = npy::read_bytes(tmp("m.npy"));
    REQUIRE(m.shape == shape);
    REQUIRE(m.data == lib.keep());
    const auto p = npy::read_floats(tmp("p.npy"));
    REQUIRE(p.shape == shape);
    REQUIRE(p.data == lib.apply(matrix_view(w.data(), rows, cols)));
    // the metadata beside the mask says what it was made for, and loads back
    REQUIRE(r.out.find("\"metadata\":\"" + tmp("m.json") + "\"") != std::string::npos);
    const auto meta = read_mask_metadata(tmp("m.npy"));
    REQUIRE(meta);
    REQUIRE(meta->policy == "amd-gcn");
    REQUIRE(meta->technique == unit_arg);
    REQUIRE(meta->unit == us);
    REQUIRE(meta->simd_unit == P::simd_unit);
    REQUIRE(meta->tile_unit == P::tile_unit);
    REQUIRE(meta->shape == shape);
    REQUIRE(meta->gemm_rows == rows);
    REQUIRE(meta->gemm_cols == cols);
    REQUIRE(meta->criterion == "l1");
    REQUIRE(meta->target_sparsity == Approx(s));
    REQUIRE(meta->achieved_sparsity == Approx(lib.sparsity()).epsilon(1e-7));
    REQUIRE(meta->version == GAPP_VERSION_STRING);
  };
  for (double s : {0.5, 0.75}) {
    check("element", units::element{}, "w2.npy", w2, 67, 45, {67, 45}, s);
    check("simd", units::simd{}, "w4.npy", w4, 24, 72, {24, 8, 3, 3}, s);
    check("tile", units::tile{}, "w2.npy", w2, 67, 45, {67, 45}, s);
    check("multi", units::multi{}, "w2.npy", w2, 67, 45, {67, 45}, s);
    check("filter", units::filter{}, "w4.npy", w4, 24, 72, {24, 8, 3, 3}, s);
    check("channel", units::channel{9}, "w4.npy", w4, 24, 72, {24, 8, 3, 3}, s);
    check("channel", units::channel{1}, "w2.npy", w2, 67, 45, {67, 45}, s);
    check("block:3x5", units::block{3, 5}, "w2.npy", w2, 67, 45, {67, 45}, s);
  }
  check("nm:2:4", units::nm{2, 4}, "w4.npy", w4, 24, 72, {24, 8, 3, 3}, 0.5);

  // without --sparsity, N:M uses its own
  const auto r = run("--policy nvidia --unit nm:1:4 --mask " + tmp("m.npy") + " " + tmp("w2.npy"), "lib");
  REQUIRE(r.status == 0);
  REQUIRE(field(r.out, "target_sparsity") == Approx(0.75));
  // balanced selection and multi with an explicit tile share
  const auto b = run("--policy pocl-avx512 --unit multi --tile-sparsity 0.2 --balanced --criterion l2 --sparsity 0.6 "
                     "--mask " + tmp("m.npy") + " " + tmp("w2.npy"), "lib");
  REQUIRE(b.status == 0);
  REQUIRE(field(b.out, "tile_sparsity") == Approx(0.2));
  REQUIRE(b.out.find("\"balanced\":true") != std::string::npos);
  REQUIRE(b.out.find("\"criterion\":\"l2\"") != std::string::npos);
}

TEST_CASE("gapp-prune prunes for tuned policies, by name or from a device profile", "[cli][tune]") {
  std::mt19937 g(77);
  const auto w = ref::random_weights(g, 100 * 72, 0);
  npy::write(tmp("wt.npy"), {100, 72}, w.data());
  const matrix_view wv(w.data(), 100, 72);
  using T = tune::tuned<presets::pocl_avx512, tiling<48, 32, 32, 12, 32, 4, staging::direct>>;
  for (const char* unit : {"simd", "tile", "multi"}) {
    fs::remove(tmp("mt.npy"));
    const auto r = run(std::string("--policy ") + std::string(T::name) + " --unit " + unit + " --sparsity 0.75 --mask " +
                       tmp("mt.npy") + " " + tmp("wt.npy"), "tuned");
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    const auto lib = std::string(unit) == "simd"   ? prune<T>(wv, units::simd{}, 0.75).keep()
                     : std::string(unit) == "tile" ? prune<T>(wv, units::tile{}, 0.75).keep()
                                                   : prune<T>(wv, units::multi{}, 0.75).keep();
    CHECK(npy::read_bytes(tmp("mt.npy")).data == lib);
    const auto meta = read_mask_metadata(tmp("mt.npy"));
    REQUIRE(meta);
    CHECK(meta->policy == T::name);
    CHECK(meta->simd_unit == T::simd_unit); // 12×4, not the preset's 8×4
    CHECK(meta->tile_unit == T::tile_unit);
  }
  // a profile: its best policy for the technique, recorded in the output
  tune::profile prof;
  prof.device = "d", prof.vendor = "v", prof.driver = "1", prof.preset = "pocl-avx512";
  prof.best.push_back({"simd", std::string(T::name), 1.2});
  std::ofstream(tmp("prof.json")) << tune::to_json(prof);
  auto r = run("--profile " + tmp("prof.json") + " --unit simd --sparsity 0.5 --mask " + tmp("mt.npy") + " " +
               tmp("wt.npy"), "tuned");
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("\"policy\":\"" + std::string(T::name) + "\"") &&
                        Catch::Contains("\"profile_choice\":\"the profile's best simd policy\""));
  r = run("--profile " + tmp("prof.json") + " --unit tile --sparsity 0.5 --mask " + tmp("mt.npy") + " " + tmp("wt.npy"),
          "tuned");
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("\"policy\":\"pocl-avx512\"") && Catch::Contains("its preset"));
  // bad input: an unknown tuned name, a corrupt profile, both --policy and --profile
  fs::remove(tmp("mt.npy"));
  r = run("--policy pocl-avx512@1x2x3/4x5/6-direct --unit simd --sparsity 0.5 --mask " + tmp("mt.npy") + " " +
          tmp("wt.npy"), "tuned");
  CHECK(r.status != 0);
  CHECK_THAT(r.err, Catch::Contains("unknown tuned policy"));
  std::ofstream(tmp("bad.json")) << "{\"format\": \"gapp-device-profile\", \"version\": 1";
  r = run("--profile " + tmp("bad.json") + " --unit simd --sparsity 0.5 --mask " + tmp("mt.npy") + " " + tmp("wt.npy"),
          "tuned");
  CHECK(r.status != 0);
  CHECK_THAT(r.err, Catch::Contains("bad.json"));
  r = run("--policy nvidia --profile " + tmp("prof.json") + " --unit simd --sparsity 0.5 --mask " + tmp("mt.npy") + " " +
          tmp("wt.npy"), "tuned");
  CHECK(r.status != 0);
  CHECK(!fs::exists(tmp("mt.npy")));
}

TEST_CASE("gapp-prune lists its presets", "[cli]") {
  const auto r = run("--list-policies", "list");
  REQUIRE(r.status == 0);
  presets::all::for_each([&](auto p) { REQUIRE(r.out.find(std::string(decltype(p)::name)) != std::string::npos); });
  REQUIRE(r.out.find("8x4") != std::string::npos); // pocl-avx512's SIMD unit
}

TEST_CASE("gapp-prune refuses bad arguments with one line and writes nothing", "[cli][errors]") {
  std::mt19937 g(1);
  const auto w = ref::random_weights(g, 16 * 16, 0);
  npy::write(tmp("ok.npy"), {16, 16}, w.data());
  npy::write(tmp("w3.npy"), {4, 4, 16}, w.data());
  npy::write(tmp("empty.npy"), {0, 16}, w.data());
  auto bad = w;
  bad[7] = std::nanf("");
  npy::write(tmp("nan.npy"), {16, 16}, bad.data());
  { std::ofstream(tmp("junk.npy")) << "not a numpy file"; }
  npy::write(tmp("s.npy"), {16, 16}, w.data());
  fs::remove(tmp("link.npy"));
  fs::create_symlink(tmp("ok.npy"), tmp("link.npy"));
  fs::create_directories(tmp("adir"));
  fs::remove(tmp("fifo"));
  REQUIRE(std::system(("mkfifo " + tmp("fifo")).c_str()) == 0);
  const std::string mask = tmp("never.npy");
  auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string ok_bytes = bytes(tmp("ok.npy")), s_bytes = bytes(tmp("s.npy"));
  const std::string ok = " --mask " + mask + " " + tmp("ok.npy");
  const std::pair<std::string, std::string> cases[] = {
      {"--policy nvidiaa --unit simd --sparsity 0.5" + ok, "unknown policy preset 'nvidiaa'"},
      {"--policy nvidia --unit simd --sparsity 1" + ok, "[0, 1)"},
      {"--policy nvidia --unit simd --sparsity -0.5" + ok, "[0, 1)"},
      {"--policy nvidia --unit simd --sparsity abc" + ok, "expects a number"},
      {"--policy nvidia --unit simd" + ok, "--sparsity is required"},
      {"--policy nvidia --unit pixel --sparsity 0.5" + ok, "unknown unit 'pixel'"},
      {"--policy nvidia --unit nm:2 --sparsity 0.5" + ok, "nm:N:M"},
      {"--policy nvidia --unit nm:2:4 --sparsity 0.7" + ok, "fixes the sparsity"},
      {"--policy nvidia --unit block:0x4 --sparsity 0.5" + ok, "positive integer"},
      {"--policy nvidia --unit channel --sparsity 0.5 --balanced" + ok, "balanced selection is not defined"},
      {"--policy nvidia --unit simd --sparsity 0.5 --tile-sparsity 0.1" + ok, "applies only to --unit multi"},
      {"--policy nvidia --unit simd --sparsity 0.5 --criterion l3" + ok, "unknown criterion"},
      {"--policy nvidia --unit simd --sparsity 0.5 --frobnicate" + ok, "unknown option"},
      {"--policy nvidia --unit simd --sparsity 0.5 " + tmp("ok.npy"), "--mask is required"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask, "no weights file"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " " + tmp("missing.npy"), "no such file"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " " + tmp("junk.npy"), "not a .npy file"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " " + tmp("w3.npy"), "2-D (M x K) or 4-D"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " " + tmp("nan.npy"), "NaN value at (0, 7)"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " " + tmp("empty.npy"), "is empty (0x16)"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " --scores " + tmp("w3.npy") + " " + tmp("ok.npy"),
       "scores have shape"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + tmp("ok.npy") + " " + tmp("ok.npy"),
       "is the same file as the weights file"},
      // hostile paths: outputs that are inputs under another name, or not regular files
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + std::string(GAPP_TEST_TMP) + "/./cli_ok.npy " + tmp("ok.npy"),
       "is the same file as the weights file"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + tmp("link.npy") + " " + tmp("ok.npy"),
       "is the same file as the weights file"},
      {"--policy nvidia --unit simd --sparsity 0.5 --scores " + tmp("s.npy") + " --mask " + tmp("s.npy") + " " +
           tmp("ok.npy"),
       "is the same file as --scores"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " --pruned " + std::string(GAPP_TEST_TMP) + "/../tmp/cli_never.npy " + tmp("ok.npy"),
       "are the same file"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " --pruned " + tmp("never.json") + " " + tmp("ok.npy"),
       "are the same file"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + tmp("adir") + " " + tmp("ok.npy"),
       "is a directory; refusing to replace it"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + tmp("fifo") + " " + tmp("ok.npy"),
       "is a FIFO; refusing to replace it"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " " + tmp("adir"), "is a directory, not a regular file"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " --scores " + tmp("adir") + " " + tmp("ok.npy"),
       "is a directory, not a regular file"},
      // an error in a later output leaves none written (the mask is made, the pruned file cannot be)
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + mask + " --pruned " + tmp("no-dir/p.npy") + " " + tmp("ok.npy"),
       "cannot open a temporary file"},
      // options checked on their own
      {"--policy nvidia --unit nm:5:4" + ok, "need N <= M"},
      {"--policy nvidia --unit multi --sparsity 0.5 --tile-sparsity -0.3" + ok, "--tile-sparsity must lie in [0, 1)"},
      {"--policy nvidia --unit simd --sparsity 0.5 --mask " + tmp("no-dir/m.npy") + " " + tmp("ok.npy"),
       "cannot open a temporary file"},
  };
  for (const auto& [args, why] : cases) {
    const auto r = run(args, "bad");
    INFO(args << "\n" << r.err);
    REQUIRE(r.status != 0);
    REQUIRE(r.out.empty());
    REQUIRE(r.err.find(why) != std::string::npos);
    REQUIRE(r.err.rfind("gapp-prune: error: ", 0) == 0);
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    REQUIRE_FALSE(fs::exists(mask));
    REQUIRE_FALSE(fs::exists(tmp("never.json")));
    // every input is intact, byte for byte, and nothing else appeared
    REQUIRE(bytes(tmp("ok.npy")) == ok_bytes);
    REQUIRE(bytes(tmp("s.npy")) == s_bytes);
    REQUIRE(fs::is_directory(tmp("adir")));
    REQUIRE(fs::is_empty(tmp("adir")));
    REQUIRE(fs::is_fifo(tmp("fifo")));
    REQUIRE(fs::is_symlink(tmp("link.npy")));
  }
  for (const auto& e : fs::directory_iterator(GAPP_TEST_TMP)) { // no temporary left behind by these cases
    const std::string f = e.path().filename().string();
    for (const char* mine : {"cli_never", "cli_ok", "cli_s.", "cli_adir", "cli_fifo", "cli_link"})
      if (f.rfind(mine, 0) == 0) REQUIRE(f.find(".tmp-") == std::string::npos);
  }
}
TEST_CASE("gapp-prune --reorder writes the row order, and the mask of the reordered weights", "[cli][reorder]") {
  std::mt19937 g(77);
  // interleaved strong and weak output channels: reordering must find more magnitude
  const conv_shape cs{32, 8, 3, 3};
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(cs.size());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = nd(g) * ((i / cs.gemm_cols()) % 2 ? 0.01f : 1.0f);
  npy::write(tmp("rw.npy"), {32, 8, 3, 3}, w.data());
  for (const char* f : {"rm.npy", "rm.json", "rp.npy", "rperm.npy"}) fs::remove(tmp(f));
  const auto r = run("--policy pocl-avx512 --unit simd --sparsity 0.5 --mask " + tmp("rm.npy") + " --pruned " +
                         tmp("rp.npy") + " --reorder " + tmp("rperm.npy") + " --reorder-evaluations 60 " + tmp("rw.npy"),
                     "reorder");
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  const reorder::permutation order = reorder::read_permutation(tmp("rperm.npy"), 32);
  CHECK(order != reorder::identity(32));
  CHECK(field(r.out, "identity_kept_l2") < 0.9);
  CHECK(field(r.out, "kept_l2") > 0.99); // the search's (the metadata has kept_l2_fraction)
  // the mask is exactly the library's mask of the weights in that order
  using P = presets::pocl_avx512;
  const auto wp = reorder::permute_rows(matrix_view(w.data(), 32, cs.gemm_cols()), order);
  const auto lib = prune<P>(matrix_view(wp.data(), 32, cs.gemm_cols()), units::simd{}, 0.5);
  CHECK(npy::read_bytes(tmp("rm.npy")).data == lib.keep());
  const auto pruned = npy::read_floats(tmp("rp.npy"));
  CHECK(pruned.data == lib.apply(matrix_view(wp.data(), 32, cs.gemm_cols())));

  SECTION("--reorder refuses --scores and an output that is an input; nothing is written") {
    fs::remove(tmp("rperm.npy"));
    const auto s = run("--policy pocl-avx512 --unit simd --sparsity 0.5 --mask " + tmp("rm2.npy") + " --scores " +
                           tmp("rw.npy") + " --reorder " + tmp("rperm.npy") + " " + tmp("rw.npy"),
                       "reorder_bad");
    CHECK(s.status != 0);
    CHECK(s.err.find("does not take --scores") != std::string::npos);
    const auto t = run("--policy pocl-avx512 --unit simd --sparsity 0.5 --mask " + tmp("rm2.npy") + " --reorder " +
                           tmp("rw.npy") + " " + tmp("rw.npy"),
                       "reorder_bad2");
    CHECK(t.status != 0);
    CHECK(t.err.find("same file") != std::string::npos);
    CHECK_FALSE(fs::exists(tmp("rperm.npy")));
    CHECK_FALSE(fs::exists(tmp("rm2.npy")));
  }
}

TEST_CASE("gapp-prune --reorder-next orders a layer's rows for the next layer's tiles too", "[cli][reorder]") {
  std::mt19937 g(78);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  // this layer: 64 alike output channels; the next (40 x 64 x 1 x 1): inputs alternating
  // strong and weak, so only an order that sees the next layer groups them for its tiles
  std::vector<float> w(64 * 16), n(40 * 64);
  for (auto& v : w) v = 0.01f * nd(g);
  for (std::size_t r = 0; r < 40; ++r)
    for (std::size_t k = 0; k < 64; ++k) n[r * 64 + k] = nd(g) * (k % 2 ? 0.01f : 1.0f);
  npy::write(tmp("nw.npy"), {64, 16, 1, 1}, w.data());
  npy::write(tmp("nn.npy"), {40, 64, 1, 1}, n.data());
  for (const char* f : {"nm.npy", "nm.json", "nperm.npy"}) fs::remove(tmp(f));
  const std::string base = "--policy pocl-avx512 --unit tile --sparsity 0.5 --mask " + tmp("nm.npy") + " --reorder " +
                           tmp("nperm.npy") + " --reorder-evaluations 200 ";
  const auto r = run(base + "--reorder-next " + tmp("nn.npy") + " " + tmp("nw.npy"), "reorder_next");
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  const reorder::permutation order = reorder::read_permutation(tmp("nperm.npy"), 64);
  using P = presets::pocl_avx512;
  const policy_units pu{P::simd_unit, P::tile_unit};
  const double next_kept = reorder::kept_l2_with_groups(matrix_view(n.data(), 40, 64), order, 1, units::tile{}, 0.5, pu);
  CHECK(field(r.out, "next_identity_kept_l2") < 0.8);
  CHECK(field(r.out, "next_kept_l2") == Approx(next_kept));
  CHECK(next_kept > 0.99);
  CHECK(field(r.out, "kept_l2") >= field(r.out, "identity_kept_l2"));

  SECTION("a next layer that does not chain, without --reorder, or with channel units: refused, nothing written") {
    fs::remove(tmp("nperm.npy"));
    npy::write(tmp("nbad.npy"), {40, 32, 1, 1}, n.data());
    const auto a = run(base + "--reorder-next " + tmp("nbad.npy") + " " + tmp("nw.npy"), "reorder_next_bad");
    CHECK(a.status != 0);
    CHECK(a.err.find("nbad.npy") != std::string::npos);
    CHECK(a.err.find("64 output channels") != std::string::npos);
    const auto b = run("--policy pocl-avx512 --unit tile --sparsity 0.5 --mask " + tmp("nm2.npy") + " --reorder-next " +
                           tmp("nn.npy") + " " + tmp("nw.npy"),
                       "reorder_next_bad2");
    CHECK(b.status != 0);
    CHECK(b.err.find("goes with --reorder") != std::string::npos);
    const auto c = run("--policy pocl-avx512 --unit channel --sparsity 0.5 --mask " + tmp("nm2.npy") + " --reorder " +
                           tmp("nperm.npy") + " --reorder-next " + tmp("nn.npy") + " " + tmp("nw.npy"),
                       "reorder_next_bad3");
    CHECK(c.status != 0);
    CHECK(c.err.find("channel units") != std::string::npos);
    CHECK_FALSE(fs::exists(tmp("nperm.npy")));
    CHECK_FALSE(fs::exists(tmp("nm2.npy")));
  }
}

TEST_CASE("gapp-prune --permute folds row orders into a weights directory; the network is unchanged", "[cli][reorder]") {
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.in_channels = 1, cfg.width = 0.0625, cfg.hidden = 16, cfg.classes = 5;
  nn::vgg16_weights w = nn::he_init(cfg, 3);
  std::mt19937 g(6);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  for (auto& p : w.params)
    for (auto& b : p.bias) b = nd(g);
  const std::string wd = tmp("pw"), pd = tmp("pp"), od = tmp("po");
  for (const auto& d : {wd, pd, od}) fs::remove_all(d);
  fs::create_directories(wd);
  fs::create_directories(pd);
  nn::save_npy_dir(w, wd);
  // orders for a conv (features.0), the last conv (into the classifier) and fc6
  std::vector<std::size_t> which{0, 12, 13};
  for (std::size_t i : which) {
    reorder::permutation p = reorder::identity(w.layers[i].shape.out_channels);
    std::shuffle(p.begin(), p.end(), g);
    reorder::write_permutation(pd + "/" + w.layers[i].name + ".perm.npy", p);
  }
  const auto r = run("--permute " + pd + " --weights " + wd + " --out " + od, "permute");
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  const nn::vgg16_weights q = nn::load_npy_dir(cfg, od);
  CHECK(q.params[0].weight != w.params[0].weight);
  nn::tensor4 x(2, 1, 32, 32);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& v : x.data) v = u(g);
  const auto a = nn::forward_host(w, x), b = nn::forward_host(q, x);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == Approx(a[i]).margin(1e-4));

  SECTION("bad permutations or directories: an error naming the file, nothing written") {
    fs::remove_all(od);
    auto refuse = [&](const std::string& args, const std::string& why) {
      const auto e = run(args, "permute_bad");
      INFO(args << "\n" << e.err);
      CHECK(e.status != 0);
      CHECK(e.err.find(why) != std::string::npos);
      CHECK_FALSE(fs::exists(od));
    };
    const std::string perm0 = pd + "/" + w.layers[0].name + ".perm.npy";
    const std::vector<std::int32_t> repeat(w.layers[0].shape.out_channels, 0);
    npy::write(perm0, {repeat.size()}, repeat.data());
    refuse("--permute " + pd + " --weights " + wd + " --out " + od, perm0);
    const std::vector<std::int32_t> short_p{0, 1};
    npy::write(perm0, {2}, short_p.data());
    refuse("--permute " + pd + " --weights " + wd + " --out " + od, "2 entries for");
    fs::remove(perm0);
    const std::string last = pd + "/" + w.layers.back().name + ".perm.npy";
    reorder::write_permutation(last, reorder::identity(cfg.classes));
    refuse("--permute " + pd + " --weights " + wd + " --out " + od, "no next layer");
    fs::remove(last);
    reorder::write_permutation(pd + "/features.99.perm.npy", reorder::identity(3));
    refuse("--permute " + pd + " --weights " + wd + " --out " + od, "does not have");
    fs::remove(pd + "/features.99.perm.npy");
    refuse("--permute " + pd + " --weights " + wd + " --out " + wd, "never replaces an input");
    refuse("--permute " + pd + " --weights " + wd, "go together");
  }
}

#endif
