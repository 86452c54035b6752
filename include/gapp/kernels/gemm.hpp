// gapp/kernels/gemm.hpp — OpenCL C source and launch geometry from a policy.
// No OpenCL runtime is needed: an engine with its own runtime takes the strings as they are.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../policy/policy.hpp"
#include "cl/common.cl.hpp"
#include "../prune/units.hpp"
#include "cl/csr_gemm.cl.hpp"
#include "cl/direct_gemm.cl.hpp"
#include "cl/fill_rows.cl.hpp"
#include "cl/local_gemm.cl.hpp"
#include "cl/narrow_gemm.cl.hpp"

namespace gapp::kernels {

/// How a GEMM kernel walks W (defined with the units, whose traits name their walk).
using walk = gapp::walk;

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
  /// Implicit convolution (the direct family): X is the layer's CNHW input (C × B·H·W) and
  /// the kernel reads it as the im2col matrix of a kh × kw convolution with stride 1 and
  /// padding (kh − 1)/2, (kw − 1)/2 (odd kernels, output H × W), masking the padding — no
  /// column matrix is written. H and W are the launch's IH and IW.
  bool implicit = false;
  int kh = 1, kw = 1;
  /// With implicit: X and Y are in the padded layout, C × B × (H+2) × (W+2) with a zero
  /// border of one pixel around each image, and the kernel computes N = B·(H+2)·(W+2) −
  /// 2·(W+3) padded columns (from the first interior pixel to the last) with no masks: X row
  /// k is the input plane shifted by a constant. Y's border cells inside that span are
  /// written as 0; the W+3 cells before and after it in each plane are never written (a
  /// buffer zeroed once keeps a zero border). Kernels up to 3 × 3 (the border is one
  /// pixel); not with the N:M walk.
  bool padded = false;
};

/// The padded layout of an h × w image (gemm_config::padded): row pitch w + 2, one image
/// (h + 2)(w + 2) floats; a plane of `batch` images; the GEMM's N over it and where the
/// first computed column lies.
struct padded_extent {
  std::size_t pitch = 0, image = 0, plane = 0, first = 0, n = 0;
};
inline padded_extent padded_layout(std::size_t batch, std::size_t h, std::size_t w) {
  padded_extent e;
  e.pitch = w + 2;
  e.image = (h + 2) * e.pitch;
  e.plane = batch * e.image;
  e.first = e.pitch + 1;
  e.n = e.plane - 2 * e.first;
  return e;
}

/// `images` h × w images (e.g. a CNHW tensor's C·B planes, contiguous) in the padded layout,
/// each with a zero border of one pixel. Throws gapp::shape_error when `in` holds fewer values.
inline std::vector<float> to_padded(const std::vector<float>& in, std::size_t images, std::size_t h, std::size_t w) {
  if (in.size() < images * h * w)
    throw shape_error("to_padded: " + std::to_string(in.size()) + " values for " + std::to_string(images) + " images of " +
                      std::to_string(h) + "x" + std::to_string(w));
  std::vector<float> out(images * (h + 2) * (w + 2), 0.0f);
  for (std::size_t i = 0; i < images; ++i)
    for (std::size_t y = 0; y < h; ++y)
      std::copy_n(&in[(i * h + y) * w], w, &out[(i * (h + 2) + y + 1) * (w + 2) + 1]);
  return out;
}

/// Global and local NDRange sizes (x along N, y along M). A local size of 0 leaves the
/// work-group size to the runtime.
struct launch_geometry {
  std::size_t global[2] = {0, 0};
  std::size_t local[2] = {0, 0};
};

/// How a kernel's NDRange follows from N and its row count: each work-item computes
/// n_per_item columns and m_per_item rows, in work-groups of group[0] × group[1].
struct grid_rule {
  std::size_t rows = 0;          ///< rows covered along y
  std::size_t n_per_item = 1;    ///< columns of Y one work-item computes
  std::size_t m_per_item = 1;    ///< rows of Y one work-item computes
  std::size_t group[2] = {1, 1}; ///< work-group size (x along N, y along M)
  bool fixed_group = true;       ///< false: the runtime picks the work-group size
  /// The kernel takes fewer work-groups along x than there are column tiles (n_per_item ×
  /// group[0] columns each): a group then computes ceil(tiles / groups) consecutive tiles
  /// (the direct family's GEMM kernels). geometry(n, r) launches ceil(tiles / r) groups.
  bool column_tiles = false;

