// 00 — prune one VGG16 layer (conv5_1: 512 × 512 × 3 × 3) in the units of two devices and
// pack it for their kernels. Shows that the unit comes from the hardware description.
#include <gapp/prune.hpp>

#include <cstdio>
#include <random>
#include <vector>

template <class P>
void show(gapp::matrix_view w, double sparsity) {
  std::printf("%s: SIMD unit %dx%d, tile unit %dx%d\n", std::string(P::name).c_str(), P::simd_unit.rows,
              P::simd_unit.cols, P::tile_unit.rows, P::tile_unit.cols);
  auto row = [&](const char* name, const auto& mask, std::size_t bytes) {
    std::printf("  %-10s sparsity %.3f  kept L2 %.3f  packed %7.2f MiB\n", name, mask.sparsity(),
                gapp::kept_l2_fraction(w, mask), static_cast<double>(bytes) / (1 << 20));
  };
  const auto e = gapp::prune<P>(w, gapp::units::element{}, sparsity);
  row("element", e, gapp::pack(w, e).bytes());
  const auto s = gapp::prune<P>(w, gapp::units::simd{}, sparsity);
  row("simd", s, gapp::pack(w, s).bytes());
  const auto t = gapp::prune<P>(w, gapp::units::tile{}, sparsity);
  row("tile", t, gapp::pack(w, t).bytes());
  const auto m = gapp::prune<P>(w, gapp::units::multi{}, sparsity);
  row("multi", m, gapp::pack(w, m).bytes());
  gapp::prune_options balanced;
  balanced.balanced = true;
  const auto b = gapp::prune<P>(w, gapp::units::simd{}, sparsity, balanced);
  const auto bp = gapp::pack(w, b);
  row("balanced", b, bp.bytes());
  std::printf("  balanced lists: every row-block keeps %d units\n", bp.fixed_count);
}

int main() {
  const gapp::conv_shape conv5_1{512, 512, 3, 3};
  std::vector<float> w(conv5_1.size());
  std::mt19937 g(0);
  std::normal_distribution<float> he(0.0f, std::sqrt(2.0f / static_cast<float>(conv5_1.gemm_cols())));
  for (auto& x : w) x = he(g);
  const gapp::matrix_view gemm = gapp::as_gemm(w.data(), conv5_1);
  std::printf("conv5_1 as a GEMM matrix: %zu x %zu, pruned to 75%%\n", gemm.rows, gemm.cols);
  show<gapp::presets::nvidia>(gemm, 0.75);
  show<gapp::presets::pocl_avx512>(gemm, 0.75);
}
