// Tuning: the JSON reader, the candidate lists, device profiles and the tuned choice.
#include <catch2/catch.hpp>

#include <gapp/io/json.hpp>
#include <gapp/tune/profile.hpp>

#include <cstdlib>
#include <set>
#include <string>

using namespace gapp;

TEST_CASE("json: values, paths and errors", "[tune][json]") {
  const auto d = json::parse(R"({"a": [1, 2.5, -3e2], "b": {"c": "x\"y\u0041"}, "t": true, "n": null})", "f.json");
  CHECK(d->at("a").items().size() == 3);
  CHECK(d->at("a").items()[2]->num() == -300.0);
  CHECK(d->at("b").at("c").str() == "x\"yA");
  CHECK(d->at("t").boolean());
  CHECK(d->at("n").is(json::value::kind::null));
  // errors name the file and the field's path
  CHECK_THROWS_WITH(d->at("b").at("missing"), Catch::Contains("f.json") && Catch::Contains("b.missing"));
  CHECK_THROWS_WITH(d->at("a").items()[1]->integer(0, 10), Catch::Contains("a[1]") && Catch::Contains("whole number"));
  CHECK_THROWS_WITH(d->at("a").items()[2]->num(0, 1), Catch::Contains("outside [0, 1]"));
  CHECK_THROWS_WITH(d->at("a").items()[1]->num(0, 2), Catch::Contains("outside [0, 2]")); // above, too
  CHECK(d->at("a").items()[1]->num(2.5, 2.5) == 2.5);                                        // both ends inclusive
  CHECK_THROWS_AS(d->at("a").str(), file_error);
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1,\"a\":2}", "{\"a\":1} x", "\"abc", "{\"a\":nan}",
                          "{\"a\":1e999}", "[01x]", "{'a':1}", "[\"\\q\"]", "[\"\\u12\"]"})
    CHECK_THROWS_AS(json::parse(bad, "bad.json"), file_error);
  CHECK_THROWS_WITH(json::parse("[1, 2", "t.json"), Catch::Contains("t.json") && Catch::Contains("byte 5"));
  // a raw control character in a string (JSON allows them only escaped)
  for (const char* raw : {"[\"a\nb\"]", "[\"a\tb\"]", "[\"\x01\"]"})
    CHECK_THROWS_WITH(json::parse(raw, "raw.json"), Catch::Contains("control character"));
  // a deep document is refused, not a stack overflow
  CHECK_THROWS_WITH(json::parse(std::string(100000, '['), "deep.json"), Catch::Contains("nested too deeply"));
  // round trip of the writer's escapes and numbers
  const std::string s = "a\"b\\c\nd\x01";
  CHECK(json::parse(json::quote(s), "q")->str() == s);
  CHECK(json::parse(json::number(0.1), "n")->num() == 0.1);
}

TEST_CASE("tune: candidate lists fit their devices and have unique names", "[tune]") {
  // at least 8 valid candidates for CPU devices and 8 for GPU devices
  STATIC_REQUIRE(tune::candidates<presets::pocl_avx512>::size >= 8);
  STATIC_REQUIRE(tune::candidates<presets::pocl_avx2>::size >= 8);
  STATIC_REQUIRE(tune::candidates<presets::nvidia>::size >= 8);
  STATIC_REQUIRE(tune::candidates<presets::amd_gcn>::size >= 8);
  STATIC_REQUIRE(tune::candidates<presets::arm_mali_valhall>::size >= 8);
  presets::all::for_each([](auto base) {
    using B = decltype(base);
    std::set<std::string> names;
    std::size_t n = 0;
    tune::candidates<B>::for_each([&](auto c) {
      using C = decltype(c);
      ++n;
      names.insert(std::string(C::name));
      // the same device, another tiling; the preset itself comes first under its own name
      CHECK(C::simd_width == B::simd_width);
      CHECK(C::max_work_group == B::max_work_group);
      if (n == 1) CHECK(C::name == B::name);
      else CHECK(std::string(C::name).rfind(std::string(B::name) + "@", 0) == 0);
      CHECK(C::work_group_size <= B::max_work_group);
    });
    CHECK(n == tune::candidates<B>::size);
    CHECK(names.size() == n);
  });
  // fits() rejects what policy<> would reject
  using D = presets::nvidia::device;
  STATIC_REQUIRE(!tune::fits<D, tiling<64, 64, 16, 3, 4, 1, staging::local>>());      // RM does not divide TM
  STATIC_REQUIRE(!tune::fits<D, tiling<256, 256, 16, 4, 4, 1, staging::local>>());    // 4096 work-items
  STATIC_REQUIRE(!tune::fits<D, tiling<128, 128, 64, 8, 8, 1, staging::local>>());    // 64 KiB staged > 48 KiB
  STATIC_REQUIRE(tune::fits<D, tiling<64, 64, 16, 4, 4, 1, staging::local>>());
  CHECK(tune::tuned<presets::pocl_avx512, tiling<64, 32, 64, 8, 32, 4, staging::direct>>::name ==
        "pocl-avx512@64x32x64/8x32/4-direct");
}

