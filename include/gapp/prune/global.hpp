// gapp/prune/global.hpp — one sparsity target over several layers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "../error.hpp"
#include "criterion.hpp"
#include "detail/select.hpp"
#include "mask.hpp"
#include "matrix.hpp"
#include "units.hpp"

namespace gapp {

/// One layer of a global selection.
struct global_layer {
  matrix_view weights;
  double min_sparsity = 0.0;  ///< the layer loses at least this share (within one unit)
  double max_sparsity = 1.0;  ///< and at most this share (within one unit)
  float_span scores{};        ///< optional per-weight scores, as in prune_options
  int kernel_area = 1;        ///< kh·kw, for channel units
};

/// Global selection: units of all layers are ranked together by score (per-element
/// averages, so layers of different size compare fairly; ties by layer, then position)
/// and removed lowest first until the share of removed weights over all layers is closest
/// to `sparsity`, while each layer's own sparsity stays within [min, max].
/// Throws gapp::invalid_argument if the bounds make the target unreachable.
template <class Policy, class Unit>
std::vector<mask<Policy, Unit>> prune_global(const std::vector<global_layer>& layers, const Unit& unit, double sparsity,
                                             criterion crit = criterion::l1) {
  static_assert(unit_traits<Unit>::global,
                "gapp::prune_global: N:M, multi-level and block units have per-matrix targets; prune each layer "
                "instead.");
  detail::check_sparsity(sparsity);
  if (layers.empty()) throw invalid_argument("prune_global: no layers");

  struct state {
    detail::unit_grid grid;
    std::vector<detail::unit_stat> st;
    std::vector<std::size_t> order;
    std::size_t lo = 0, hi = 0;
    std::vector<std::uint8_t> keep;
  };
  std::vector<state> ls;
  ls.reserve(layers.size());
  double total = 0, lo_sum = 0, hi_sum = 0, base = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const global_layer& L = layers[l];
    const std::string who = "layer " + std::to_string(l);
    detail::check_finite_matrix(L.weights, (who + " weights").c_str());
    if (L.scores && L.scores.size != L.weights.size())
      throw shape_error(who + ": " + std::to_string(L.scores.size) + " scores for " + std::to_string(L.weights.size()) +
                        " weights");
    if (L.scores) detail::check_finite_matrix(matrix_view(L.scores.data, L.weights.rows, L.weights.cols), (who + " scores").c_str());
    if (!(L.min_sparsity >= 0 && L.min_sparsity <= L.max_sparsity && L.max_sparsity <= 1))
      throw invalid_argument(who + ": needs 0 <= min_sparsity <= max_sparsity <= 1");
    Unit u = unit;
    if constexpr (std::is_same_v<Unit, units::channel>) u.kernel_area = L.kernel_area;
    const unit_shape shape = shape_of<Policy>(u, L.weights.rows, L.weights.cols);
    state s{detail::unit_grid(L.weights.rows, L.weights.cols, shape), {}, {}, 0, 0,
            std::vector<std::uint8_t>(L.weights.size(), std::uint8_t{1})};
    s.st = detail::score_units(L.scores ? L.scores.data : L.weights.data, s.keep, s.grid, crit);
    s.order.resize(s.st.size());
    for (std::size_t i = 0; i < s.order.size(); ++i) s.order[i] = i;
    std::sort(s.order.begin(), s.order.end(), detail::removal_order{&s.st});
    const double size = static_cast<double>(L.weights.size());
    s.lo = detail::closest_prefix(s.order, s.st, L.min_sparsity * size);
    s.hi = std::max(s.lo, detail::closest_prefix(s.order, s.st, L.max_sparsity * size));
    for (std::size_t i = 0; i < s.lo; ++i) base += static_cast<double>(s.st[s.order[i]].remaining);
    total += size;
    lo_sum += L.min_sparsity * size;
    hi_sum += L.max_sparsity * size;
    ls.push_back(std::move(s));
  }
  const double want = sparsity * total;
  if (want < lo_sum - 0.5 || want > hi_sum + 0.5)
    throw invalid_argument("prune_global: target sparsity " + std::to_string(sparsity) +
                           " is unreachable within the layers' bounds [" + std::to_string(lo_sum / total) + ", " +
                           std::to_string(hi_sum / total) + "]");

  // Candidates beyond each layer's minimum, merged by (score, layer, position).
  struct cand { double score; std::size_t layer, unit, size; };
  std::vector<cand> merged;
  for (std::size_t l = 0; l < ls.size(); ++l)
    for (std::size_t i = ls[l].lo; i < ls[l].hi; ++i) {
      const std::size_t u = ls[l].order[i];
      merged.push_back({ls[l].st[u].score, l, u, ls[l].st[u].remaining});
    }
  std::sort(merged.begin(), merged.end(), [](const cand& a, const cand& b) {
    return a.score < b.score || (a.score == b.score && (a.layer < b.layer || (a.layer == b.layer && a.unit < b.unit)));
  });
  const double need = want - base;
  const std::size_t p = detail::closest_prefix_by(merged.size(), [&](std::size_t i) { return merged[i].size; }, need);

  for (auto& s : ls)
    for (std::size_t i = 0; i < s.lo; ++i) detail::remove_unit(s.keep, s.grid, s.order[i]);
  for (std::size_t i = 0; i < p; ++i) detail::remove_unit(ls[merged[i].layer].keep, ls[merged[i].layer].grid, merged[i].unit);

  std::vector<mask<Policy, Unit>> out;
  out.reserve(ls.size());
  for (std::size_t l = 0; l < ls.size(); ++l) {
    Unit u = unit;
    if constexpr (std::is_same_v<Unit, units::channel>) u.kernel_area = layers[l].kernel_area;
    out.emplace_back(layers[l].weights.rows, layers[l].weights.cols, std::move(ls[l].keep), u);
  }
  return out;
}

} // namespace gapp
