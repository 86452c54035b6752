// gapp/prune/reorder.hpp — reordering before pruning: permute a layer's output channels (its
// GEMM rows) so that rows that share a SIMD unit or a tile have similar importance, and
// keep more of the weights' magnitude at the same sparsity. The permutation folds into the
// weights offline (this layer's rows and bias, the next layer's input channels), so
// inference costs nothing. Host-only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../io/npy.hpp"
#include "criterion.hpp"
#include "mask.hpp"
#include "matrix.hpp"
#include "prune.hpp"
#include "units.hpp"

namespace gapp::reorder {

/// A permutation of n rows (or channels): new position i holds old index order[i].
using permutation = std::vector<std::int32_t>;

inline permutation identity(std::size_t n) {
  permutation p(n);
  std::iota(p.begin(), p.end(), 0);
  return p;
}

/// Throws gapp::invalid_argument unless `p` is a permutation of 0 … n−1.
inline void check_permutation(const permutation& p, std::size_t n, const std::string& what) {
  if (p.size() != n)
    throw invalid_argument(what + ": a permutation of " + std::to_string(p.size()) + " entries for " +
                           std::to_string(n) + " channels");
  std::vector<std::uint8_t> seen(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t v = p[i];
    if (v < 0 || static_cast<std::size_t>(v) >= n)
      throw invalid_argument(what + ": entry " + std::to_string(i) + " is " + std::to_string(v) + ", outside [0, " +
                             std::to_string(n) + ")");
    if (seen[static_cast<std::size_t>(v)]++)
      throw invalid_argument(what + ": " + std::to_string(v) + " appears twice (entry " + std::to_string(i) + ")");
  }
}

/// Reads a permutation of n channels from an int32 (or int64) .npy file of shape (n,).
/// gapp::file_error naming the file for a file that is not one: another dtype or shape, the
/// wrong length, an entry out of range, an entry twice.
inline permutation read_permutation(const std::string& path, std::size_t n) {
  const npy::tensor<std::int32_t> t = npy::read_ints(path);
  if (t.shape.size() != 1)
    throw file_error(path + ": a permutation is a 1-D array, this one has " + std::to_string(t.shape.size()) +
                     " dimensions");
  try {
    check_permutation(t.data, n, path);
  } catch (const invalid_argument& e) {
    throw file_error(e.what());
  }
  return t.data;
}

/// Writes a permutation as an int32 .npy file of shape (n,) (atomically).
inline void write_permutation(const std::string& path, const permutation& p) {
  check_permutation(p, p.size(), path);
  npy::write(path, {p.size()}, p.data());
}

/// The inverse permutation: inverse(p)[p[i]] = i.
inline permutation inverse(const permutation& p) {
  check_permutation(p, p.size(), "reorder::inverse");
  permutation q(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) q[static_cast<std::size_t>(p[i])] = static_cast<std::int32_t>(i);
  return q;
}

/// w with its rows in order p (new row i = old row p[i]).
inline std::vector<float> permute_rows(matrix_view w, const permutation& p) {
  check_permutation(p, w.rows, "reorder::permute_rows");
  std::vector<float> out(w.size());
  for (std::size_t i = 0; i < w.rows; ++i)
    std::copy_n(w.data + static_cast<std::size_t>(p[i]) * w.cols, w.cols, out.data() + i * w.cols);
  return out;
}

/// w with its columns in groups of `group` consecutive columns (an input channel's kh·kw
/// weights, or a flattened channel's H·W) permuted: new group i = old group p[i].
inline std::vector<float> permute_column_groups(matrix_view w, const permutation& p, std::size_t group) {
  if (group == 0 || w.cols % group != 0)
    throw shape_error("reorder::permute_column_groups: groups of " + std::to_string(group) + " do not divide " +
                      std::to_string(w.cols) + " columns");
  check_permutation(p, w.cols / group, "reorder::permute_column_groups");
  std::vector<float> out(w.size());
  for (std::size_t r = 0; r < w.rows; ++r)
    for (std::size_t i = 0; i < p.size(); ++i)
      std::copy_n(w.data + r * w.cols + static_cast<std::size_t>(p[i]) * group, group,
                  out.data() + r * w.cols + i * group);
  return out;
}

/// v (one value per row or channel, e.g. a bias) in order p.
inline std::vector<float> permute_values(const std::vector<float>& v, const permutation& p) {
  check_permutation(p, v.size(), "reorder::permute_values");
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = v[static_cast<std::size_t>(p[i])];
  return out;
}

struct search_options {
  criterion crit = criterion::l1; ///< how units are scored when pruning (as prune_options)
  bool balanced = false;          ///< balanced selection (as prune_options)
  std::size_t max_evaluations = 300; ///< pruning runs the local search may spend
  std::uint64_t seed = 1;
};

struct search_result {
  permutation order;          ///< rows in this order keep the most magnitude found
  double kept_l2 = 0;         ///< kept L2 fraction with `order`
  double identity_kept_l2 = 0; ///< kept L2 fraction without reordering
  std::size_t evaluations = 0;
};

namespace detail {

/// The kept L2 fraction of the rows×cols weights wp pruned with `unit` to `sparsity`.
template <class Unit>
double kept_l2_pruned(const std::vector<float>& wp, std::size_t rows, std::size_t cols, const Unit& unit,
                      double sparsity, policy_units pu, const search_options& o) {
  prune_options po;
  po.criterion = o.crit;
  po.balanced = o.balanced;
  const matrix_view v(wp.data(), rows, cols);
  return kept_l2_fraction(v, select_keep(v, unit, sparsity, po, pu));
}

/// The search both orders share: n items (rows or column groups) with importance `norm`,
/// `score(p)` the kept L2 with the items in order p, `same(a, b)` whether positions a and b
/// fall in the same unit (a swap between them changes nothing). Tries the identity, the items
/// by descending norm (items of similar importance share units), then random swaps of items
/// in different units, keeping each swap that keeps more, until `max_evaluations` scorings.
/// `search` false: no order can help (the identity alone is scored).
template <class Score, class Same>
search_result local_search(std::size_t n, bool search, const std::vector<double>& norm, Score score, Same same,
                           const search_options& o) {
  search_result r;
  r.order = identity(n);
  r.identity_kept_l2 = r.kept_l2 = score(r.order);
  r.evaluations = 1;
  if (!search) return r;
  auto consider = [&](const permutation& p) {
    const double k = score(p);
    ++r.evaluations;
    if (k > r.kept_l2) {
      r.kept_l2 = k, r.order = p;
      return true;
    }
    return false;
  };
  permutation sorted = identity(n);
  std::stable_sort(sorted.begin(), sorted.end(), [&](std::int32_t a, std::int32_t b) {
    return norm[static_cast<std::size_t>(a)] > norm[static_cast<std::size_t>(b)];
  });
  consider(sorted);
  std::mt19937_64 g(o.seed);
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  permutation cur = r.order;
  while (r.evaluations < o.max_evaluations) {
    const std::size_t a = pick(g), b = pick(g);
    if (same(a, b)) {
      ++r.evaluations; // a draw that cannot change anything still counts, so the loop ends
      continue;
    }
    std::swap(cur[a], cur[b]);
    if (!consider(cur)) std::swap(cur[a], cur[b]);
  }
  return r;
}

} // namespace detail

/// The kept L2 fraction of w with its rows in order p, pruned with `unit` to `sparsity`
/// under a policy with units `pu` (gapp::select_keep).
template <class Unit>
double kept_l2_with(matrix_view w, const permutation& p, const Unit& unit, double sparsity, policy_units pu,
                    const search_options& o = {}) {
  return detail::kept_l2_pruned(permute_rows(w, p), w.rows, w.cols, unit, sparsity, pu, o);
}

/// A row order of w that keeps at least as much magnitude as the identity when pruned with
/// `unit` to `sparsity` (never less: the identity is a candidate). Tries the rows sorted by
/// their L2 norm (rows of similar importance share units), then swaps rows between unit rows
/// at random, keeping each swap that keeps more, until `max_evaluations` prunings. Units one
/// row tall (element, filter, N:M) or spanning all rows (channel) gain nothing from a row
/// order: the identity is returned at once.
template <class Unit>
search_result search_rows(matrix_view w, const Unit& unit, double sparsity, policy_units pu,
                          const search_options& o = {}) {
  if (w.rows == 0 || w.cols == 0) throw invalid_argument("reorder::search_rows: empty matrix");
  const unit_shape us = shape_in(unit, w.rows, w.cols, pu);
  auto score = [&](const permutation& p) { return kept_l2_with(w, p, unit, sparsity, pu, o); };
  const bool search = us.rows > 1 && static_cast<std::size_t>(us.rows) < w.rows;
  std::vector<double> norm(w.rows, 0.0);
  for (std::size_t i = 0; i < w.rows; ++i)
    for (std::size_t k = 0; k < w.cols; ++k) norm[i] += static_cast<double>(w(i, k)) * w(i, k);
  const std::size_t ur = static_cast<std::size_t>(us.rows);
  return detail::local_search(w.rows, search, norm, score, [ur](std::size_t a, std::size_t b) { return a / ur == b / ur; },
                              o);
}

/// The kept L2 fraction of w with its column groups (of `group` columns) in order p, pruned
/// with `unit` to `sparsity` under a policy with units `pu`.
template <class Unit>
double kept_l2_with_groups(matrix_view w, const permutation& p, std::size_t group, const Unit& unit, double sparsity,
                           policy_units pu, const search_options& o = {}) {
  return detail::kept_l2_pruned(permute_column_groups(w, p, group), w.rows, w.cols, unit, sparsity, pu, o);
}

/// An order of w's input channels — groups of `group` consecutive columns, kh·kw of a
/// convolution — that keeps at least as much magnitude as the identity when pruned with
/// `unit` to `sparsity` (the identity is a candidate). Worth it for units wider than one
/// channel's columns (tile and multi-level units): channels that share a unit's columns then
/// have similar importance. Channels sorted by L2 norm, then swaps of channels in different
/// unit columns, as search_rows. Units that hold whole channels only (as wide as a group or
/// narrower and dividing it) or span every column gain nothing: the identity at once.
/// The permutation applies to this layer's input channels and, consistently, to the previous
/// layer's output channels (its rows and bias).
template <class Unit>
search_result search_column_groups(matrix_view w, std::size_t group, const Unit& unit, double sparsity, policy_units pu,
                                   const search_options& o = {}) {
  if (w.rows == 0 || w.cols == 0) throw invalid_argument("reorder::search_column_groups: empty matrix");
  if (group == 0 || w.cols % group != 0)
    throw shape_error("reorder::search_column_groups: groups of " + std::to_string(group) + " do not divide " +
                      std::to_string(w.cols) + " columns");
  const std::size_t n = w.cols / group;
  const unit_shape us = shape_in(unit, w.rows, w.cols, pu);
  const std::size_t uc = static_cast<std::size_t>(us.cols);
  auto score = [&](const permutation& p) { return kept_l2_with_groups(w, p, group, unit, sparsity, pu, o); };
  const bool search = n >= 2 && uc < w.cols && !(uc <= group && group % uc == 0);
  std::vector<double> norm(n, 0.0);
  for (std::size_t i = 0; i < w.rows; ++i)
    for (std::size_t k = 0; k < w.cols; ++k) norm[k / group] += static_cast<double>(w(i, k)) * w(i, k);
  return detail::local_search(
      n, search, norm, score, [group, uc](std::size_t a, std::size_t b) { return a * group / uc == b * group / uc; }, o);
}

/// The squared L2 norm of w.
inline double sum_squares(matrix_view w) {
  double a = 0;
  for (std::size_t i = 0; i < w.size(); ++i) a += static_cast<double>(w.data[i]) * w.data[i];
  return a;
}

/// One order for a layer boundary: layer w's rows (output channels) and, consistently, the
/// next layer's input channels (column groups of `group` columns of `next`, kh·kw of a
/// convolution or the positions a flattened channel feeds a fully connected layer), both
/// pruned with `unit` to `sparsity`. The score is the kept L2 fraction of the two layers
/// together (‖kept‖₂ / ‖w, next‖₂), so the order serves the unit's rows in w and its columns
/// in next at once: for SIMD units (one column wide) only w's rows matter, for tile and
/// multi-level units both. Never keeps less than the identity (a candidate). `kept_l2` and
/// `identity_kept_l2` of the result are the combined fractions.
template <class Unit>
search_result search_rows_with_next(matrix_view w, matrix_view next, std::size_t group, const Unit& unit,
                                    double sparsity, policy_units pu, const search_options& o = {}) {
  if (w.rows == 0 || w.cols == 0 || next.rows == 0 || next.cols == 0)
    throw invalid_argument("reorder::search_rows_with_next: empty matrix");
  if (group == 0 || next.cols != w.rows * group)
    throw shape_error("reorder::search_rows_with_next: the next layer has " + std::to_string(next.cols) +
                      " columns, not " + std::to_string(w.rows) + " channels of " + std::to_string(group));
  const unit_shape rs = shape_in(unit, w.rows, w.cols, pu), cs = shape_in(unit, next.rows, next.cols, pu);
  const std::size_t ur = static_cast<std::size_t>(rs.rows), uc = static_cast<std::size_t>(cs.cols);
  const bool rows_matter = ur > 1 && ur < w.rows;
  const bool cols_matter = w.rows >= 2 && uc < next.cols && !(uc <= group && group % uc == 0);
  const double aw = sum_squares(w), an = sum_squares(next), all = aw + an;
  auto score = [&](const permutation& p) {
    const double kw = kept_l2_with(w, p, unit, sparsity, pu, o), kn = kept_l2_with_groups(next, p, group, unit, sparsity, pu, o);
    return all > 0 ? std::sqrt((kw * kw * aw + kn * kn * an) / all) : 1.0;
  };
  std::vector<double> norm(w.rows, 0.0); // a channel's weight in the layers whose units it shares
  if (rows_matter || !cols_matter)
    for (std::size_t i = 0; i < w.rows; ++i)
      for (std::size_t k = 0; k < w.cols; ++k) norm[i] += static_cast<double>(w(i, k)) * w(i, k);
  if (cols_matter)
    for (std::size_t i = 0; i < next.rows; ++i)
      for (std::size_t k = 0; k < next.cols; ++k) norm[k / group] += static_cast<double>(next(i, k)) * next(i, k);
  return detail::local_search(w.rows, rows_matter || cols_matter, norm, score,
                              [=](std::size_t a, std::size_t b) {
                                return (!rows_matter || a / ur == b / ur) &&
                                       (!cols_matter || a * group / uc == b * group / uc);
                              },
                              o);
}

/// search_rows under policy P's units.
template <class P, class Unit>
search_result search_rows(matrix_view w, const Unit& unit, double sparsity, const search_options& o = {}) {
  return search_rows(w, unit, sparsity, policy_units{P::simd_unit, P::tile_unit}, o);
}

} // namespace gapp::reorder
