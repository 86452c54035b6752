// gapp-tune end to end on the test device: a profile of every candidate, checked and timed;
// resuming; bad input; dispatch with the profile, and with a profile of another driver.
#include <catch2/catch.hpp>

#include "../host/run_tool.hpp"
#include "cl_env.hpp"

#include <gapp/io/npy.hpp>
#include <gapp/nn/vgg16.hpp>
#include <gapp/opencl/tuned.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#ifdef GAPP_TUNE_EXE
using namespace gapp;
namespace fs = std::filesystem;

namespace {
gapp_test::tool_result run_tune(const std::string& args, const std::string& dir) {
  const char* pick = std::getenv("GAPP_TEST_DEVICE"); // the device the other tests use
  return gapp_test::run_tool(GAPP_TUNE_EXE, std::string("--device ") + (pick ? pick : "0") + " " + args, dir + "/tool");
}
std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
} // namespace

TEST_CASE("gapp-tune measures every candidate, resumes, and dispatch uses its profile", "[opencl][tool][tune]") {
  const std::string dir = std::string(GAPP_TEST_TMP) + "/tune_tool";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // edge-sized shapes: neither M, K nor N a multiple of any candidate's tile
  std::ofstream(dir + "/shapes.txt") << "# M K N\n40 72 100\n";
  std::ofstream(dir + "/two.txt") << "40 72 100\n24 36 50  # second\n";
  const std::string prof = dir + "/p.json";
  const auto r = run_tune("--shapes " + dir + "/shapes.txt --techniques dense,simd --sparsity 0.75 --repeats 2 --out " + prof, dir);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("\"best\":[{\"technique\":\"dense\""));
  const tune::profile p = tune::load_profile(prof);
  const opencl::device_info info = opencl::query(cl_env::get().device);
  CHECK(p.matches(info));
  CHECK(p.preset == choose_policy(info).name);
  std::size_t n_cand = 0;
  presets::all::visit(p.preset, [&](auto base) { n_cand = tune::candidates<decltype(base)>::size; });
  REQUIRE(p.measurements.size() == 2 * n_cand); // dense and simd, one shape
  std::set<std::string> names;
  for (const auto& m : p.measurements) {
    names.insert(m.policy);
    CHECK(m.ms.size() == 2);
    CHECK(m.median_ms > 0);
    CHECK((m.technique == "dense" ? m.achieved_sparsity == 0 : m.achieved_sparsity > 0.5));
  }
  CHECK(names.size() == n_cand);
  REQUIRE(p.policy_for("dense"));
  REQUIRE(p.policy_for("simd"));
  CHECK(!fs::exists(prof + ".partial"));

  // dispatch with the profile runs its best dense policy, and it computes W·X
  tune::tuned_choice why;
  const std::string ran = opencl::dispatch(cl_env::get().device, &p, [](auto pol) { return std::string(decltype(pol)::name); }, &why);
  CHECK(why.tuned); // taken from the profile (which may find the preset best)
  CHECK(ran == *p.policy_for("dense"));
  // per shape and sparsity: the profile's best on the measured shape; another shape: the
  // technique's best over all shapes
  std::string ran_shape, ran_other;
  presets::all::visit(p.preset, [&](auto base) {
    auto name = [](auto pol) { return std::string(decltype(pol)::name); };
    ran_shape = opencl::dispatch_tuned<decltype(base)>(cl_env::get().device, &p, {40, 72, 100, 0.75}, name, &why, "simd");
    CHECK(why.tuned);
    CHECK_THAT(why.reason, Catch::Contains("40x72x100"));
    ran_other = opencl::dispatch_tuned<decltype(base)>(cl_env::get().device, &p, {41, 72, 100, 0.75}, name, &why, "simd");
    CHECK_THAT(why.reason, Catch::Contains("not measured"));
  });
  CHECK(ran_shape == *p.policy_for("simd", 40, 72, 100, 0.75));
  CHECK(ran_other == *p.policy_for("simd"));
  // a profile of another driver: the preset, and why
  tune::profile other = p;
  other.driver = "0.0-other";
  const std::string ran2 = opencl::dispatch(cl_env::get().device, &other, [](auto pol) { return std::string(decltype(pol)::name); }, &why);
  CHECK(ran2 == p.preset);
  CHECK(!why.tuned);
  CHECK_THAT(why.reason, Catch::Contains("0.0-other"));

  // resume: a partial profile holding the first shape's groups is kept, not measured again
  fs::copy_file(prof, dir + "/q.json.partial");
  const auto r2 = run_tune("--shapes " + dir + "/two.txt --techniques dense,simd --sparsity 0.75 --repeats 1 --out " + dir + "/q.json", dir);
  INFO(r2.err);
  REQUIRE(r2.status == 0);
  CHECK_THAT(r2.err, Catch::Contains("resuming"));
  const tune::profile q = tune::load_profile(dir + "/q.json");
  REQUIRE(q.measurements.size() == 4 * n_cand);
  for (std::size_t i = 0; i < p.measurements.size(); ++i) CHECK(q.measurements[i].ms == p.measurements[i].ms);
  for (std::size_t i = p.measurements.size(); i < q.measurements.size(); ++i) CHECK(q.measurements[i].ms.size() == 1);

  // bad input: one line, exit 1, the good profile untouched
  const std::string good = slurp(prof);
  std::ofstream(prof + ".partial") << "{\"format\": \"gapp-device-profile\", \"version\": 1, \"device\": ";
  auto bad = run_tune("--shapes " + dir + "/shapes.txt --out " + prof, dir);
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("p.json.partial") && Catch::Contains("malformed JSON"));
  CHECK(slurp(prof) == good);
  fs::remove(prof + ".partial");
  std::ofstream(dir + "/bad.txt") << "40 72\n";
  bad = run_tune("--shapes " + dir + "/bad.txt --out " + prof, dir);
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("line 1") && Catch::Contains("'M K N'"));
  bad = run_tune("--sparsity 1.5 --out " + prof, dir);
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("--sparsity"));
  const std::string shapes_before = slurp(dir + "/shapes.txt");
  bad = run_tune("--shapes " + dir + "/shapes.txt --out " + dir + "/shapes.txt", dir);
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("--shapes"));
  CHECK(slurp(dir + "/shapes.txt") == shapes_before);
  bad = run_tune("--techniques dense,filter --out " + prof, dir);
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("'filter' is not tuned"));
  CHECK(slurp(prof) == good);
}