TEST_CASE("tune: visit_policy finds presets and tuned candidates by name", "[tune]") {
  CHECK(tune::visit_policy("nvidia", [](auto p) { return decltype(p)::tm; }) == 64);
  CHECK(tune::visit_policy("pocl-avx512@64x32x64/8x32/4-direct", [](auto p) { return decltype(p)::tk; }) == 64);
  CHECK(tune::visit_policy("pocl-avx512@48x32x32/12x32/4-direct", [](auto p) { return decltype(p)::simd_unit.rows; }) == 12);
  CHECK_THROWS_WITH(tune::visit_policy("pocl-avx512@1x1x1/1x1/1-direct", [](auto) {}),
                    Catch::Contains("unknown tuned policy") && Catch::Contains("pocl-avx512@64x32x64/8x32/4-direct"));
  CHECK_THROWS_WITH(tune::visit_policy("nosuch@64x32x64/8x32/4-direct", [](auto) {}), Catch::Contains("unknown policy preset"));
}

namespace {
tune::profile sample_profile() {
  tune::profile p;
  p.device = "dev", p.vendor = "ven", p.driver = "1.0", p.preset = "pocl-avx512";
  const std::string fast = "pocl-avx512@64x32x64/8x32/4-direct", slow = "pocl-avx512@32x32x32/8x32/4-direct";
  for (std::size_t m : {64, 128}) {
    p.measurements.push_back({m, 576, 1024, "dense", 0, "pocl-avx512", {2, 2, 2}, 2, 0});
    p.measurements.push_back({m, 576, 1024, "dense", 0, fast, {1, 1, 1}, 1, 0});
    p.measurements.push_back({m, 576, 1024, "dense", 0, slow, {4, 4, 4}, 4, 0});
    p.measurements.push_back({m, 576, 1024, "simd", 0.75, "pocl-avx512", {1, 1, 1}, 1, 0.75});
    p.measurements.push_back({m, 576, 1024, "simd", 0.75, slow, {2, 2, 2}, 2, 0.75});
  }
  // on the taller shape SIMD units were also measured at 0.9, where `slow` wins by more than
  // it loses at 0.75 (geomean 0.71 against the preset's 1); `fast` only at 0.9
  p.measurements.push_back({128, 576, 1024, "simd", 0.9, "pocl-avx512", {1, 1, 1}, 1, 0.9});
  p.measurements.push_back({128, 576, 1024, "simd", 0.9, slow, {0.25, 0.25, 0.25}, 0.25, 0.9});
  p.measurements.push_back({128, 576, 1024, "simd", 0.9, fast, {0.1, 0.1, 0.1}, 0.1, 0.9});
  tune::summarise(p);
  return p;
}
} // namespace

