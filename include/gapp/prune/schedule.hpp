// gapp/prune/schedule.hpp — gradual pruning: the target sparsity at a training step.
#pragma once

#include <cmath>
#include <string>

#include "../error.hpp"
#include "matrix.hpp"

namespace gapp {

/// Cubic schedule of Zhu & Gupta (2017), "To prune, or not to prune":
///   s(t) = s_f + (s_i − s_f) · (1 − (t − t0) / (n·Δt))³   for t0 ≤ t ≤ t0 + n·Δt,
/// evaluated only at update steps t0, t0+Δt, … (between them the last value holds);
/// s_i before t0 and s_f after the end.
struct cubic_schedule {
  double initial_sparsity = 0.0; ///< s_i
  double final_sparsity = 0.0;   ///< s_f
  long begin_step = 0;   ///< t0
  long end_step = 0;     ///< t0 + n·Δt
  long frequency = 1;    ///< Δt

  /// Throws gapp::invalid_argument unless 0 <= initial <= final < 1 (sparsities), begin <= end, Δt > 0.
  void validate() const {
    detail::check_sparsity(initial_sparsity, "cubic_schedule: initial sparsity");
    detail::check_sparsity(final_sparsity, "cubic_schedule: final sparsity");
    if (initial_sparsity > final_sparsity) throw invalid_argument("cubic_schedule: initial sparsity exceeds the final one");
    if (end_step < begin_step) throw invalid_argument("cubic_schedule: end_step precedes begin_step");
    if (frequency <= 0) throw invalid_argument("cubic_schedule: frequency must be positive");
  }

  /// Target sparsity at training step `step`.
  double at(long step) const {
    validate();
    if (step <= begin_step) return initial_sparsity;
    if (step >= end_step || end_step == begin_step) return final_sparsity;
    const long t = begin_step + ((step - begin_step) / frequency) * frequency; // last update step
    const double f = 1.0 - static_cast<double>(t - begin_step) / static_cast<double>(end_step - begin_step);
    return final_sparsity + (initial_sparsity - final_sparsity) * f * f * f;
  }
};

} // namespace gapp
