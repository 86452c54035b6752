// Plain, obviously correct references for the host tests: every unit scored by looping
// over its elements, every selection by sorting everything and scanning all prefixes.
#pragma once

#include <gapp/prune.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <tuple>
#include <vector>

namespace ref {

struct unit {
  std::size_t r0, r1, c0, c1; // rows [r0, r1), cols [c0, c1)
  std::size_t index;
};

inline std::vector<unit> units_of(std::size_t rows, std::size_t cols, gapp::unit_shape s) {
  std::vector<unit> out;
  const std::size_t ur = static_cast<std::size_t>(s.rows), uc = static_cast<std::size_t>(s.cols);
  std::size_t i = 0;
  for (std::size_t r = 0; r < rows; r += ur)
    for (std::size_t c = 0; c < cols; c += uc) out.push_back({r, std::min(rows, r + ur), c, std::min(cols, c + uc), i++});
  return out;
}

inline double score(const std::vector<float>& src, const std::vector<std::uint8_t>& keep, std::size_t cols,
                    const unit& u, gapp::criterion crit) {
  double sum = 0, sq = 0, mx = 0, n = 0;
  for (std::size_t r = u.r0; r < u.r1; ++r)
    for (std::size_t c = u.c0; c < u.c1; ++c) {
      const double v = keep[r * cols + c] ? std::fabs(static_cast<double>(src[r * cols + c])) : 0.0;
      sum += v, sq += v * v, mx = std::max(mx, v), n += 1;
    }
  if (crit == gapp::criterion::l1) return sum / n;
  if (crit == gapp::criterion::l2) return std::sqrt(sq / n);
  return mx;
}

inline std::size_t remaining(const std::vector<std::uint8_t>& keep, std::size_t cols, const unit& u) {
  std::size_t n = 0;
  for (std::size_t r = u.r0; r < u.r1; ++r)
    for (std::size_t c = u.c0; c < u.c1; ++c) n += keep[r * cols + c];
  return n;
}

inline void clear(std::vector<std::uint8_t>& keep, std::size_t cols, const unit& u) {
  for (std::size_t r = u.r0; r < u.r1; ++r)
    for (std::size_t c = u.c0; c < u.c1; ++c) keep[r * cols + c] = 0;
}

/// Removes lowest units (score, then index) choosing the prefix whose removed count is
/// closest to the target share of all weights (ties: fewer units).
inline void per_matrix(const std::vector<float>& src, std::vector<std::uint8_t>& keep, std::size_t rows,
                       std::size_t cols, gapp::unit_shape s, gapp::criterion crit, double sparsity) {
  std::size_t removed = 0;
  for (auto k : keep) removed += (k == 0);
  const double need = sparsity * static_cast<double>(rows * cols) - static_cast<double>(removed);
  std::vector<std::tuple<double, std::size_t, unit, std::size_t>> c;
  for (const unit& u : units_of(rows, cols, s)) {
    const std::size_t rem = remaining(keep, cols, u);
    if (rem > 0) c.emplace_back(score(src, keep, cols, u, crit), u.index, u, rem);
  }
  std::sort(c.begin(), c.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  std::size_t best = 0;
  double best_err = std::fabs(need), cum = 0;
  for (std::size_t p = 1; p <= c.size(); ++p) {
    cum += static_cast<double>(std::get<3>(c[p - 1]));
    if (std::fabs(cum - need) < best_err) best = p, best_err = std::fabs(cum - need);
  }
  if (need <= 0) best = 0;
  for (std::size_t p = 0; p < best; ++p) clear(keep, cols, std::get<2>(c[p]));
}

inline void balanced(const std::vector<float>& src, std::vector<std::uint8_t>& keep, std::size_t rows,
                     std::size_t cols, gapp::unit_shape s, gapp::criterion crit, double sparsity) {
  const auto all = units_of(rows, cols, s);
  const std::size_t per_bank = (cols + static_cast<std::size_t>(s.cols) - 1) / static_cast<std::size_t>(s.cols);
  const auto target = static_cast<std::size_t>(std::llround(sparsity * static_cast<double>(per_bank)));
  for (std::size_t b = 0; b * per_bank < all.size(); ++b) {
    std::vector<std::pair<double, unit>> c;
    std::size_t empty = 0;
    for (std::size_t j = 0; j < per_bank; ++j) {
      const unit& u = all[b * per_bank + j];
      if (remaining(keep, cols, u) == 0) ++empty;
      else c.emplace_back(score(src, keep, cols, u, crit), u);
    }
    std::sort(c.begin(), c.end(), [](const auto& x, const auto& y) {
      return x.first < y.first || (x.first == y.first && x.second.index < y.second.index);
    });
    for (std::size_t p = 0; empty + p < target && p < c.size(); ++p) clear(keep, cols, c[p].second);
  }
}

/// N:M: an element is kept iff fewer than n elements of its group rank above it, where
/// ranking is by (magnitude, position).
inline void nm(const std::vector<float>& src, std::vector<std::uint8_t>& keep, std::size_t rows, std::size_t cols,
               int n, int m) {
  const auto before = keep;
  auto mag = [&](std::size_t i) { return before[i] ? std::fabs(src[i]) : 0.0f; };
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const std::size_t g0 = c / static_cast<std::size_t>(m) * static_cast<std::size_t>(m);
      const std::size_t g1 = std::min(cols, g0 + static_cast<std::size_t>(m));
      int above = 0;
      for (std::size_t d = g0; d < g1; ++d) {
        const float a = mag(r * cols + d), b = mag(r * cols + c);
        if (a > b || (a == b && d > c)) ++above;
      }
      if (above >= n) keep[r * cols + c] = 0;
    }
}

inline std::vector<float> random_weights(std::mt19937& g, std::size_t n, int kind) {
  std::vector<float> w(n);
  std::normal_distribution<float> nd;
  std::uniform_int_distribution<int> small(-2, 2);
  for (auto& x : w) x = kind == 0 ? nd(g) : kind == 1 ? static_cast<float>(small(g)) : 0.0f;
  return w;
}

inline std::vector<float> masked(const std::vector<float>& w, const std::vector<std::uint8_t>& keep) {
  std::vector<float> out(w);
  for (std::size_t i = 0; i < w.size(); ++i)
    if (!keep[i]) out[i] = 0;
  return out;
}

} // namespace ref
