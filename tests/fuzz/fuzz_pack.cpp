// libFuzzer target: random shapes, weights and masks → pack → unpack must equal the masked
// input, for every packed format and two policies (GPU and CPU unit shapes).
#include <gapp/prune.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

struct reader {
  const std::uint8_t* p;
  std::size_t n, i = 0;
  std::uint8_t byte() { return i < n ? p[i++] : 0; }
};

template <class P, class U>
void check(gapp::matrix_view w, const std::vector<std::uint8_t>& keep, U unit) {
  const gapp::mask<P, U> m(w.rows, w.cols, keep, unit);
  std::vector<float> expect = m.apply(w);
  try {
    const auto packed = gapp::pack(w, m);
    if (packed.unpack() != expect) std::abort();
  } catch (const gapp::invalid_argument&) {
    if constexpr (!std::is_same_v<U, gapp::units::nm>) std::abort(); // only N:M masks may be refused
  }
}

template <class P>
void all_units(gapp::matrix_view w, const std::vector<std::uint8_t>& keep, reader& r) {
  check<P>(w, keep, gapp::units::element{});
  check<P>(w, keep, gapp::units::simd{});
  check<P>(w, keep, gapp::units::tile{});
  check<P>(w, keep, gapp::units::multi{});
  check<P>(w, keep, gapp::units::filter{});
  check<P>(w, keep, gapp::units::block{1 + r.byte() % 9, 1 + r.byte() % 9});
  const int area = 1 + r.byte() % 5;
  if (w.cols % static_cast<std::size_t>(area) == 0) check<P>(w, keep, gapp::units::channel{area});
  const int m = 1 + r.byte() % 8, n = 1 + r.byte() % m;
  check<P>(w, keep, gapp::units::nm{n, m});
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  reader r{data, size};
  const std::size_t rows = 1 + r.byte() % 80, cols = 1 + r.byte() % 80;
  const int density = r.byte();
  std::vector<float> w(rows * cols);
  std::vector<std::uint8_t> keep(rows * cols);
  for (std::size_t i = 0; i < w.size(); ++i) {
    const std::uint8_t b = r.byte();
    w[i] = static_cast<float>(static_cast<int>(b) - 128) / 8.0f;
    keep[i] = (static_cast<int>(r.byte()) < density) ? 1 : 0;
  }
  const gapp::matrix_view wv(w, rows, cols);
  all_units<gapp::presets::nvidia>(wv, keep, r);
  all_units<gapp::presets::pocl_avx512>(wv, keep, r);
  // pruned masks too: select, then pack
  const double s = (r.byte() % 100) / 100.0;
  const auto pm = gapp::prune<gapp::presets::amd_gcn>(wv, gapp::units::multi{}, s);
  if (gapp::pack(wv, pm).unpack() != pm.apply(wv)) std::abort();
  return 0;
}
