// Each GAPP_CASE must fail to compile with the sentence the CMake test expects.
#include <gapp/prune.hpp>

using namespace gapp;
using gpu = device_traits<32, 1024, 48 * 1024, 1, lane_mapping::work_items>;
using cpu = device_traits<16, 4096, 1 << 20, 16, lane_mapping::vector>;

#if GAPP_CASE == 0
using P = policy<gpu, tiling<64, 64, 16, 4, 4, 1, staging::local>>;
using C = policy<cpu, tiling<64, 32, 32, 8, 32, 4, staging::direct>>;
static_assert(P::simd_unit.rows == 8 && C::simd_unit.rows == 8);
#elif GAPP_CASE == 1
using P = policy<gpu, tiling<64, 64, 0, 4, 4, 1, staging::local>>;
#elif GAPP_CASE == 2
using P = policy<gpu, tiling<64, 64, 16, 3, 4, 1, staging::local>>;   // 64 % 3 != 0
#elif GAPP_CASE == 3
using P = policy<gpu, tiling<64, 64, 16, 4, 4, 3, staging::local>>;   // 16 % 3 != 0
#elif GAPP_CASE == 4
using P = policy<gpu, tiling<128, 128, 16, 2, 2, 1, staging::local>>; // 4096 > 1024
#elif GAPP_CASE == 5
using P = policy<gpu, tiling<128, 128, 64, 8, 8, 1, staging::local>>; // 64 KiB > 48 KiB
#elif GAPP_CASE == 6
using P = policy<gpu, tiling<16, 16, 16, 4, 4, 1, staging::local>>;   // 16 work-items < warp
#elif GAPP_CASE == 7
using P = policy<gpu, tiling<64, 96, 16, 4, 4, 1, staging::local>>;   // 24 along N vs 32 lanes
#elif GAPP_CASE == 8
using P = policy<cpu, tiling<64, 24, 32, 8, 24, 4, staging::direct>>; // RN 24 vs 16 lanes
#elif GAPP_CASE == 9
struct not_a_policy {};
using P = not_a_policy;
#elif GAPP_CASE == 10
using P = presets::nvidia;
#elif GAPP_CASE == 11
using P = presets::nvidia;
#endif

int main() {
#if GAPP_CASE == 9
  const float w[1] = {1};
  (void)prune<P>(matrix_view(w, 1, 1), units::element{}, 0.0);
#elif GAPP_CASE == 10
  std::vector<global_layer> layers;
  (void)prune_global<P>(layers, units::nm{}, 0.5);
#elif GAPP_CASE == 11
  const float w[1] = {1};
  (void)prune<P>(matrix_view(w, 1, 1), 42, 0.0);
#else
  return P::work_group_size > 0 ? 0 : 1;
#endif
}
