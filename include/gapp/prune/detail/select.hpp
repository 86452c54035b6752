// gapp/prune/detail/select.hpp — the selection engine behind every granularity.
// Run-time code over a unit grid; the typed front ends live in gapp/prune/prune.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

#include "../../policy/policy.hpp"
#include "../criterion.hpp"

namespace gapp::detail {

/// The grid of units of shape ur×uc over a rows×cols matrix; edge units may be partial.
struct unit_grid {
  std::size_t rows, cols, ur, uc;

  unit_grid(std::size_t r, std::size_t c, unit_shape u)
      : rows(r), cols(c), ur(static_cast<std::size_t>(u.rows)), uc(static_cast<std::size_t>(u.cols)) {}

  std::size_t grid_rows() const { return (rows + ur - 1) / ur; }
  std::size_t grid_cols() const { return (cols + uc - 1) / uc; }
  std::size_t count() const { return grid_rows() * grid_cols(); }
  std::size_t row_begin(std::size_t u) const { return (u / grid_cols()) * ur; }
  std::size_t row_end(std::size_t u) const { return std::min(rows, row_begin(u) + ur); }
  std::size_t col_begin(std::size_t u) const { return (u % grid_cols()) * uc; }
  std::size_t col_end(std::size_t u) const { return std::min(cols, col_begin(u) + uc); }
};

struct unit_stat {
  double score = 0;          ///< criterion over the unit's values, removed ones as zero
  std::size_t remaining = 0; ///< elements of the unit still kept
};

/// Scores every unit of `grid` from the magnitudes of `src` (weights or user scores);
/// elements with keep == 0 count as zero.
inline std::vector<unit_stat> score_units(const float* src, const std::vector<std::uint8_t>& keep,
                                          const unit_grid& g, criterion crit) {
  const std::size_t gr = g.grid_rows(), gc = g.grid_cols();
  std::vector<unit_stat> out(gr * gc);
  std::vector<double> acc(gc);
  std::vector<std::size_t> cnt(gc);
  for (std::size_t bi = 0; bi < gr; ++bi) {
    std::fill(acc.begin(), acc.end(), 0.0);
    std::fill(cnt.begin(), cnt.end(), std::size_t{0});
    const std::size_t r1 = std::min(g.rows, (bi + 1) * g.ur);
    for (std::size_t r = bi * g.ur; r < r1; ++r) {
      const float* row = src + r * g.cols;
      const std::uint8_t* k = keep.data() + r * g.cols;
      for (std::size_t bj = 0, c = 0; bj < gc; ++bj) {
        const std::size_t c1 = std::min(g.cols, c + g.uc);
        double a = acc[bj];
        std::size_t n = 0;
        for (; c < c1; ++c) {
          const double v = k[c] ? std::fabs(static_cast<double>(row[c])) : 0.0;
          n += k[c];
          if (crit == criterion::l1) a += v;
          else if (crit == criterion::l2) a += v * v;
          else a = std::max(a, v);
        }
        acc[bj] = a;
        cnt[bj] += n;
      }
    }
    for (std::size_t bj = 0; bj < gc; ++bj) {
      const std::size_t u = bi * gc + bj;
      const double area = static_cast<double>((g.row_end(u) - g.row_begin(u)) * (g.col_end(u) - g.col_begin(u)));
      double s = acc[bj];
      if (crit == criterion::l1) s /= area;
      else if (crit == criterion::l2) s = std::sqrt(s / area);
      out[u] = {s, cnt[bj]};
    }
  }
  return out;
}

inline void remove_unit(std::vector<std::uint8_t>& keep, const unit_grid& g, std::size_t u) {
  for (std::size_t r = g.row_begin(u), r1 = g.row_end(u); r < r1; ++r)
    std::fill(keep.begin() + static_cast<std::ptrdiff_t>(r * g.cols + g.col_begin(u)),
              keep.begin() + static_cast<std::ptrdiff_t>(r * g.cols + g.col_end(u)), std::uint8_t{0});
}

/// Removal order: lower score first, then lower unit index.
struct removal_order {
  const std::vector<unit_stat>* st;
  bool operator()(std::size_t a, std::size_t b) const {
    const double sa = (*st)[a].score, sb = (*st)[b].score;
    return sa < sb || (sa == sb && a < b);
  }
};

/// Number p of leading items (sizes size_at(0), size_at(1), …, n of them) whose removal
/// brings the removed count closest to `need` (ties: the smaller p).
template <class SizeAt>
std::size_t closest_prefix_by(std::size_t n, SizeAt size_at, double need) {
  double c = 0;
  for (std::size_t p = 0; p < n; ++p) {
    const double next = c + static_cast<double>(size_at(p));
    if (next >= need) return (need - c <= next - need) ? p : p + 1;
    c = next;
  }
  return n;
}

inline std::size_t closest_prefix(const std::vector<std::size_t>& order, const std::vector<unit_stat>& st,
                                  double need) {
  return closest_prefix_by(order.size(), [&](std::size_t p) { return st[order[p]].remaining; }, need);
}

/// Removes the lowest-scoring units of `cand` until `need` more elements are removed
/// (closest prefix). Units of equal size take a partial-sort fast path with the same result.
inline void remove_lowest(std::vector<std::uint8_t>& keep, const unit_grid& g, const std::vector<unit_stat>& st,
                          std::vector<std::size_t> cand, double need) {
  if (need <= 0 || cand.empty()) return;
  const removal_order less{&st};
  const std::size_t size0 = st[cand.front()].remaining;
  const bool uniform = std::all_of(cand.begin(), cand.end(), [&](std::size_t u) { return st[u].remaining == size0; });
  std::size_t p;
  if (uniform) {
    const double q = need / static_cast<double>(size0);
    p = static_cast<std::size_t>(std::ceil(q - 0.5)); // nearest, ties down
    p = std::min(p, cand.size());
    if (p < cand.size())
      std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(p), cand.end(), less);
  } else {
    std::sort(cand.begin(), cand.end(), less);
    p = closest_prefix(cand, st, need);
  }
  for (std::size_t i = 0; i < p; ++i) remove_unit(keep, g, cand[i]);
}