TEST_CASE("tune: profile summary, round trip and the tuned choice", "[tune]") {
  const tune::profile p = sample_profile();
  REQUIRE(p.policy_for("dense"));
  CHECK(*p.policy_for("dense") == "pocl-avx512@64x32x64/8x32/4-direct");
  CHECK(*p.policy_for("simd") == "pocl-avx512"); // no candidate beats the preset: the preset
  CHECK(*p.policy_for("simd-balanced") == "pocl-avx512"); // a balanced technique uses its unit's entry
  CHECK(!p.policy_for("tile"));
  CHECK(p.best[0].speedup_vs_preset == Approx(2.0));
  CHECK(*p.policy_for("dense", 64, 576, 1024) == "pocl-avx512@64x32x64/8x32/4-direct");
  CHECK(!p.policy_for("dense", 64, 576, 999));

  const tune::profile q = tune::parse_profile(tune::to_json(p), "p.json");
  CHECK(q.device == p.device);
  CHECK(q.measurements.size() == p.measurements.size());
  CHECK(q.measurements[1].ms == p.measurements[1].ms);
  CHECK(q.best.size() == p.best.size());
  CHECK(tune::to_json(q) == tune::to_json(p));

  device_facts d;
  d.name = "dev", d.vendor = "ven", d.driver = "1.0", d.cpu = true;
  auto c = tune::choose_tuned(&p, d, "pocl-avx512");
  CHECK(c.tuned);
  CHECK(c.policy == "pocl-avx512@64x32x64/8x32/4-direct");
  // another device or driver: the preset, and the reason says why
  d.driver = "2.0";
  c = tune::choose_tuned(&p, d, "pocl-avx512");
  CHECK(!c.tuned);
  CHECK(c.policy == "pocl-avx512");
  CHECK_THAT(c.reason, Catch::Contains("driver 1.0") && Catch::Contains("driver 2.0"));
  d.driver = "1.0";
  c = tune::choose_tuned(&p, d, "pocl-avx2");
  CHECK(!c.tuned);
  CHECK(c.policy == "pocl-avx2");
  CHECK_THAT(c.reason, Catch::Contains("extend preset 'pocl-avx512'"));
  // a profile whose best policy is not a candidate of its own preset: the preset, and why
  tune::profile foreign = p;
  for (auto& b : foreign.best)
    if (b.technique == "dense") b.policy = "pocl-avx2@64x16x32/8x16/4-direct";
  c = tune::choose_tuned(&foreign, d, "pocl-avx512");
  CHECK(!c.tuned);
  CHECK(c.policy == "pocl-avx512");
  CHECK_THAT(c.reason, Catch::Contains("is not a candidate of 'pocl-avx512'"));
  c = tune::choose_tuned(&p, d, "pocl-avx512", "tile");
  CHECK(!c.tuned);
  CHECK_THAT(c.reason, Catch::Contains("no 'tile'"));
  c = tune::choose_tuned(nullptr, d, "pocl-avx512");
  CHECK(!c.tuned);
}

TEST_CASE("tune: the best policy per shape", "[tune]") {
  const tune::profile p = sample_profile();
  const std::string slow = "pocl-avx512@32x32x32/8x32/4-direct";
  // over all shapes no candidate beats the preset's SIMD units (geomean 1.0); on the taller
  // shape one does, over both its sparsities; a policy measured at one of them does not compete
  CHECK(*p.policy_for("simd") == "pocl-avx512");
  CHECK(*p.policy_for("simd", 128, 576, 1024) == slow);
  CHECK(*p.policy_for("simd", 64, 576, 1024) == "pocl-avx512");
  CHECK(*p.policy_for("simd-balanced", 128, 576, 1024) == slow); // the family's entries
  CHECK(!p.policy_for("simd", 128, 576, 999));
  // at one sparsity: the nearest measured one's best (`fast` competes at 0.9 alone)
  CHECK(*p.policy_for("simd", 128, 576, 1024, 0.75) == "pocl-avx512");
  CHECK(*p.policy_for("simd", 128, 576, 1024, 0.95) == "pocl-avx512@64x32x64/8x32/4-direct");
  CHECK(*p.policy_for("simd", 64, 576, 1024, 0.95) == "pocl-avx512"); // 0.75 is the nearest there
  CHECK(!p.policy_for("tile", 128, 576, 1024));

  device_facts d;
  d.name = "dev", d.vendor = "ven", d.driver = "1.0", d.cpu = true;
  auto c = tune::choose_tuned(&p, d, "pocl-avx512", "simd", {128, 576, 1024});
  CHECK(c.tuned);
  CHECK(c.policy == slow);
  CHECK_THAT(c.reason, Catch::Contains("128x576x1024"));
  c = tune::choose_tuned(&p, d, "pocl-avx512", "simd", {64, 576, 1024});
  CHECK(c.policy == "pocl-avx512");
  c = tune::choose_tuned(&p, d, "pocl-avx512", "simd", {128, 576, 1024, 0.9});
  CHECK(c.policy == "pocl-avx512@64x32x64/8x32/4-direct");
  // a shape the profile did not measure: the technique's best over all shapes
  c = tune::choose_tuned(&p, d, "pocl-avx512", "dense", {7, 9, 11});
  CHECK(c.tuned);
  CHECK(c.policy == "pocl-avx512@64x32x64/8x32/4-direct");
  CHECK_THAT(c.reason, Catch::Contains("7x9x11 not measured"));
  // another driver or preset: the preset, whatever the shape
  d.driver = "2.0";
  c = tune::choose_tuned(&p, d, "pocl-avx512", "simd", {128, 576, 1024});
  CHECK(!c.tuned);
  CHECK(c.policy == "pocl-avx512");
  d.driver = "1.0";
  c = tune::choose_tuned(&p, d, "pocl-avx2", "simd", {128, 576, 1024});
  CHECK(!c.tuned);
  CHECK(c.policy == "pocl-avx2");
  c = tune::choose_tuned(nullptr, d, "pocl-avx512", "simd", {128, 576, 1024});
  CHECK(!c.tuned);
}

