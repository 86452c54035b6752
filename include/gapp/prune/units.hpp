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

} // namespace gapp::units

namespace gapp {

// The packed formats (gapp/pack/formats.hpp), named here so that a unit's traits can say
// which one it packs into without this layer depending on the packers.
struct csr_matrix;
struct unit_list;
struct block_list;
struct multi_list;
struct row_compact;
struct channel_compact;
struct nm_matrix;

/// How a GEMM kernel walks a packed W (the kernels layer turns it into GAPP_WALK_*).
enum class walk {
  dense = 0, ///< every TM×TK tile (dense W; filter- and channel-compacted W too)
  tile = 1,  ///< the kept tiles of each tile row (block_list)
  simd = 2,  ///< the kept SIMD units of each row-block (unit_list)
  multi = 3, ///< kept tiles, and kept SIMD units inside them (multi_list)
  nm = 4,    ///< N slots per group of M along K (nm_matrix)
  csr = 5    ///< the element-wise kernel: one work-item per output row and column block
};

inline const char* to_string(walk w) {
  static const char* const names[] = {"dense", "tile", "simd", "multi", "nm", "csr"};
  return names[static_cast<int>(w)];
}

/// Everything gapp knows about a unit family, in one place: its name (as the tools, the
/// benchmarks and the docs spell it), which selections it allows, the packed format it
/// becomes and the kernel walk that skips it. Only the units below have traits.
template <class U>
struct unit_traits;

template <>
struct unit_traits<units::element> {
  static constexpr const char* name = "element";
  static constexpr bool balanceable = true, global = true;
  using format = csr_matrix;
  static constexpr walk kernel_walk = walk::csr;
};
template <>
struct unit_traits<units::simd> {
  static constexpr const char* name = "simd";
  static constexpr bool balanceable = true, global = true;
  using format = unit_list;
  static constexpr walk kernel_walk = walk::simd;
};
template <>
struct unit_traits<units::tile> {
  static constexpr const char* name = "tile";
  static constexpr bool balanceable = true, global = true;
  using format = block_list;
  static constexpr walk kernel_walk = walk::tile;
};
template <>
struct unit_traits<units::multi> {
  static constexpr const char* name = "multi";
  static constexpr bool balanceable = true, global = false; ///< two phases with per-matrix targets
  using format = multi_list;
  static constexpr walk kernel_walk = walk::multi;
};
template <>
struct unit_traits<units::filter> {
  static constexpr const char* name = "filter";
  static constexpr bool balanceable = false, global = true;
  using format = row_compact;
  static constexpr walk kernel_walk = walk::dense; ///< a smaller dense GEMM, rows mapped back
};
template <>
struct unit_traits<units::channel> {
  static constexpr const char* name = "channel";
  static constexpr bool balanceable = false, global = true;
  using format = channel_compact;
  static constexpr walk kernel_walk = walk::dense; ///< a narrower dense GEMM, X rows mapped
};
template <>
struct unit_traits<units::nm> {
  static constexpr const char* name = "nm";
  static constexpr bool balanceable = false, global = false; ///< the sparsity is fixed at 1 − N/M
  using format = nm_matrix;
  static constexpr walk kernel_walk = walk::nm;
};
template <>
struct unit_traits<units::block> {
  static constexpr const char* name = "block";
  static constexpr bool balanceable = true, global = false;
  using format = block_list;
  static constexpr walk kernel_walk = walk::tile; ///< runs on the tile kernel when rows×cols = TM×TK
};

namespace detail {
template <class U, class = void>
struct has_unit_traits : std::false_type {};
template <class U>
struct has_unit_traits<U, std::void_t<decltype(unit_traits<U>::name)>> : std::true_type {};
} // namespace detail

} // namespace gapp

namespace gapp::units {

template <class U>
inline constexpr bool is_unit_v = gapp::detail::has_unit_traits<U>::value;

/// Name of a unit family, as the command-line tool spells it (unit_traits<U>::name).
template <class U>
constexpr const char* name_of() {
  return unit_traits<U>::name;
}

} // namespace gapp::units

namespace gapp {

/// The two units a policy derives (policy::simd_unit, policy::tile_unit): all that pruning
/// needs of a policy, as run-time values (see gapp::select_keep).
struct policy_units {
  unit_shape simd, tile;
};

/// The shape, on a rows×cols GEMM matrix, of the unit a pruning step selects with, under a
/// policy whose units are `pu`. For units::multi this is the finest (SIMD) unit; its tiles
/// are pu.tile. For units::nm it is the group (1×M) in which N are kept.
template <class Unit>
unit_shape shape_in(const Unit& u, std::size_t rows, std::size_t cols, policy_units pu) {
  static_assert(units::is_unit_v<Unit>, "gapp::shape_of: Unit must be one of gapp::units.");
  auto narrow = [](std::size_t v) { return static_cast<int>(v > 0x7fffffff ? 0x7fffffff : v); };
  if constexpr (std::is_same_v<Unit, units::element>) return {1, 1};
  else if constexpr (std::is_same_v<Unit, units::simd> || std::is_same_v<Unit, units::multi>) return pu.simd;
  else if constexpr (std::is_same_v<Unit, units::tile>) return pu.tile;
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

/// shape_in under Policy's units.
template <class Policy, class Unit>
unit_shape shape_of(const Unit& u, std::size_t rows, std::size_t cols) {
  return shape_in(u, rows, cols, policy_units{Policy::simd_unit, Policy::tile_unit});
}

} // namespace gapp
