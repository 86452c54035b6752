// A user's program: prune a small matrix to tile units and pack it.
#include <gapp/prune.hpp>

#include <cstdio>
#include <vector>

int main() {
  using P = gapp::presets::pocl_avx512;
  std::vector<float> w(128 * 64);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 37) % 101) - 50.0f;
  const gapp::matrix_view wm(w, 128, 64);
  const auto m = gapp::prune<P>(wm, gapp::units::tile{}, 0.5);
  const auto p = gapp::pack(wm, m);
  const bool ok = p.kept_blocks() == 2 && p.unpack() == m.apply(wm);
  std::printf("consumer: %zu of 4 tiles kept, round trip %s\n", p.kept_blocks(), ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