  /// The NDRange over n columns: one work-group per column tile, or with `tiles_per_group`
  /// > 1 (only where column_tiles) one per that many consecutive tiles.
  launch_geometry geometry(std::size_t n, std::size_t tiles_per_group = 1) const {
    auto up = [](std::size_t v, std::size_t m) { return (v + m - 1) / m * m; };
    launch_geometry g;
    const std::size_t items = (n + n_per_item - 1) / n_per_item;
    if (column_tiles && tiles_per_group > 1 && fixed_group) {
      const std::size_t tiles = (items + group[0] - 1) / group[0];
      g.global[0] = (tiles + tiles_per_group - 1) / tiles_per_group * group[0];
    } else {
      g.global[0] = up(items, group[0]);
    }
    g.global[1] = up((rows + m_per_item - 1) / m_per_item, group[1]);
    if (fixed_group) g.local[0] = group[0], g.local[1] = group[1];
    return g;
  }
};

/// The grid of policy P's GEMM kernels (RM × RN per work-item) and of its CSR kernel (one
/// row, RN columns per work-item), over `rows` rows.
template <class P>
grid_rule gemm_grid(std::size_t rows) {
  return {rows, static_cast<std::size_t>(P::rn), static_cast<std::size_t>(P::rm),
          {static_cast<std::size_t>(P::work_group_x), static_cast<std::size_t>(P::work_group_y)}, true};
}
template <class P>
grid_rule csr_grid(std::size_t rows) {
  return {rows, static_cast<std::size_t>(P::rn), 1,
          {static_cast<std::size_t>(P::work_group_x), static_cast<std::size_t>(P::work_group_y)}, true};
}

/// The OpenCL C type of a kernel argument.
enum class arg_type {
  int_value,  ///< const int
  floats_in,  ///< __global const float* restrict
  floats_out, ///< __global float* restrict
  ints_in,    ///< __global const int* restrict
  uchars_in   ///< __global const uchar* restrict
};

/// One kernel argument: its name in the kernel, its type, what it holds.
struct kernel_arg {
  const char* name;
  arg_type type;
  const char* doc;
};

/// A kernel's parameter list in OpenCL C, from its argument table. The kernels' source
/// never spells its parameters: the preamble defines them from the same table the host
/// sets them from.
inline std::string parameter_list(const std::vector<kernel_arg>& args) {
  std::string s;
  for (const kernel_arg& a : args) {
    if (!s.empty()) s += ", ";
    switch (a.type) {
    case arg_type::int_value: s += "const int "; break;
    case arg_type::floats_in: s += "__global const float* restrict "; break;
    case arg_type::floats_out: s += "__global float* restrict "; break;
    case arg_type::ints_in: s += "__global const int* restrict "; break;
    case arg_type::uchars_in: s += "__global const uchar* restrict "; break;
    }
    s += a.name;
  }
  return s;
}

/// gapp_gemm's arguments, the same for every walk of both families.
inline const std::vector<kernel_arg>& gemm_kernel_args() {
  static const std::vector<kernel_arg> a{
      {"M", arg_type::int_value, "rows computed"},
      {"N", arg_type::int_value, "columns of X and Y"},
      {"K", arg_type::int_value, "rows of X read (columns of the computed W)"},
      {"X", arg_type::floats_in, "K x N input, row-major"},
      {"Y", arg_type::floats_out, "output, row-major, N columns"},
      {"Wv", arg_type::floats_in, "weight values in the walk's layout"},
      {"I0", arg_type::ints_in, "row-block or tile-row pointers"},
      {"I1", arg_type::ints_in, "kept tiles' tile columns"},
      {"I2", arg_type::ints_in, "segment pointers of units inside kept tiles"},
      {"I3", arg_type::ints_in, "kept units' first k"},
      {"IB", arg_type::uchars_in, "N:M offsets inside their group"},
      {"rowmap", arg_type::ints_in, "Y row of each computed row"},
      {"kmap", arg_type::ints_in, "X row of each computed k"},
      {"bias", arg_type::floats_in, "one per output row"},
      {"count", arg_type::int_value, "fixed trip count of balanced lists"},
      {"IH", arg_type::int_value, "implicit convolution: the input's height (0 otherwise)"},
      {"IW", arg_type::int_value, "implicit convolution: the input's width (0 otherwise)"}};
  return a;
}

