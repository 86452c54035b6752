// gapp/kernels/gemm.hpp — OpenCL C source and launch geometry from a policy.
// No OpenCL runtime is needed: an engine with its own runtime takes the strings as they are.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../policy/policy.hpp"
#include "cl/common.cl.hpp"
#include "cl/direct_gemm.cl.hpp"
#include "cl/local_gemm.cl.hpp"

namespace gapp::kernels {

/// How a GEMM kernel walks W.
enum class walk {
  dense = 0, ///< every TM×TK tile; W row-major, padded to whole tiles
  tile = 1,  ///< the kept tiles of each tile row (block_list)
  simd = 2,  ///< the kept SIMD units of each row-block (unit_list)
  multi = 3, ///< kept tiles, and kept SIMD units inside them (multi_list)
  nm = 4     ///< N slots per group of M along K (nm_matrix)
};

inline const char* to_string(walk w) {
  static const char* const names[] = {"dense", "tile", "simd", "multi", "nm"};
  return names[static_cast<int>(w)];
}

/// Fused into the store: Y = act(W·X + bias[row]).
struct epilogue {
  bool bias = false;
  bool relu = false;
};

struct gemm_config {
  walk mode = walk::dense;
  bool fixed = false;  ///< balanced lists: `count` entries per bank, no pointer reads
  bool rowmap = false; ///< store row m to Y row rowmap[m] (filter-compacted W)
  bool kmap = false;   ///< read X row kmap[k] (channel-compacted W)
  int nm_n = 0, nm_m = 0;
  kernels::epilogue epi;
};

/// Global and local NDRange sizes (x along N, y along M).
struct launch_geometry {
  std::size_t global[2] = {0, 0};
  std::size_t local[2] = {0, 0};
};

/// A complete program: `source` (a #define preamble generated from the policy and the
/// config, followed by the kernel bodies), the entry point `name`, the build `options`
/// and the kernel's arguments in order.
struct kernel_source {
  std::string name;
  std::string source;
  std::string options;
  std::vector<std::string> args;
};

/// The vector width along N a policy's direct kernels use: the SIMD width for vector lanes,
/// else the device's preferred width when it divides RN (else 1).
template <class P>
constexpr int vector_width() {
  if constexpr (P::lanes == lane_mapping::vector) return P::simd_width;
  else return P::rn % P::vector_width == 0 ? P::vector_width : 1;
}

namespace detail {

inline void define(std::string& s, const char* name, long long v) {
  s += "#define ";
  s += name;
  s += ' ';
  s += std::to_string(v);
  s += '\n';
}

template <class P>
std::string preamble(const gemm_config& c, bool direct) {
  std::string s = "/* gapp generated: policy tiling TMxTNxTK " + std::to_string(P::tm) + "x" + std::to_string(P::tn) + "x" +
                  std::to_string(P::tk) + ", RMxRN " + std::to_string(P::rm) + "x" + std::to_string(P::rn) + ", " +
                  (direct ? "direct" : "local") + " */\n";
  define(s, "GAPP_TM", P::tm);
  define(s, "GAPP_TN", P::tn);
  define(s, "GAPP_TK", P::tk);
  define(s, "GAPP_RM", P::rm);
  define(s, "GAPP_RN", P::rn);
  define(s, "GAPP_KV", P::kv);
  define(s, "GAPP_UR", P::simd_unit.rows);
  define(s, "GAPP_VW", direct ? vector_width<P>() : 1);
  define(s, "GAPP_MODE", static_cast<int>(c.mode));
  define(s, "GAPP_FIXED", c.fixed);
  define(s, "GAPP_ROWMAP", c.rowmap);
  define(s, "GAPP_KMAP", c.kmap);
  define(s, "GAPP_NM_N", c.nm_n);
  define(s, "GAPP_NM_M", c.nm_m);
  define(s, "GAPP_BIAS", c.epi.bias);
  define(s, "GAPP_RELU", c.epi.relu);
  return s;
}

/// A program: the preamble of P and `c`, the shared OpenCL C, then `body`.
template <class P>
kernel_source program(const char* name, const gemm_config& c, bool direct, const char* body,
                      std::vector<std::string> args, const char* options) {
  kernel_source k;
  k.name = name;
  k.source = preamble<P>(c, direct) + cl_source::common + body;
  k.options = options;
  k.args = std::move(args);
  return k;
}

} // namespace detail

inline const std::vector<std::string>& gemm_args() {
  static const std::vector<std::string> a{
      "int M (rows computed)", "int N", "int K", "global const float* X (K x N)", "global float* Y (M x N)",
      "global const float* W values", "global const int* I0 (row/tile pointers)",
      "global const int* I1 (block/tile columns)", "global const int* I2 (segment pointers)",
      "global const int* I3 (unit k indices)", "global const uchar* IB (N:M offsets)",
      "global const int* rowmap", "global const int* kmap", "global const float* bias", "int count (fixed trip count)"};
  return a;
}

/// The GEMM kernel of policy P for `c`. Throws gapp::policy_error for a combination the
/// family cannot run (N:M groups that straddle a staged K slice).
template <class P>
kernel_source gemm_source(const gemm_config& c) {
  static_assert(is_policy_v<P>, "gapp::kernels::gemm_source needs a gapp::policy");
  constexpr bool direct = P::mode == staging::direct;
  if (c.mode == walk::nm) {
    if (c.nm_n <= 0 || c.nm_m < c.nm_n || c.nm_m > 255)
      throw invalid_argument("N:M kernel needs 0 < N <= M <= 255");
    if (!direct && P::tk % c.nm_m != 0)
      throw policy_error("the local N:M kernel needs M = " + std::to_string(c.nm_m) + " to divide the K step TK = " +
                         std::to_string(P::tk));
  }
  return detail::program<P>("gapp_gemm", c, direct, direct ? cl_source::direct_gemm : cl_source::local_gemm,
                            gemm_args(), "-cl-mad-enable");
}

/// Launch geometry of a GEMM kernel computing `rows` output rows over N columns.
template <class P>
launch_geometry gemm_geometry(std::size_t rows, std::size_t n) {
  const std::size_t wx = static_cast<std::size_t>(P::work_group_x), wy = static_cast<std::size_t>(P::work_group_y);
  const std::size_t tm = static_cast<std::size_t>(P::tm), tn = static_cast<std::size_t>(P::tn);
  launch_geometry g;
  g.local[0] = wx, g.local[1] = wy;
  g.global[0] = (n + tn - 1) / tn * wx;
  g.global[1] = (rows + tm - 1) / tm * wy;
  return g;
}

/// The element-wise (CSR) kernel of policy P.
template <class P>
kernel_source csr_source(epilogue e) {
  gemm_config c;
  c.epi = e;
  return detail::program<P>("gapp_csr", c, true, cl_source::csr_gemm,
                            {"int M", "int N", "int K", "global const float* X", "global float* Y",
                             "global const int* row_ptr", "global const int* col_idx", "global const float* values",
                             "global const float* bias"},
                            "-cl-mad-enable");
}

template <class P>
launch_geometry csr_geometry(std::size_t rows, std::size_t n) {
  const std::size_t wx = static_cast<std::size_t>(P::work_group_x), wy = static_cast<std::size_t>(P::work_group_y);
  const std::size_t rn = static_cast<std::size_t>(P::rn);
  launch_geometry g;
  g.local[0] = wx, g.local[1] = wy;
  g.global[0] = ((n + rn - 1) / rn + wx - 1) / wx * wx;
  g.global[1] = (rows + wy - 1) / wy * wy;
  return g;
}

/// Writes act(bias) into the rows of pruned filters (used with rowmap GEMMs).
template <class P>
kernel_source fill_rows_source(epilogue e) {
  gemm_config c;
  c.epi = e;
  return detail::program<P>("gapp_fill_rows", c, true, cl_source::fill_rows,
                            {"int count", "int N", "global const int* rows", "global float* Y", "global const float* bias"},
                            "");
}

} // namespace gapp::kernels
