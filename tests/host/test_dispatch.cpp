// Dispatch and can_implement on described devices (no OpenCL needed), and mask metadata:
// written, read back, and refused against another policy or technique.
#include <catch2/catch.hpp>

#include "reference.hpp"

#include <gapp/prune.hpp>

#include <filesystem>
#include <fstream>

using namespace gapp;

namespace {
device_facts gpu(const char* vendor, std::size_t max_wg = 1024, std::uint64_t local = 64 * 1024) {
  device_facts d;
  d.name = std::string(vendor) + " test GPU";
  d.vendor = vendor;
  d.max_work_group = max_wg;
  d.max_item_sizes = {1024, 1024, 64};
  d.local_mem = local;
  d.max_alloc = 1ull << 32;
  return d;
}
std::string tmp(const std::string& name) { return std::string(GAPP_TEST_TMP) + "/dispatch_" + name; }
} // namespace

TEST_CASE("can_implement: each device limit, with its reason", "[dispatch]") {
  using P = presets::nvidia; // 256 work-items of 16 x 16, 8 KiB staged
  REQUIRE(can_implement<P>({}, gpu("NVIDIA Corporation")));
  const verdict small_wg = can_implement<P>({}, gpu("x", 128));
  REQUIRE(!small_wg);
  REQUIRE_THAT(small_wg.reason, Catch::Contains("work-group of 256 work-items exceeds the device's maximum of 128"));
  device_facts narrow = gpu("x");
  narrow.max_item_sizes = {8, 1024, 1};
  REQUIRE_THAT(can_implement<P>({}, narrow).reason, Catch::Contains("exceeds the device's work-item sizes 8x1024"));
  REQUIRE_THAT(can_implement<P>({}, gpu("x", 1024, 4096)).reason, Catch::Contains("bytes of local memory"));
  REQUIRE_THAT(can_implement<P>({100000, 100000, 100000}, gpu("x")).reason, Catch::Contains("32-bit indexing"));
  device_facts tiny = gpu("x");
  tiny.max_alloc = 1 << 20;
  REQUIRE_THAT(can_implement<P>({1024, 1024, 1024}, tiny).reason, Catch::Contains("more than the device allocates"));
  REQUIRE(can_implement<P>({64, 64, 64}, tiny));
}

TEST_CASE("dispatch: one rule per preset, an explicit fallback", "[dispatch]") {
  device_facts cpu;
  cpu.cpu = true, cpu.name = "pthread-skylake-avx512-Intel(R) Xeon(R)", cpu.max_work_group = 4096;
  cpu.local_mem = 1 << 20;
  REQUIRE(choose_policy(cpu).name == "pocl-avx512");
  REQUIRE(!choose_policy(cpu).fallback);
  cpu.name = "pthread-haswell";
  REQUIRE(choose_policy(cpu).name == "pocl-avx2");
  REQUIRE(choose_policy(gpu("NVIDIA Corporation")).name == "nvidia");
  device_facts rdna = gpu("Advanced Micro Devices, Inc.", 256);
  rdna.simd_width = 32;
  REQUIRE(choose_policy(rdna).name == "amd-rdna");
  rdna.simd_width = 64;
  REQUIRE(choose_policy(rdna).name == "amd-gcn");
  device_facts gen9 = gpu("Intel(R) Corporation", 256);
  REQUIRE(choose_policy(gen9).name == "intel-gen9");
  REQUIRE(choose_policy(gpu("Intel(R) Corporation", 1024)).name == "intel-xe");
  REQUIRE(choose_policy(gpu("ARM", 1024, 32 * 1024)).name == "arm-mali-valhall");
  REQUIRE(choose_policy(gpu("QUALCOMM", 1024, 32 * 1024)).name == "qualcomm-adreno");
  REQUIRE_THAT(choose_policy(gpu("NVIDIA Corporation")).reason, Catch::Contains("matched: vendor NVIDIA"));

  // an unknown vendor falls back, and says so
  const policy_choice c = choose_policy(gpu("Imagination Technologies"));
  REQUIRE(c.fallback);
  REQUIRE(c.name == "nvidia");
  REQUIRE_THAT(c.reason, Catch::Contains("no preset's rule matches") && Catch::Contains("fell back to nvidia"));
  // a matching preset that cannot run there: the reason names it, then the fallback
  const policy_choice small = choose_policy(gpu("NVIDIA Corporation", 128));
  REQUIRE(small.fallback);
  REQUIRE(small.name == "pocl-avx2");
  REQUIRE_THAT(small.reason, Catch::Contains("nvidia matched but cannot run"));
  // nothing can run: a policy_error that says why
  REQUIRE_THROWS_AS(choose_policy(gpu("NVIDIA Corporation", 4)), policy_error);
}