TEST_CASE("tune: corrupt or truncated profiles are typed errors naming the field", "[tune]") {
  const std::string good = tune::to_json(sample_profile());
  // every truncation is refused
  for (std::size_t cut = 0; cut + 2 < good.size(); cut += 37) // the document ends in "}\n"
    CHECK_THROWS_AS(tune::parse_profile(good.substr(0, cut), "cut.json"), file_error);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  CHECK_THROWS_WITH(tune::parse_profile(with("\"version\": 1", "\"version\": 7"), "v.json"),
                    Catch::Contains("v.json") && Catch::Contains("version"));
  CHECK_THROWS_WITH(tune::parse_profile(with("gapp-device-profile", "other"), "f.json"), Catch::Contains("format"));
  CHECK_THROWS_WITH(tune::parse_profile(with("\"preset\": \"pocl-avx512\"", "\"preset\": \"gpu9000\""), "p.json"),
                    Catch::Contains("preset"));
  CHECK_THROWS_WITH(tune::parse_profile(with("\"median_ms\": 2", "\"median_ms\": -2"), "m.json"),
                    Catch::Contains("measurements[0].median_ms"));
  CHECK_THROWS_WITH(tune::parse_profile(with("\"m\": 64", "\"m\": 6.5"), "m.json"), Catch::Contains("measurements[0].m"));
  CHECK_THROWS_WITH(tune::parse_profile(with("64x32x64/8x32/4-direct", "64x32x64/8x32/5-direct"), "n.json"),
                    Catch::Contains("names no policy"));
  CHECK_THROWS_WITH(tune::parse_profile(with("\"ms\": [2, 2, 2]", "\"ms\": []"), "e.json"), Catch::Contains("no time"));
}

TEST_CASE("tune: profile file names and locations", "[tune]") {
  device_facts d;
  d.name = "pthread-skylake-avx512-Intel(R) Xeon(R)", d.vendor = "GenuineIntel", d.driver = "3.1+debian";
  CHECK(tune::profile_file_name(d) == "GenuineIntel-pthread-skylake-avx512-Intel_R__Xeon_R_-3.1_debian.json");
  ::setenv("GAPP_PROFILE_DIR", "/nonexistent/gapp", 1);
  ::unsetenv("GAPP_PROFILE");
  CHECK(tune::profile_dirs().front() == "/nonexistent/gapp");
  CHECK(!tune::find_profile(d));
  ::setenv("GAPP_PROFILE", "/some/file.json", 1);
  CHECK(*tune::find_profile(d) == "/some/file.json");
  ::unsetenv("GAPP_PROFILE");
  ::unsetenv("GAPP_PROFILE_DIR");
  CHECK_THROWS_WITH(tune::load_profile("/nonexistent/p.json"), Catch::Contains("/nonexistent/p.json"));
}
