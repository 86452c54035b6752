// gapp/prune/criterion.hpp — how a unit is scored.
#pragma once

#include <string>
#include <string_view>

#include "../error.hpp"

namespace gapp {

/// Score of a unit from the magnitudes |v| of its values (the weights, or the user's
/// per-weight scores when given). Scores are per-element averages so that partial edge
/// units and layers of different sizes compare fairly:
///  - l1:  mean |v|
///  - l2:  root of the mean v²
///  - max: max |v|
/// Weights already removed by an earlier phase count as zero. Lower scores are removed
/// first; equal scores are broken by position (the unit earlier in row-major order of the
/// unit grid is removed first), so the same input always gives the same mask.
enum class criterion { l1, l2, max };

inline std::string_view to_string(criterion c) {
  switch (c) {
  case criterion::l1: return "l1";
  case criterion::l2: return "l2";
  default: return "max";
  }
}

inline criterion parse_criterion(std::string_view s) {
  if (s == "l1") return criterion::l1;
  if (s == "l2") return criterion::l2;
  if (s == "max") return criterion::max;
  throw invalid_argument("unknown criterion '" + std::string(s) + "' (known: l1, l2, max)");
}

} // namespace gapp