/// gapp_csr's arguments (the element-wise kernel).
inline const std::vector<kernel_arg>& csr_kernel_args() {
  static const std::vector<kernel_arg> a{{"M", arg_type::int_value, "rows"},
                                         {"N", arg_type::int_value, "columns of X and Y"},
                                         {"K", arg_type::int_value, "rows of X"},
                                         {"X", arg_type::floats_in, "K x N input"},
                                         {"Y", arg_type::floats_out, "M x N output"},
                                         {"row_ptr", arg_type::ints_in, "CSR row pointers"},
                                         {"col_idx", arg_type::ints_in, "CSR column indices"},
                                         {"values", arg_type::floats_in, "CSR values"},
                                         {"bias", arg_type::floats_in, "one per output row"}};
  return a;
}

/// gapp_fill_rows's arguments.
inline const std::vector<kernel_arg>& fill_kernel_args() {
  static const std::vector<kernel_arg> a{{"count", arg_type::int_value, "rows to fill"},
                                         {"N", arg_type::int_value, "columns of Y"},
                                         {"rows", arg_type::ints_in, "the Y rows to fill"},
                                         {"Y", arg_type::floats_out, "output, row-major"},
                                         {"bias", arg_type::floats_in, "one per output row"}};
  return a;
}

/// A complete program: `source` (a #define preamble generated from the policy and the
/// config, followed by the kernel bodies), the entry point `name`, the build `options`
/// and the kernel's arguments in order (`args`: "type name (what)", from the table).
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
                  (direct ? "direct" : "local") + ", walk " + to_string(c.mode) + " */\n";
  for (int w = 0; w <= static_cast<int>(walk::csr); ++w) {
    std::string name = "GAPP_WALK_";
    for (const char* p = to_string(static_cast<walk>(w)); *p; ++p) name += static_cast<char>(*p - 'a' + 'A');
    define(s, name.c_str(), w);
  }
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
  define(s, "GAPP_IMPLICIT", c.implicit ? (c.padded ? 2 : 1) : 0);
  define(s, "GAPP_KH", c.kh);
  define(s, "GAPP_KW", c.kw);
  return s;
}

inline std::vector<std::string> describe(const std::vector<kernel_arg>& args) {
  std::vector<std::string> out;
  for (const kernel_arg& a : args) out.push_back(parameter_list({a}) + " (" + a.doc + ")");
  return out;
}

/// A program: the preamble of P and `c`, its parameter list as `params_macro`, the shared
/// OpenCL C, then `body`.
template <class P>
kernel_source program(const char* name, const gemm_config& c, bool direct, const char* body,
                      const std::vector<kernel_arg>& args, const char* params_macro, const char* options) {
  kernel_source k;
  k.name = name;
  k.source = preamble<P>(c, direct) + "#define " + params_macro + " " + parameter_list(args) + "\n" +
             cl_source::common + body;
  k.options = options;
  k.args = describe(args);
  return k;
}

} // namespace detail

/// The GEMM kernel of policy P for `c`. Throws gapp::policy_error for a combination the
/// family cannot run (N:M groups that straddle a staged K slice).
template <class P>
kernel_source gemm_source(const gemm_config& c) {
  static_assert(is_policy_v<P>, "gapp::kernels::gemm_source needs a gapp::policy");
  constexpr bool direct = P::mode == staging::direct;
  if (c.mode == walk::csr) throw invalid_argument("gemm_source: the element-wise walk has its own kernel (csr_source)");
  if (direct && c.mode == walk::multi)
    throw invalid_argument("gemm_source: the direct family walks multi-level units as SIMD units (walk::simd over "
                           "kernels::units_of(the multi_list))");
  if (c.implicit && (!direct || c.kh < 1 || c.kw < 1 || c.kh % 2 == 0 || c.kw % 2 == 0))
    throw invalid_argument("gemm_source: implicit convolution needs the direct family and an odd kernel, got " +
                           std::to_string(c.kh) + "x" + std::to_string(c.kw));
  if (c.padded && (!c.implicit || c.kh > 3 || c.kw > 3 || c.mode == walk::nm))
    throw invalid_argument("gemm_source: the padded layout needs an implicit convolution of at most 3x3 (a one-pixel "
                           "border) and a walk other than N:M");
  if (c.mode == walk::nm) {
    if (c.nm_n <= 0 || c.nm_m < c.nm_n || c.nm_m > 255)
      throw invalid_argument("N:M kernel needs 0 < N <= M <= 255");
    if (!direct && P::tk % c.nm_m != 0)
      throw policy_error("the local N:M kernel needs M = " + std::to_string(c.nm_m) + " to divide the K step TK = " +
                         std::to_string(P::tk));
  }
  return detail::program<P>("gapp_gemm", c, direct, direct ? cl_source::direct_gemm : cl_source::local_gemm,
                            gemm_kernel_args(), "GAPP_GEMM_PARAMS", "-cl-mad-enable");
}