TEST_CASE("gapp-tune measures a network's convolutions as the network runs them", "[opencl][tool][tune]") {
  const std::string dir = std::string(GAPP_TEST_TMP) + "/tune_net";
  fs::remove_all(dir);
  fs::create_directories(dir + "/net");
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.in_channels = 1, cfg.width = 0.125, cfg.hidden = 16, cfg.classes = 10;
  nn::save_npy_dir(nn::he_init(cfg, 4), dir + "/net");
  std::set<std::string> shapes; // the conv GEMMs gapp-tune takes (conv1_1 stays dense), batch 2
  for (const auto& l : nn::vgg16_layers(cfg))
    if (l.conv && l.shape.in_channels * 9 >= 64)
      shapes.insert(std::to_string(l.shape.gemm_rows()) + "," + std::to_string(l.shape.gemm_cols()) + "," +
                    std::to_string(l.in_size * l.in_size * 2));
  const opencl::device_info info = opencl::query(cl_env::get().device);
  bool direct = false;
  presets::all::visit(choose_policy(info).name, [&](auto base) { direct = decltype(base)::mode == staging::direct; });
  for (const bool im2col : {false, true}) {
    const std::string out = dir + (im2col ? "/explicit.json" : "/implicit.json");
    // every candidate's result is checked against the host reference inside gapp-tune
    const auto r = run_tune("--weights " + dir + "/net --batch 2 --techniques dense --repeats 1 --preset-only --out " +
                                out + (im2col ? " --im2col" : ""), dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const tune::profile p = tune::load_profile(out);
    REQUIRE(p.measurements.size() == shapes.size()); // --preset-only: one candidate
    for (const auto& m : p.measurements) {
      CHECK(m.implicit == (!im2col && direct));
      CHECK(m.policy == p.preset);
    }
  }
  // the layers are measured with their own weights: a NaN in one is an error naming its file,
  // and no profile is written
  {
    const std::string f = dir + "/net/features.2.weight.npy";
    gapp::npy::tensor<float> t = gapp::npy::read_floats(f);
    t.data[5] = std::nanf("");
    gapp::npy::write(f, t.shape, t.data.data());
    const auto r = run_tune("--weights " + dir + "/net --batch 2 --techniques dense --repeats 1 --preset-only --out " +
                                dir + "/nan.json", dir);
    CHECK(r.status != 0);
    CHECK_THAT(r.err, Catch::Contains("features.2.weight.npy") && Catch::Contains("NaN"));
    CHECK_FALSE(fs::exists(dir + "/nan.json"));
  }
  auto bad = run_tune("--weights " + dir + "/net --batch 2 --max-n 64 --out " + dir + "/x.json", dir);
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("--im2col"));
  // the default shapes (the VGG16-224 layers) are convolutions too: --max-n cannot cut them
  bad = run_tune("--max-n 64 --out " + dir + "/x.json", dir);
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("--max-n cannot cut a convolution"));
  // --im2col names how convolutions are lowered: a file of plain GEMMs has none
  std::ofstream(dir + "/shapes.txt") << "40 72 96\n";
  bad = run_tune("--shapes " + dir + "/shapes.txt --im2col --out " + dir + "/x.json", dir);
  CHECK(bad.status != 0);
  CHECK_THAT(bad.err, Catch::Contains("--im2col applies to convolutions"));
  CHECK_FALSE(fs::exists(dir + "/x.json"));
}
#endif
