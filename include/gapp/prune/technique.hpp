// gapp/prune/technique.hpp — the one vocabulary of pruning techniques: a unit (or none, for
// dense) and whether selection is balanced, with the names every tool, benchmark and doc
// uses, and their parser.
//
//   dense | element | filter | channel | simd | tile | multi | nm:N:M | block:RxC
//   and, for units that allow balanced selection, UNIT-balanced (simd-balanced, ...)
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "../error.hpp"
#include "units.hpp"

namespace gapp {

/// Any unit, chosen at run time.
using any_unit = std::variant<units::element, units::simd, units::tile, units::multi, units::filter, units::channel,
                              units::nm, units::block>;

/// The names parse_unit() and parse_technique() accept, for messages.
inline constexpr const char* unit_names = "element, simd, tile, multi, filter, channel, nm:N:M, block:RxC";
inline constexpr const char* technique_names =
    "dense, element, filter, channel, simd, tile, multi, nm:N:M, block:RxC, or UNIT-balanced for element, simd, tile, "
    "multi and block";

namespace detail {
inline int parse_positive(std::string_view s, const char* form) {
  int v = 0;
  if (s.empty() || s.size() > 6) v = -1;
  for (char c : s) v = (v < 0 || c < '0' || c > '9') ? -1 : v * 10 + (c - '0');
  if (v <= 0) throw invalid_argument(std::string(form) + " expects positive integers, got '" + std::string(s) + "'");
  return v;
}
} // namespace detail

/// A unit from its name. `kernel_area` (kh·kw) goes into a channel unit. N:M and block
/// parameters are checked here: 0 < N <= M <= 255, positive block sides.
inline any_unit parse_unit(std::string_view s, int kernel_area = 1) {
  using namespace units;
  if (s == "element") return element{};
  if (s == "simd") return simd{};
  if (s == "tile") return tile{};
  if (s == "multi") return multi{};
  if (s == "filter") return filter{};
  if (s == "channel") return channel{kernel_area};
  if (s.substr(0, 3) == "nm:") {
    const auto c = s.find(':', 3);
    if (c == std::string_view::npos) throw invalid_argument("N:M units are written nm:N:M, e.g. nm:2:4");
    const nm u{detail::parse_positive(s.substr(3, c - 3), "nm:N:M"), detail::parse_positive(s.substr(c + 1), "nm:N:M")};
    if (u.n > u.m || u.m > 255)
      throw invalid_argument("nm:" + std::to_string(u.n) + ":" + std::to_string(u.m) +
                             ": N:M units keep N of every M weights and need N <= M <= 255");
    return u;
  }
  if (s.substr(0, 6) == "block:") {
    const auto x = s.find('x', 6);
    if (x == std::string_view::npos) throw invalid_argument("block units are written block:RxC, e.g. block:4x4");
    return block{detail::parse_positive(s.substr(6, x - 6), "block:RxC"), detail::parse_positive(s.substr(x + 1), "block:RxC")};
  }
  throw invalid_argument("unknown unit '" + std::string(s) + "' (" + unit_names + ")");
}

/// The name parse_unit() reads back: "simd", "nm:2:4", "block:4x4", ...
inline std::string to_string(const any_unit& u) {
  return std::visit(
      [](const auto& v) -> std::string {
        using U = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<U, units::nm>) return "nm:" + std::to_string(v.n) + ":" + std::to_string(v.m);
        else if constexpr (std::is_same_v<U, units::block>)
          return "block:" + std::to_string(v.rows) + "x" + std::to_string(v.cols);
        else return unit_traits<U>::name;
      },
      u);
}

inline bool balanceable(const any_unit& u) {
  return std::visit([](const auto& v) { return unit_traits<std::decay_t<decltype(v)>>::balanceable; }, u);
}

/// How a layer is pruned: dense (no unit), or a unit with per-matrix or balanced selection.
struct technique {
  std::optional<any_unit> unit;
  bool balanced = false;

  bool dense() const { return !unit.has_value(); }
  /// The unit's family name ("dense" for none).
  std::string family() const {
    return unit ? std::visit([](const auto& v) -> std::string { return unit_traits<std::decay_t<decltype(v)>>::name; }, *unit)
                : "dense";
  }
  template <class U>
  bool is() const {
    return unit && std::holds_alternative<U>(*unit);
  }
};

inline std::string to_string(const technique& t) {
  if (t.dense()) return "dense";
  return to_string(*t.unit) + (t.balanced ? "-balanced" : "");
}

/// A technique from its name (see technique_names). Throws gapp::invalid_argument for an
/// unknown name or a balanced form of a unit that has no balanced selection.
inline technique parse_technique(std::string_view s) {
  if (s == "dense") return {};
  constexpr std::string_view suffix = "-balanced";
  technique t;
  if (s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix) {
    t.balanced = true;
    s.remove_suffix(suffix.size());
  }
  try {
    t.unit = parse_unit(s);
  } catch (const invalid_argument& e) {
    if (!t.balanced && std::string_view(e.what()).substr(0, 12) == "unknown unit")
      throw invalid_argument("unknown technique '" + std::string(s) + "' (" + technique_names + ")");
    throw;
  }
  if (t.balanced && !balanceable(*t.unit))
    throw invalid_argument("balanced selection is not defined for " + to_string(*t.unit) +
                           " units (it applies to element, simd, tile, multi and block units)");
  return t;
}

inline bool operator==(const technique& a, const technique& b) { return to_string(a) == to_string(b); }
inline bool operator!=(const technique& a, const technique& b) { return !(a == b); }

} // namespace gapp
