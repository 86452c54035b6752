// libFuzzer target: packed weights that did not come from gapp::pack. A valid structure for
// a random mask is mutated field by field (indices, pointers, lengths, unit sizes, values);
// validation must either refuse it with gapp::format_error or accept it, and an accepted
// one must plan, unpack and run (as the kernels index it, bounds-checked, under ASan)
// without reading out of bounds, giving the product of its own unpacked matrix.
#include <gapp/kernels/gemm_plan.hpp>
#include <gapp/prune.hpp>

#include "../host/plan_interpreter.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace {

struct reader {
  const std::uint8_t* p;
  std::size_t n, i = 0;
  std::uint8_t byte() { return i < n ? p[i++] : 0; }
  int small() { return static_cast<int>(static_cast<std::int8_t>(byte())); }
};

template <class T>
void mutate(std::vector<T>& v, reader& r) {
  switch (r.byte() % 4) {
  case 0:
    if (!v.empty()) v[r.byte() % v.size()] = static_cast<T>(r.small());
    break;
  case 1:
    if (!v.empty()) v[r.byte() % v.size()] += static_cast<T>(r.small() % 3);
    break;
  case 2: v.push_back(static_cast<T>(r.small())); break;
  default:
    if (!v.empty()) v.pop_back();
  }
}

void mutate(int& v, reader& r) { v += r.small() % 3; }

template <class P, class U>
void run(const gapp::packed<P, U>& p, std::size_t rows, std::size_t cols) {
  try {
    gapp::validate(p);
  } catch (const gapp::format_error&) {
    return; // refused with the field named: fine
  }
  const std::vector<float> w = p.unpack(); // reads every index: must stay in bounds
  gapp::kernels::gemm_plan plan;
  try {
    plan = gapp::kernels::plan_gemm<P>(p);
  } catch (const gapp::shape_error&) {
    if constexpr (std::is_same_v<U, gapp::units::block>) return; // not TM x TK: no kernel
    std::abort();
  } catch (const gapp::policy_error&) {
    if constexpr (std::is_same_v<U, gapp::units::nm>) return; // an N:M group the local family cannot stage
    std::abort();
  }
  const std::size_t n = 3;
  std::vector<float> x(cols * n);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  std::vector<float> y;
  try {
    y = ref::run_plan<P>(plan, x, n);
  } catch (const std::out_of_range&) {
    std::abort(); // a validated structure made the kernel index past an operand
  }
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < n; ++j) {
      double a = 0;
      for (std::size_t k = 0; k < cols; ++k) a += double(w[r * cols + k]) * x[k * n + j];
      if (!(std::fabs(a - y[r * n + j]) <= 1e-3 * (1 + std::fabs(a)))) std::abort();
    }
}

template <class P, class U>
void fuzz_unit(gapp::matrix_view w, const std::vector<std::uint8_t>& keep, U unit, reader& r) {
  const gapp::mask<P, U> m(w.rows, w.cols, keep, unit);
  gapp::packed<P, U> p;
  try {
    p = gapp::pack(w, m);
  } catch (const gapp::invalid_argument&) {
    return; // an N:M mask keeping too many
  }
  for (int round = r.byte() % 4; round > 0; --round) {
    const int field = r.byte() % 6;
    if constexpr (std::is_same_v<U, gapp::units::tile> || std::is_same_v<U, gapp::units::block>) {
      if (field == 0) mutate(p.row_ptr, r);
      else if (field == 1) mutate(p.col_idx, r);
      else if (field == 2) mutate(p.values, r);
      else if (field == 3) mutate(p.block_rows, r);
      else mutate(p.block_cols, r);
    } else if constexpr (std::is_same_v<U, gapp::units::simd>) {
      if (field == 0) mutate(p.row_ptr, r);
      else if (field == 1) mutate(p.k_idx, r);
      else if (field == 2) mutate(p.values, r);
      else if (field == 3) mutate(p.unit_rows, r);
      else if (field == 4) p.fixed_count += r.small() % 2;
      else mutate(p.unit_cols, r);
    } else if constexpr (std::is_same_v<U, gapp::units::multi>) {
      if (field == 0) mutate(p.tile_ptr, r);
      else if (field == 1) mutate(p.tile_col, r);
      else if (field == 2) mutate(p.seg_ptr, r);
      else if (field == 3) mutate(p.k_idx, r);
      else if (field == 4) mutate(p.values, r);
      else mutate(p.unit_rows, r);
    } else if constexpr (std::is_same_v<U, gapp::units::element>) {
      if (field < 2) mutate(p.row_ptr, r);
      else if (field < 4) mutate(p.col_idx, r);
      else mutate(p.values, r);
    } else if constexpr (std::is_same_v<U, gapp::units::nm>) {
      if (field < 2) mutate(p.index, r);
      else if (field < 4) mutate(p.values, r);
      else if (field == 4) mutate(p.n, r);
      else mutate(p.m, r);
    } else if constexpr (std::is_same_v<U, gapp::units::filter>) {
      if (field < 3) mutate(p.kept_rows, r);
      else mutate(p.values, r);
    } else {
      if (field < 2) mutate(p.kept_channels, r);
      else if (field < 4) mutate(p.values, r);
      else mutate(p.kernel_area, r);
    }
  }
  run(p, w.rows, w.cols);
}

template <class P>
void all_units(gapp::matrix_view w, const std::vector<std::uint8_t>& keep, reader& r) {
  fuzz_unit<P>(w, keep, gapp::units::element{}, r);
  fuzz_unit<P>(w, keep, gapp::units::simd{}, r);
  fuzz_unit<P>(w, keep, gapp::units::tile{}, r);
  fuzz_unit<P>(w, keep, gapp::units::block{P::tm, P::tk}, r);
  fuzz_unit<P>(w, keep, gapp::units::multi{}, r);
  fuzz_unit<P>(w, keep, gapp::units::filter{}, r);
  if (w.cols % 3 == 0) fuzz_unit<P>(w, keep, gapp::units::channel{3}, r);
  fuzz_unit<P>(w, keep, gapp::units::nm{2, 4}, r);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  reader r{data, size};
  const std::size_t rows = 1 + r.byte() % 70, cols = 1 + r.byte() % 70;
  const int density = r.byte();
  std::vector<float> w(rows * cols);
  std::vector<std::uint8_t> keep(rows * cols);
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = static_cast<float>(static_cast<int>(i * 37 % 17) - 8) / 4.0f;
    keep[i] = (static_cast<int>((i * 2654435761u) >> 24 & 0xff) ^ r.byte()) < density ? 1 : 0;
  }
  const gapp::matrix_view wv(w, rows, cols);
  if (r.byte() % 2) all_units<gapp::presets::nvidia>(wv, keep, r);
  else all_units<gapp::presets::pocl_avx512>(wv, keep, r);
  return 0;
}