TEST_CASE("mask metadata: round trip, refusal of another policy or technique, malformed files", "[dispatch][metadata]") {
  using P = presets::pocl_avx512;
  mask_metadata m;
  m.policy = "pocl-avx512", m.technique = "simd-balanced", m.granularity = "simd";
  m.unit = P::simd_unit, m.simd_unit = P::simd_unit, m.tile_unit = P::tile_unit;
  m.shape = {16, 8, 3, 3}, m.gemm_rows = 16, m.gemm_cols = 72, m.criterion = "l1";
  m.target_sparsity = 0.75, m.achieved_sparsity = 0.75, m.kept_l2_fraction = 0.6;
  const mask_metadata back = parse_mask_metadata(to_json(m), "m.json");
  REQUIRE(to_json(back) == to_json(m));

  REQUIRE_NOTHROW(check_mask_metadata<P>(m, "pocl-avx512", parse_technique("simd-balanced"), "m.json"));
  REQUIRE_THROWS_WITH(check_mask_metadata<presets::nvidia>(m, "nvidia", parse_technique("simd-balanced"), "m.json"),
                      Catch::Contains("made for policy 'pocl-avx512' (SIMD unit 8x4") &&
                          Catch::Contains("runs with policy 'nvidia' (SIMD unit 8x1"));
  REQUIRE_THROWS_WITH(check_mask_metadata<P>(m, "pocl-avx512", parse_technique("tile"), "m.json"),
                      Catch::Contains("made with technique 'simd-balanced'") && Catch::Contains("runs as 'tile'"));

  std::string bad = to_json(m);
  bad.replace(bad.find("\"unit\":[8,4]"), 12, "\"unit\":[8,0]");
  REQUIRE_THROWS_WITH(parse_mask_metadata(bad, "x.json"), Catch::Contains("x.json: field \"unit\""));
  REQUIRE_THROWS_WITH(parse_mask_metadata("{\"policy\":\"a\"}", "y.json"), Catch::Contains("field \"technique\" is missing"));
  REQUIRE_THROWS_AS(parse_mask_metadata("{\"policy\":", "z.json"), file_error);
  REQUIRE_THROWS_AS(parse_mask_metadata("not json", "z.json"), file_error);
  for (int field = 0; field < 3; ++field) { // a sparsity or kept fraction outside [0, 1]
    mask_metadata o = m;
    (field == 0 ? o.target_sparsity : field == 1 ? o.achieved_sparsity : o.kept_l2_fraction) = field == 1 ? -0.25 : 1.5;
    REQUIRE_THROWS_WITH(parse_mask_metadata(to_json(o), "w.json"), Catch::Contains("w.json") && Catch::Contains("outside [0, 1]"));
  }

  // load_mask: the shape, then the metadata beside the file; without metadata it loads unchecked
  REQUIRE(metadata_path("a/b.mask.npy") == "a/b.mask.json");
  REQUIRE(metadata_path("a/b.bin") == "a/b.bin.json");
  std::vector<std::uint8_t> keep(16 * 72, 1);
  npy::write(tmp("m.npy"), {16, 8, 3, 3}, keep.data());
  std::filesystem::remove(tmp("m.json"));
  REQUIRE(!load_mask<P>(tmp("m.npy"), "pocl-avx512", parse_technique("tile"), {16, 8, 3, 3}).metadata);
  keep[5] = 2; // a mask holds 0 or 1: anything else is a malformed file, whatever the technique
  npy::write(tmp("m2.npy"), {16, 8, 3, 3}, keep.data());
  std::filesystem::remove(tmp("m2.json"));
  REQUIRE_THROWS_WITH(load_mask<P>(tmp("m2.npy"), "pocl-avx512", parse_technique("dense"), {16, 8, 3, 3}),
                      Catch::Contains(tmp("m2.npy") + ": value 2 at index 5"));
  REQUIRE_THROWS_AS(load_mask<P>(tmp("m2.npy"), "pocl-avx512", parse_technique("dense"), {16, 8, 3, 3}), file_error);
  keep[5] = 1;
  REQUIRE_THROWS_WITH(load_mask<P>(tmp("m.npy"), "pocl-avx512", parse_technique("tile"), {16, 8, 3, 4}),
                      Catch::Contains("the mask has shape [16,8,3,3], the layer's weights [16,8,3,4]"));
  npy::write_atomic(tmp("m.json"), to_json(m));
  REQUIRE(load_mask<P>(tmp("m.npy"), "pocl-avx512", parse_technique("simd-balanced"), {16, 8, 3, 3}).metadata);
  REQUIRE_THROWS_WITH(load_mask<P>(tmp("m.npy"), "pocl-avx512", parse_technique("simd"), {16, 8, 3, 3}),
                      Catch::Contains(tmp("m.json")) && Catch::Contains("runs as 'simd'"));
}

