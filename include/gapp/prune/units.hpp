// gapp/prune/units.hpp — the granularities gapp prunes in, as tag types.
//
// A unit is a rectangle of the GEMM matrix W[M×K] that is kept or removed as a whole.
// The unit grid starts at (0, 0); where M or K is not a multiple of the unit, the last
// row / column of units is partial and is scored and pruned as a unit like any other.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

#include "../error.hpp"
#include "../policy/policy.hpp"

namespace gapp::units {

/// One weight (unstructured pruning; no speedup on SIMD hardware).
struct element {};
/// Processing-element level: Policy::simd_unit (rows a SIMD group reads together × KV).
struct simd {};
/// Memory level: Policy::tile_unit (the TM×TK slice of W a work-group stages).
struct tile {};
/// Multi-level: tile units first, then SIMD units inside the kept tiles.
/// `tile_sparsity` is the share of weights removed by the tile phase; a negative value
/// (the default) splits the target evenly: both phases keep sqrt(1 − s).
struct multi {
  double tile_sparsity = -1.0;
};
/// A whole GEMM row = one output filter.
struct filter {};
/// An input channel of an OIHW tensor = `kernel_area` (kh·kw) consecutive GEMM columns,
/// over all rows. For a 2-D (fully connected) matrix kernel_area is 1.
struct channel {
  int kernel_area = 1;
};
/// N:M — in every group of M consecutive weights along K, keep the N largest.
/// The sparsity is fixed at 1 − N/M; a partial last group of L < M weights keeps min(N, L).
struct nm {
  int n = 2;
  int m = 4;
};
/// A fixed rows×cols block.
struct block {
  int rows = 1;
  int cols = 1;
};

template <class U>
inline constexpr bool is_unit_v =
    std::is_same_v<U, element> || std::is_same_v<U, simd> || std::is_same_v<U, tile> ||
    std::is_same_v<U, multi> || std::is_same_v<U, filter> || std::is_same_v<U, channel> ||
    std::is_same_v<U, nm> || std::is_same_v<U, block>;

/// Name of a unit family, as the command-line tool spells it.
template <class U>
constexpr const char* name_of() {
  if constexpr (std::is_same_v<U, element>) return "element";
  else if constexpr (std::is_same_v<U, simd>) return "simd";
  else if constexpr (std::is_same_v<U, tile>) return "tile";
  else if constexpr (std::is_same_v<U, multi>) return "multi";
  else if constexpr (std::is_same_v<U, filter>) return "filter";
  else if constexpr (std::is_same_v<U, channel>) return "channel";
  else if constexpr (std::is_same_v<U, nm>) return "nm";
  else return "block";
}

} // namespace gapp::units

namespace gapp {

/// The shape, on a rows×cols GEMM matrix, of the unit a pruning step selects with.
/// For units::multi this is the finest (SIMD) unit; its tiles are Policy::tile_unit.
/// For units::nm it is the group (1×M) in which N are kept.
template <class Policy, class Unit>
unit_shape shape_of(const Unit& u, std::size_t rows, std::size_t cols) {
  static_assert(units::is_unit_v<Unit>, "gapp::shape_of: Unit must be one of gapp::units.");
  auto narrow = [](std::size_t v) { return static_cast<int>(v > 0x7fffffff ? 0x7fffffff : v); };
  if constexpr (std::is_same_v<Unit, units::element>) return {1, 1};
  else if constexpr (std::is_same_v<Unit, units::simd> || std::is_same_v<Unit, units::multi>) return Policy::simd_unit;
  else if constexpr (std::is_same_v<Unit, units::tile>) return Policy::tile_unit;
  else if constexpr (std::is_same_v<Unit, units::filter>) { (void)rows; return {1, narrow(cols)}; }
  else if constexpr (std::is_same_v<Unit, units::channel>) {
    if (u.kernel_area <= 0 || cols % static_cast<std::size_t>(u.kernel_area) != 0)
      throw shape_error("channel unit: kernel area " + std::to_string(u.kernel_area) +
                        " does not divide K = " + std::to_string(cols));
    return {narrow(rows), u.kernel_area};
  } else if constexpr (std::is_same_v<Unit, units::nm>) {
    if (u.m <= 0 || u.n <= 0 || u.n > u.m || u.m > 255)
      throw invalid_argument("N:M unit needs 0 < N <= M <= 255, got " + std::to_string(u.n) + ":" + std::to_string(u.m));
    return {1, u.m};
  } else {
    if (u.rows <= 0 || u.cols <= 0)
      throw invalid_argument("block unit needs positive rows and columns, got " + std::to_string(u.rows) +
                             "x" + std::to_string(u.cols));
    return {u.rows, u.cols};
  }
}

} // namespace gapp
