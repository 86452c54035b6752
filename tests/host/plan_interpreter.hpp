// Runs a kernels::gemm_plan on the host, reading every operand exactly where the OpenCL
// kernels read it (padded rows and tiles included) and through bounds-checked access:
// an operand too short for its kernel throws std::out_of_range. Used by the plan tests
// (no OpenCL needed) and the packed-structure fuzzer.
#pragma once

#include <gapp/kernels/gemm_plan.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace ref {

template <class P>
std::vector<float> run_plan(const gapp::kernels::gemm_plan& plan, const std::vector<float>& X, std::size_t n) {
  using namespace gapp;
  using kernels::walk;
  auto up = [](std::size_t v, std::size_t m) { return (v + m - 1) / m * m; };
  // unwritten outputs stay NaN, so a plan that forgets rows fails the comparison
  std::vector<float> Y(plan.rows * n, std::numeric_limits<float>::quiet_NaN());
  auto act = [](const kernels::epilogue& e, float v) { return e.relu ? std::max(v, 0.0f) : v; };

  if (plan.fill) {
    const kernels::launch_plan& l = *plan.fill;
    const auto rows = l.arg("rows").as<std::int32_t>();
    const auto bias = l.arg("bias").as<float>();
    for (int i = 0; i < l.arg("count").value; ++i) {
      const std::size_t row = static_cast<std::size_t>(rows.at(static_cast<std::size_t>(i)));
      const float b = l.config.epi.bias ? bias.at(row) : 0.0f;
      for (std::size_t j = 0; j < n; ++j) Y.at(row * n + j) = act(l.config.epi, b);
    }
  }
  if (!plan.gemm) return Y;

  const kernels::launch_plan& l = *plan.gemm;
  const kernels::gemm_config& c = l.config;
  const std::size_t M = static_cast<std::size_t>(l.arg("M").value), K = static_cast<std::size_t>(l.arg("K").value);
  const auto bias = l.arg("bias").as<float>();
  std::vector<double> acc(M * n, 0.0);

  if (c.mode == walk::csr) {
    const auto ptr = l.arg("row_ptr").as<std::int32_t>(), col = l.arg("col_idx").as<std::int32_t>();
    const auto val = l.arg("values").as<float>();
    for (std::size_t m = 0; m < M; ++m)
      for (std::int32_t p = ptr.at(m); p < ptr.at(m + 1); ++p)
        for (std::size_t j = 0; j < n; ++j)
          acc[m * n + j] += double(val.at(static_cast<std::size_t>(p))) *
                            X.at(static_cast<std::size_t>(col.at(static_cast<std::size_t>(p))) * n + j);
  } else {
    const auto Wv = l.arg("Wv").as<float>();
    const auto I0 = l.arg("I0").as<std::int32_t>(), I1 = l.arg("I1").as<std::int32_t>();
    const auto I2 = l.arg("I2").as<std::int32_t>(), I3 = l.arg("I3").as<std::int32_t>();
    const auto IB = l.arg("IB").as<std::uint8_t>();
    const auto kmap = l.arg("kmap").as<std::int32_t>();
    const int count = l.arg("count").value;
    const std::size_t TM = P::tm, TK = P::tk, RM = P::rm, UR = P::simd_unit.rows, KV = P::kv;
    const std::size_t tile_rows = (M + TM - 1) / TM;
    auto xrow = [&](std::size_t k) {
      return c.kmap ? static_cast<std::size_t>(kmap.at(k)) : std::min(k, K - 1);
    };
    // rows past M are read (their products are discarded) as the kernels read them
    auto fma_row = [&](std::size_t row, float w, std::size_t k) {
      const std::size_t xr = xrow(k);
      for (std::size_t j = 0; j < n; ++j) {
        const float x = X.at(xr * n + j);
        if (row < M) acc[row * n + j] += double(w) * x;
      }
    };
    auto bounds = [&](std::size_t tr, std::size_t& b0, std::size_t& b1) {
      b0 = c.fixed ? tr * static_cast<std::size_t>(count) : static_cast<std::size_t>(I0.at(tr));
      b1 = c.fixed ? b0 + static_cast<std::size_t>(count) : static_cast<std::size_t>(I0.at(tr + 1));
    };
    switch (c.mode) {
    case walk::dense: {
      const std::size_t Kp = up(K, TK);
      for (std::size_t r = 0; r < up(M, TM); ++r)
        for (std::size_t k = 0; k < Kp; ++k) {
          const std::size_t at = P::mode == staging::direct ? ((r / RM) * Kp + k) * RM + r % RM : r * Kp + k;
          fma_row(r, Wv.at(at), k);
        }
      break;
    }
    case walk::tile:
      for (std::size_t tr = 0; tr < tile_rows; ++tr) {
        std::size_t b0, b1;
        bounds(tr, b0, b1);
        for (std::size_t b = b0; b < b1; ++b)
          for (std::size_t i = 0; i < TM; ++i)
            for (std::size_t kk = 0; kk < TK; ++kk)
              fma_row(tr * TM + i, Wv.at((b * TM + i) * TK + kk), static_cast<std::size_t>(I1.at(b)) * TK + kk);
      }
      break;
    case walk::simd:
      for (std::size_t rb = 0; rb < (M + UR - 1) / UR; ++rb) {
        std::size_t u0, u1;
        bounds(rb, u0, u1);
        for (std::size_t u = u0; u < u1; ++u)
          for (std::size_t kk = 0; kk < KV; ++kk)
            for (std::size_t r = 0; r < UR; ++r)
              fma_row(rb * UR + r, Wv.at((u * KV + kk) * UR + r), static_cast<std::size_t>(I3.at(u)) + kk);
      }
      break;
    case walk::multi:
      for (std::size_t tr = 0; tr < tile_rows; ++tr) {
        std::size_t t0, t1;
        bounds(tr, t0, t1);
        for (std::size_t t = t0; t < t1; ++t) {
          (void)I1.at(t);
          for (std::size_t rblk = 0; rblk < TM / UR; ++rblk) {
            const std::size_t s = t * (TM / UR) + rblk;
            for (std::int32_t u = I2.at(s); u < I2.at(s + 1); ++u)
              for (std::size_t kk = 0; kk < KV; ++kk)
                for (std::size_t r = 0; r < UR; ++r)
                  fma_row(tr * TM + rblk * UR + r, Wv.at((static_cast<std::size_t>(u) * KV + kk) * UR + r),
                          static_cast<std::size_t>(I3.at(static_cast<std::size_t>(u))) + kk);
          }
        }
      }
      break;
    case walk::nm: {
      const std::size_t Nn = static_cast<std::size_t>(c.nm_n), Mm = static_cast<std::size_t>(c.nm_m);
      const std::size_t G = (K + Mm - 1) / Mm;
      for (std::size_t m = 0; m < up(M, TM); ++m)
        for (std::size_t g = 0; g < G; ++g)
          for (std::size_t s = 0; s < Nn; ++s) {
            const std::size_t slot = (m * G + g) * Nn + s;
            fma_row(m, Wv.at(slot), g * Mm + IB.at(slot));
          }
      break;
    }
    case walk::csr: break;
    }
  }
  const auto rowmap = c.mode == walk::csr ? std::vector<std::int32_t>() : l.arg("rowmap").as<std::int32_t>();
  for (std::size_t m = 0; m < M; ++m) {
    const std::size_t row = c.rowmap ? static_cast<std::size_t>(rowmap.at(m)) : m;
    const float b = c.epi.bias ? bias.at(row) : 0.0f;
    for (std::size_t j = 0; j < n; ++j) Y.at(row * n + j) = act(c.epi, static_cast<float>(acc[m * n + j]) + b);
  }
  return Y;
}

} // namespace ref
