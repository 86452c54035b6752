// gapp/prune/prune.hpp — prune one GEMM matrix in the units of a policy.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "../error.hpp"
#include "criterion.hpp"
#include "detail/select.hpp"
#include "mask.hpp"
#include "matrix.hpp"
#include "units.hpp"

namespace gapp {

/// A coarse phase run on the 4-D tensor's filters or input channels before the fine phase
/// (multi-phase pruning). `sparsity` is the share of weights the coarse phase removes.
struct coarse_phase {
  std::variant<units::filter, units::channel> unit;
  double sparsity = 0.0;
};

struct prune_options {
  /// How units are scored.
  gapp::criterion criterion = criterion::l1;
  /// Balanced selection: every bank (one row of the unit grid) keeps the same number of
  /// units. Defined for element, simd, tile, multi and block units.
  bool balanced = false;
  /// Optional per-weight scores (one per weight, row-major like the weights, e.g. |w·grad|)
  /// used instead of the weights' magnitudes; must be finite and exactly as many as the weights.
  float_span scores{};
  /// Optional coarse phase before the fine selection.
  std::optional<coarse_phase> coarse;
};

/// The sparsity an N:M unit fixes: 1 − N/M.
inline double nominal_sparsity(const units::nm& u) { return 1.0 - static_cast<double>(u.n) / u.m; }

/// The tile phase's share of a multi-level target `sparsity`.
inline double tile_phase_sparsity(const units::multi& u, double sparsity) {
  return u.tile_sparsity < 0 ? 1.0 - std::sqrt(1.0 - sparsity) : u.tile_sparsity;
}

/// What prune<Policy> selects, as a keep-mask (1 = kept, row-major), for a policy given by
/// its two units: pruning depends on a policy only through them. For programs that choose
/// the policy at run time among many (gapp-prune) without instantiating prune per policy.
template <class Unit>
std::vector<std::uint8_t> select_keep(matrix_view w, const Unit& unit, double sparsity, const prune_options& opt,
                                      policy_units pu) {
  static_assert(units::is_unit_v<Unit>, "gapp::prune: the unit must be one of gapp::units.");
  detail::check_sparsity(sparsity);
  detail::check_finite_matrix(w, "weights");
  if (opt.scores && opt.scores.size != w.size())
    throw shape_error("prune: " + std::to_string(opt.scores.size) + " scores for a " + std::to_string(w.rows) + "x" +
                      std::to_string(w.cols) + " matrix of " + std::to_string(w.size()) + " weights");
  const matrix_view src = opt.scores ? matrix_view(opt.scores.data, w.rows, w.cols) : w;
  if (opt.scores) detail::check_finite_matrix(src, "scores");

  if (opt.balanced && !unit_traits<Unit>::balanceable)
    throw invalid_argument(std::string("balanced selection is not defined for ") + unit_traits<Unit>::name +
                           " units (it applies to element, simd, tile, multi and block units)");

  const unit_shape shape = shape_in(unit, w.rows, w.cols, pu); // validates unit parameters
  std::vector<std::uint8_t> keep(w.size(), std::uint8_t{1});

  if (opt.coarse) {
    detail::check_sparsity(opt.coarse->sparsity, "coarse phase sparsity");
    if (opt.coarse->sparsity > sparsity)
      throw invalid_argument("coarse phase sparsity " + std::to_string(opt.coarse->sparsity) +
                             " exceeds the overall target " + std::to_string(sparsity));
    const unit_shape cs = std::visit([&](const auto& cu) { return shape_in(cu, w.rows, w.cols, pu); },
                                     opt.coarse->unit);
    detail::select_per_matrix(src.data, keep, detail::unit_grid(w.rows, w.cols, cs), opt.criterion,
                              opt.coarse->sparsity);
  }

  auto select = [&](unit_shape s, double target) {
    const detail::unit_grid g(w.rows, w.cols, s);
    if (opt.balanced) detail::select_balanced(src.data, keep, g, opt.criterion, target);
    else detail::select_per_matrix(src.data, keep, g, opt.criterion, target);
  };

  if constexpr (std::is_same_v<Unit, units::nm>) {
    if (std::fabs(sparsity - nominal_sparsity(unit)) > 1e-6)
      throw invalid_argument("N:M " + std::to_string(unit.n) + ":" + std::to_string(unit.m) + " fixes the sparsity at " +
                             std::to_string(nominal_sparsity(unit)) + ", not " + std::to_string(sparsity));
    detail::select_nm(src.data, keep, w.rows, w.cols, unit.n, unit.m);
  } else if constexpr (std::is_same_v<Unit, units::multi>) {
    const double ts = tile_phase_sparsity(unit, sparsity);
    detail::check_sparsity(ts, "tile phase sparsity");
    if (ts > sparsity)
      throw invalid_argument("multi-level: tile phase sparsity " + std::to_string(ts) + " exceeds the overall target " +
                             std::to_string(sparsity));
    select(pu.tile, ts);
    select(pu.simd, sparsity);
  } else {
    select(shape, sparsity);
  }
  return keep;
}

/// Prunes the rows×cols matrix `w` in units of `Unit` under `Policy` to `sparsity` (the
/// share of weights removed; the result lies within one unit of it — half a unit per bank
/// when balanced). Throws gapp::invalid_argument for a sparsity outside [0, 1), an empty
/// matrix, or options that contradict the unit; gapp::value_error for NaN/Inf weights or
/// scores. For units::nm, `sparsity` must equal 1 − N/M.
template <class Policy, class Unit>
mask<Policy, Unit> prune(matrix_view w, const Unit& unit, double sparsity, const prune_options& opt = {}) {
  static_assert(is_policy_v<Policy>, "gapp::prune: the first template argument must be a gapp::policy or preset.");
  static_assert(units::is_unit_v<Unit>, "gapp::prune: the unit must be one of gapp::units.");
  return mask<Policy, Unit>(w.rows, w.cols, select_keep(w, unit, sparsity, opt, {Policy::simd_unit, Policy::tile_unit}),
                            unit);
}

/// Convenience for N:M: prunes at its fixed sparsity 1 − N/M.
template <class Policy>
mask<Policy, units::nm> prune(matrix_view w, const units::nm& unit, const prune_options& opt = {}) {
  return prune<Policy>(w, unit, nominal_sparsity(unit), opt);
}

} // namespace gapp
