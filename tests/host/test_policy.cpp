#include <catch2/catch.hpp>

#include <gapp/prune.hpp>

#include <set>
#include <string>

using namespace gapp;

TEST_CASE("unit shapes are derived from the hierarchy", "[policy]") {
  // GPU: a warp of 32 over 16 work-items along N spans 2 rows of work-items of RM = 4 rows.
  using gpu = policy<device_traits<32, 1024, 48 * 1024, 1, lane_mapping::work_items>,
                     tiling<64, 64, 16, 4, 4, 1, staging::local>>;
  STATIC_REQUIRE(gpu::simd_unit == unit_shape{8, 1});
  STATIC_REQUIRE(gpu::tile_unit == unit_shape{64, 16});
  STATIC_REQUIRE(gpu::work_group_size == 256);
  STATIC_REQUIRE(gpu::staged_bytes == (64 * 16 + 16 * 64) * 4);
  // Wavefront 64 over 16 work-items: 4 rows of work-items.
  using gcn = policy<device_traits<64, 256, 65536, 1, lane_mapping::work_items>,
                     tiling<64, 64, 16, 4, 4, 2, staging::local>>;
  STATIC_REQUIRE(gcn::simd_unit == unit_shape{16, 2});
  // A SIMD group narrower than a row of work-items: one row of work-items, RM rows.
  using narrow = policy<device_traits<8, 256, 65536, 1, lane_mapping::work_items>,
                        tiling<32, 128, 16, 4, 4, 1, staging::local>>;
  STATIC_REQUIRE(narrow::simd_unit == unit_shape{4, 1});
  // CPU: the vector runs along N inside one work-item: RM rows.
  using cpu = policy<device_traits<16, 4096, 1 << 20, 16, lane_mapping::vector>,
                     tiling<64, 32, 32, 8, 32, 4, staging::direct>>;
  STATIC_REQUIRE(cpu::simd_unit == unit_shape{8, 4});
  STATIC_REQUIRE(cpu::staged_bytes == 0);
  STATIC_REQUIRE(cpu::work_group_x == 1);
  STATIC_REQUIRE(cpu::work_group_y == 8);
}

TEST_CASE("constraint predicates", "[policy]") {
  using namespace gapp::constraints;
  STATIC_REQUIRE(register_tile_divides_tile(64, 64, 4, 4));
  STATIC_REQUIRE_FALSE(register_tile_divides_tile(64, 64, 3, 4));
  STATIC_REQUIRE_FALSE(register_tile_divides_tile(64, 64, 0, 4));
  STATIC_REQUIRE(unit_width_divides_k_step(16, 4));
  STATIC_REQUIRE_FALSE(unit_width_divides_k_step(16, 3));
  STATIC_REQUIRE(work_group_fits(256, 256));
  STATIC_REQUIRE_FALSE(work_group_fits(512, 256));
  STATIC_REQUIRE(local_memory_fits(staged_bytes(staging::local, 64, 64, 16), 8192));
  STATIC_REQUIRE_FALSE(local_memory_fits(staged_bytes(staging::local, 64, 64, 16), 8191));
  STATIC_REQUIRE(local_memory_fits(staged_bytes(staging::direct, 512, 512, 512), 0));
  STATIC_REQUIRE(whole_simd_groups(lane_mapping::work_items, 256, 64));
  STATIC_REQUIRE_FALSE(whole_simd_groups(lane_mapping::work_items, 96, 64));
  STATIC_REQUIRE(whole_simd_groups(lane_mapping::vector, 8, 16));
  STATIC_REQUIRE(simd_group_is_rectangular(lane_mapping::work_items, 16, 32));
  STATIC_REQUIRE(simd_group_is_rectangular(lane_mapping::work_items, 64, 32));
  STATIC_REQUIRE_FALSE(simd_group_is_rectangular(lane_mapping::work_items, 24, 32));
  STATIC_REQUIRE(register_tile_holds_vectors(lane_mapping::vector, 32, 16));
  STATIC_REQUIRE_FALSE(register_tile_holds_vectors(lane_mapping::vector, 24, 16));
}

TEST_CASE("presets have unique run-time names and consistent derived units", "[policy][presets]") {
  std::set<std::string> names;
  int n = 0;
  presets::all::for_each([&](auto p) {
    using P = decltype(p);
    names.insert(std::string(P::name));
    const policy_info i = P::info(P::name);
    CHECK(i.tm % i.simd_unit.rows == 0);
    CHECK(i.tk % i.simd_unit.cols == 0);
    CHECK(i.tile_unit == unit_shape{P::tm, P::tk});
    CHECK(i.work_group_x * i.work_group_y <= i.max_work_group);
    CHECK(i.staged_bytes <= i.local_mem_bytes);
    ++n;
  });
  REQUIRE(n == static_cast<int>(presets::all::size));
  REQUIRE(names.size() == presets::all::size);
  for (const char* want : {"nvidia", "amd-gcn", "amd-rdna", "intel-gen9", "intel-xe", "arm-mali-valhall",
                           "qualcomm-adreno", "pocl-avx512", "pocl-avx2"})
    REQUIRE(presets::all::contains(want));
  REQUIRE(presets::all::visit("amd-gcn", [](auto p) { return decltype(p)::simd_unit.rows; }) == 16);
  REQUIRE(presets::all::visit("pocl-avx512", [](auto p) { return decltype(p)::simd_unit; }) == unit_shape{8, 4});
  int calls = 0;
  presets::all::visit("nvidia", [&](auto) { ++calls; });
  REQUIRE(calls == 1);
  REQUIRE_THROWS_WITH(presets::all::visit("nvidai", [](auto) {}),
                      Catch::Contains("unknown policy preset 'nvidai'") && Catch::Contains("pocl-avx512"));
}

TEST_CASE("shape_of gives each unit's rectangle on the GEMM matrix", "[policy][units]") {
  using P = presets::nvidia;
  REQUIRE(shape_of<P>(units::element{}, 10, 20) == unit_shape{1, 1});
  REQUIRE(shape_of<P>(units::simd{}, 10, 20) == P::simd_unit);
  REQUIRE(shape_of<P>(units::multi{}, 10, 20) == P::simd_unit);
  REQUIRE(shape_of<P>(units::tile{}, 10, 20) == P::tile_unit);
  REQUIRE(shape_of<P>(units::filter{}, 10, 20) == unit_shape{1, 20});
  REQUIRE(shape_of<P>(units::channel{5}, 10, 20) == unit_shape{10, 5});
  REQUIRE(shape_of<P>(units::nm{2, 4}, 10, 20) == unit_shape{1, 4});
  REQUIRE(shape_of<P>(units::block{3, 7}, 10, 20) == unit_shape{3, 7});
  REQUIRE_THROWS_AS(shape_of<P>(units::channel{3}, 10, 20), gapp::shape_error);
  REQUIRE_THROWS_AS(shape_of<P>(units::nm{0, 4}, 10, 20), gapp::invalid_argument);
  REQUIRE_THROWS_AS(shape_of<P>(units::nm{2, 256}, 10, 20), gapp::invalid_argument);
}