inline std::size_t count_removed(const std::vector<std::uint8_t>& keep) {
  return static_cast<std::size_t>(std::count(keep.begin(), keep.end(), std::uint8_t{0}));
}

/// Per-matrix selection: removes whole units until the matrix's sparsity is closest to
/// `sparsity` (within one unit). Already removed weights count toward the target.
inline void select_per_matrix(const float* src, std::vector<std::uint8_t>& keep, const unit_grid& g,
                              criterion crit, double sparsity) {
  const double need = sparsity * static_cast<double>(g.rows * g.cols) - static_cast<double>(count_removed(keep));
  if (need <= 0) return;
  const auto st = score_units(src, keep, g, crit);
  std::vector<std::size_t> cand;
  cand.reserve(st.size());
  for (std::size_t u = 0; u < st.size(); ++u)
    if (st[u].remaining > 0) cand.push_back(u);
  remove_lowest(keep, g, st, std::move(cand), need);
}

/// Balanced selection. Bank = one row of the unit grid (for SIMD units: the units one
/// row-block of work-items walks along K; for tiles: the tiles one work-group row walks).
/// Every bank ends with the same number of removed units, round(sparsity × units per bank),
/// so every bank keeps the same count and a kernel walks it with a fixed trip count.
inline void select_balanced(const float* src, std::vector<std::uint8_t>& keep, const unit_grid& g,
                            criterion crit, double sparsity) {
  const auto st = score_units(src, keep, g, crit);
  const std::size_t gc = g.grid_cols();
  const auto target = static_cast<std::size_t>(std::llround(sparsity * static_cast<double>(gc)));
  const removal_order less{&st};
  std::vector<std::size_t> cand;
  for (std::size_t bi = 0; bi < g.grid_rows(); ++bi) {
    cand.clear();
    std::size_t empty = 0;
    for (std::size_t u = bi * gc; u < (bi + 1) * gc; ++u) (st[u].remaining ? cand.push_back(u) : void(++empty));
    if (empty >= target) continue;
    const std::size_t p = std::min(target - empty, cand.size());
    if (p < cand.size())
      std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(p), cand.end(), less);
    for (std::size_t i = 0; i < p; ++i) remove_unit(keep, g, cand[i]);
  }
}

/// N:M selection: in each group of m consecutive weights along a row keep the n with the
/// highest magnitude (ties: the later one is kept); a partial last group of L < m keeps min(n, L).
inline void select_nm(const float* src, std::vector<std::uint8_t>& keep, std::size_t rows, std::size_t cols,
                      int n, int m) {
  std::vector<std::size_t> idx;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = src + r * cols;
    std::uint8_t* k = keep.data() + r * cols;
    for (std::size_t c0 = 0; c0 < cols; c0 += static_cast<std::size_t>(m)) {
      const std::size_t L = std::min(static_cast<std::size_t>(m), cols - c0);
      if (L <= static_cast<std::size_t>(n)) continue;
      idx.resize(L);
      std::iota(idx.begin(), idx.end(), c0);
      auto mag = [&](std::size_t c) { return k[c] ? std::fabs(row[c]) : 0.0f; };
      std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        const float ma = mag(a), mb = mag(b);
        return ma < mb || (ma == mb && a < b);
      });
      for (std::size_t i = 0; i + static_cast<std::size_t>(n) < L; ++i) k[idx[i]] = 0;
    }
  }
}

} // namespace gapp::detail