TEST_CASE("masks must be made of whole units of the kernel's unit", "[dispatch][metadata]") {
  using Cpu = presets::pocl_avx512; // SIMD unit 8x4
  using Gpu = presets::nvidia;      // SIMD unit 8x1
  std::mt19937 g(12);
  const std::size_t R = 32, C = 40;
  const auto w = ref::random_weights(g, R * C, 0);
  const matrix_view v(w, R, C);
  // selected with the kernel's own unit: accepted
  REQUIRE(!whole_units<Cpu>(prune<Cpu>(v, units::simd{}, 0.75).keep(), R, C, units::simd{}));
  REQUIRE(!whole_units<Cpu>(prune<Cpu>(v, units::tile{}, 0.5).keep(), R, C, units::simd{})); // tiles hold whole SIMD units
  REQUIRE(!whole_units<Cpu>(prune<Cpu>(v, units::nm{2, 4}).keep(), R, C, units::nm{2, 4}));
  // element-wise, or another policy's narrower SIMD units: refused, with the unit named
  const auto elem = prune<Cpu>(v, units::element{}, 0.75).keep();
  const auto why = whole_units<Cpu>(elem, R, C, units::simd{});
  REQUIRE(why);
  REQUIRE_THAT(*why, Catch::Contains("simd unit of 8x4") && Catch::Contains("partly kept"));
  REQUIRE(whole_units<Cpu>(prune<Gpu>(v, units::simd{}, 0.75).keep(), R, C, units::simd{}));
  REQUIRE(whole_units<Cpu>(elem, R, C, units::filter{}));
  REQUIRE(!whole_units<Cpu>(elem, R, C, units::element{}));
  std::vector<std::uint8_t> three(R * C, 0);
  three[0] = three[1] = three[2] = 1;
  REQUIRE_THAT(*whole_units<Cpu>(three, R, C, units::nm{2, 4}), Catch::Contains("keeps 3 weights in group 0"));

  // load_mask says it with the file's name
  const std::vector<std::size_t> shape{R, C};
  npy::write(tmp("elem.npy"), shape, elem.data());
  std::filesystem::remove(tmp("elem.json"));
  REQUIRE_THROWS_WITH(load_mask<Cpu>(tmp("elem.npy"), "pocl-avx512", parse_technique("simd"), shape),
                      Catch::Contains(tmp("elem.npy") + ": the simd unit of 8x4"));
  REQUIRE_NOTHROW(load_mask<Cpu>(tmp("elem.npy"), "pocl-avx512", parse_technique("element"), shape));
}


TEST_CASE("can_implement: each limit alone, and at its edge", "[dispatch]") {
  using P = presets::nvidia; // work-group 16 x 16
  // a device that reports two work-item dimensions is still checked
  device_facts two = gpu("x");
  two.max_item_sizes = {8, 1024};
  REQUIRE_THAT(can_implement<P>({}, two).reason, Catch::Contains("exceeds the device's work-item sizes 8x1024"));
  two.max_item_sizes = {16, 16};
  REQUIRE(can_implement<P>({}, two));
  // 32-bit indexing of each operand alone ({m, n, k}): W (m x k), X (k x n), Y (m x n)
  device_facts big = gpu("x");
  big.max_alloc = 0; // unknown: no buffer limit
  for (const gemm_problem& p : {gemm_problem{100000, 1, 100000}, gemm_problem{1, 100000, 100000}, gemm_problem{100000, 100000, 1}}) {
    INFO("m " << p.m << " n " << p.n << " k " << p.k);
    REQUIRE_THAT(can_implement<P>(p, big).reason, Catch::Contains("32-bit indexing"));
  }
  REQUIRE(constraints::fits_32bit_indexing(0x7fffffff, 1));
  REQUIRE(constraints::fits_32bit_indexing(46340, 46341)); // 2,147,441,940 elements
  REQUIRE(!constraints::fits_32bit_indexing(46341, 46341)); // 2,147,488,281
  REQUIRE(!constraints::fits_32bit_indexing(0x80000000u, 1));
  // the largest single buffer, whichever operand it is; a buffer of exactly the limit fits
  device_facts mib = gpu("x");
  mib.max_alloc = 1 << 20;
  REQUIRE_THAT(can_implement<P>({1, 1024, 1024}, mib).reason, Catch::Contains("buffer of 4194304 bytes")); // X
  REQUIRE_THAT(can_implement<P>({1024, 1024, 1}, mib).reason, Catch::Contains("buffer of 4194304 bytes")); // Y
  REQUIRE_THAT(can_implement<P>({1024, 1, 1024}, mib).reason, Catch::Contains("buffer of 4194304 bytes")); // W
  REQUIRE(can_implement<P>({512, 512, 512}, mib)); // each operand exactly 1 MiB
  REQUIRE(!can_implement<P>({512, 512, 513}, mib));
}