/// The most columns the narrow kernel (gapp_gemm_narrow) takes.
inline constexpr std::size_t narrow_max_n = 4;

/// Whether policy P's family has a narrow kernel for walk `c` (the direct family, X a
/// matrix, the dense, tile and SIMD walks — multi-level units run as SIMD units there; RM a
/// vector size and the SIMD unit RM rows; TK a multiple of 4).
template <class P>
bool has_narrow(const gemm_config& c) {
  constexpr bool rm_vector = P::rm == 1 || P::rm == 2 || P::rm == 4 || P::rm == 8 || P::rm == 16;
  if constexpr (P::mode != staging::direct || !rm_vector || P::tk % 4 != 0) {
    return false;
  } else {
    if (c.implicit) return false;
    switch (c.mode) {
    case walk::dense:
    case walk::tile: return true;
    case walk::simd: return P::simd_unit.rows == P::rm;
    default: return false;
    }
  }
}

/// The narrow kernel of policy P for `c` (N ≤ narrow_max_n): the same arguments and
/// packed arrays as gemm_source's kernel, vectors along the weights instead of along N.
/// Throws gapp::invalid_argument where has_narrow<P>(c) is false.
template <class P>
kernel_source narrow_source(const gemm_config& c) {
  static_assert(is_policy_v<P>, "gapp::kernels::narrow_source needs a gapp::policy");
  if (!has_narrow<P>(c))
    throw invalid_argument(std::string("narrow_source: no narrow kernel for the ") + to_string(c.mode) +
                           " walk of this policy");
  kernel_source k = detail::program<P>("gapp_gemm_narrow", c, true, cl_source::narrow_gemm, gemm_kernel_args(),
                                       "GAPP_GEMM_PARAMS", "-cl-mad-enable");
  k.source.insert(0, "#define GAPP_NARROW_MAX " + std::to_string(narrow_max_n) + "\n");
  return k;
}

/// The narrow kernel's grid over `rows` rows: one work-item per RM rows and every column,
/// work-groups of 1 × TM/RM (one tile row each).
template <class P>
grid_rule narrow_grid(std::size_t rows) {
  return {rows, narrow_max_n, static_cast<std::size_t>(P::rm), {1, static_cast<std::size_t>(P::tm / P::rm)}, true};
}

/// Launch geometry of a GEMM kernel computing `rows` output rows over N columns.
template <class P>
launch_geometry gemm_geometry(std::size_t rows, std::size_t n) {
  return gemm_grid<P>(rows).geometry(n);
}

/// The element-wise (CSR) kernel of policy P.
template <class P>
kernel_source csr_source(epilogue e) {
  gemm_config c;
  c.epi = e;
  c.mode = walk::csr;
  return detail::program<P>("gapp_csr", c, true, cl_source::csr_gemm, csr_kernel_args(), "GAPP_CSR_PARAMS",
                            "-cl-mad-enable");
}

template <class P>
launch_geometry csr_geometry(std::size_t rows, std::size_t n) {
  return csr_grid<P>(rows).geometry(n);
}

/// Writes act(bias) into the rows of pruned filters (used with rowmap GEMMs).
template <class P>
kernel_source fill_rows_source(epilogue e) {
  gemm_config c;
  c.epi = e;
  return detail::program<P>("gapp_fill_rows", c, true, cl_source::fill_rows, fill_kernel_args(), "GAPP_FILL_PARAMS",
                            "");
}

} // namespace gapp::kernels
