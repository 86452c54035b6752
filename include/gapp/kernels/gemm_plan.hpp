// gapp/kernels/gemm_plan.hpp — where a packed format meets its kernel.
//
// A plan turns weights packed for a policy and unit (or dense weights) into everything a
// runtime needs to run Y = act(W·X + bias): the kernel source, the launch geometry for
// any N, and the kernel's arguments in order, each either a constant, the launch's N, the
// user's X or Y, or a host array already in the layout the kernel reads. Host-only: no
// OpenCL header. gapp's runtime (gapp/opencl/gemm_op.hpp) uploads the arrays and sets the
// arguments in one loop; an engine with its own OpenCL runtime does the same with its own.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../error.hpp"
#include "../pack/pack.hpp"
#include "../pack/validate.hpp"
#include "../prune/matrix.hpp"
#include "gemm.hpp"

namespace gapp::kernels {

struct plan_options {
  epilogue epi;                 ///< bias add and ReLU fused into the store
  std::vector<float> bias;      ///< one per output row, required when epi.bias
  bool fixed_trip_count = true; ///< use the balanced kernels when every bank keeps the same count
  /// Implicit convolution: when > 0 (odd), the plan's GEMM reads X as the CNHW input of a
  /// kernel_h × kernel_w convolution (stride 1, "same" padding) instead of its im2col matrix
  /// — on the direct family, for every walk but element-wise and N:M; elsewhere the plan
  /// stays explicit (gemm_plan::implicit() says which).
  int implicit_kh = 0, implicit_kw = 0;
  /// With implicit_kh/kw (at most 3 × 3): the GEMM reads and writes the padded layout
  /// (gemm_config::padded) — every walk that can be implicit but the filter walk, whose
  /// pruned rows a second kernel fills; elsewhere the plan keeps the plain layout
  /// (gemm_plan::padded() says which). A padded plan has no kernel over an im2col matrix.
  bool padded = false;
  /// Add the narrow kernel for launches of N ≤ narrow_max_n where the family has one (a
  /// convolution, whose N is the image's pixels, never launches it: leave it off there and
  /// nothing is built for it).
  bool narrow = true;
};

/// Where a kernel argument's value comes from when the kernel is launched.
enum class arg_source {
  constant, ///< `value` (an int)
  launch_n, ///< the launch's N
  input_x,  ///< the user's X buffer (K×N; for an implicit convolution the C×N input)
  output_y, ///< the user's Y buffer (M×N)
  launch_h, ///< the launch's input height (implicit convolution)
  launch_w, ///< the launch's input width (implicit convolution)
  /// a padded convolution's table of X row offsets for the launch's batch, height and width
  /// (padded_row_offsets; the argument keeps the channel map, if any, in `bytes`)
  padded_rows,
  array     ///< `bytes`, uploaded once; `bound == false`: never read (pass a null buffer)
};

/// One argument of a planned kernel.
struct plan_arg {
  kernel_arg arg{};
  arg_source source = arg_source::constant;
  int value = 0;
  bool bound = false;
  std::vector<unsigned char> bytes;

  /// The array's contents as T (its element type: float, std::int32_t or std::uint8_t).
  template <class T>
  std::vector<T> as() const {
    std::vector<T> out(bytes.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
  }
};

/// A second kernel over a launch's arguments, for launches of at most `max_n` columns.
struct narrow_plan {
  kernel_source source;
  grid_rule grid;
  std::size_t max_n = 0;
};

/// The GEMM of an implicit convolution's plan as it reads an im2col matrix instead: the
/// same arguments and packed arrays, X a K × N matrix (IH and IW unused).
struct matrix_plan {
  kernel_source source;
  grid_rule grid;
};

/// One kernel launch: source, arguments in the kernel's order, geometry.
struct launch_plan {
  kernel_source source;
  gemm_config config; ///< what the source's preamble was generated from
  std::vector<plan_arg> args;
  grid_rule grid;
  /// The longest walk along K of one work-item, in k steps: the GEMM's K (after channel
  /// compaction), but for the tile walk TK × the kept tiles of its fullest tile row. A
  /// runtime that walks K in chunks (opencl::cpu_k_chunks) decides by it. 0: not a GEMM.
  std::size_t walk_k = 0;
  /// Where the family has one (kernels::has_narrow): the narrow kernel, which takes the same
  /// arguments — the same uploaded arrays — and runs launches of N ≤ narrow->max_n
  /// (a fully connected layer at a small batch) with vectors along the weights.
  std::optional<narrow_plan> narrow;
  /// For an implicit convolution (config.implicit): the kernels that read the im2col matrix,
  /// so that one operation can run the convolution either way (gemm_op::enqueue with a
  /// column matrix, enqueue_conv with the input).
  std::optional<matrix_plan> matrix;

  /// Whether a launch over n columns runs the narrow kernel.
  bool uses_narrow(std::size_t n) const { return narrow && n <= narrow->max_n; }
  /// The geometry of a launch over n columns (of an implicit convolution: over its input).
  launch_geometry geometry(std::size_t n) const { return uses_narrow(n) ? narrow->grid.geometry(n) : grid.geometry(n); }

  /// The argument named `name`; throws gapp::invalid_argument if the kernel has none.
  const plan_arg& arg(std::string_view name) const {
    for (const plan_arg& a : args)
      if (name == a.arg.name) return a;
    throw invalid_argument("kernel " + source.name + " has no argument '" + std::string(name) + "'");
  }
};

/// A whole GEMM: the kernel that computes the kept rows and, where pruning removed whole
/// rows, the kernel that writes act(bias) into them.
struct gemm_plan {
  std::string variant;            ///< dense, tile, tile-balanced, simd, simd-balanced, multi, multi-balanced, nm, filter, channel, csr
  std::size_t rows = 0, cols = 0; ///< W as the user sees it: X is cols×N, Y is rows×N
  std::optional<launch_plan> gemm; ///< absent when no row is computed
  std::optional<launch_plan> fill; ///< absent when no row is filled

  /// True when the GEMM reads X as a convolution's CNHW input (kernels::gemm_config::implicit).
  bool implicit() const { return gemm && gemm->config.implicit; }
  /// True when that input and the output are in the padded layout (kernels::gemm_config::padded).
  bool padded() const { return implicit() && gemm->config.padded; }

  /// Bytes of the arrays the runtime uploads (weights, indices, maps, bias).
  std::size_t operand_bytes() const {
    std::size_t b = 0;
    for (const auto* l : {&gemm, &fill})
      if (*l)
        for (const plan_arg& a : (*l)->args) b += a.bytes.size();
    return b;
  }
};

/// A multi-level list as a SIMD-unit list: every row-block's kept units, tile after tile
/// (the same units, k indices and values). The direct family runs multi-level units this way
/// (plan_gemm, walk_of); a runtime that builds gemm_source itself uploads these arrays.
/// `m` must be valid (gapp::validate; plan_gemm validates before it converts).
inline unit_list units_of(const multi_list& m) {
  unit_list u;
  u.rows = m.rows, u.cols = m.cols, u.unit_rows = m.unit_rows, u.unit_cols = m.unit_cols;
  const std::size_t per_tile = static_cast<std::size_t>(m.row_blocks_per_tile());
  const std::size_t blocks = (m.rows + static_cast<std::size_t>(m.unit_rows) - 1) / static_cast<std::size_t>(m.unit_rows);
  const std::size_t unit_values = static_cast<std::size_t>(m.unit_rows) * static_cast<std::size_t>(m.unit_cols);
  u.k_idx.reserve(m.k_idx.size());
  u.values.reserve(m.values.size());
  u.row_ptr.reserve(blocks + 1);
  u.row_ptr.push_back(0);
  for (std::size_t rb = 0; rb < blocks; ++rb) {
    const std::size_t t = rb / per_tile, r = rb % per_tile; // tile row, row-block inside it
    for (std::int32_t j = m.tile_ptr[t]; j < m.tile_ptr[t + 1]; ++j) {
      const std::size_t s = static_cast<std::size_t>(j) * per_tile + r;
      for (std::int32_t x = m.seg_ptr[s]; x < m.seg_ptr[s + 1]; ++x) {
        u.k_idx.push_back(m.k_idx[static_cast<std::size_t>(x)]);
        const auto v = m.values.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(x) * unit_values);
        u.values.insert(u.values.end(), v, v + static_cast<std::ptrdiff_t>(unit_values));
      }
    }
    u.row_ptr.push_back(static_cast<std::int32_t>(u.k_idx.size()));
  }
  return u;
}

namespace detail {

inline std::size_t round_up(std::size_t v, std::size_t m) { return (v + m - 1) / m * m; }

/// Fills a kernel's argument table by name.
class arg_builder {
public:
  explicit arg_builder(const std::vector<kernel_arg>& table) {
    for (const kernel_arg& a : table) {
      plan_arg p;
      p.arg = a;
      const std::string_view n = a.name;
      if (n == "N") p.source = arg_source::launch_n;
      else if (n == "X") p.source = arg_source::input_x;
      else if (n == "Y") p.source = arg_source::output_y;
      else p.source = a.type == arg_type::int_value ? arg_source::constant : arg_source::array;
      args_.push_back(std::move(p));
    }
  }

  arg_builder& value(std::string_view name, std::size_t v) {
    find(name).value = static_cast<int>(v);
    return *this;
  }

  arg_builder& source(std::string_view name, arg_source s) {
    find(name).source = s;
    return *this;
  }

  template <class T>
  arg_builder& array(std::string_view name, const std::vector<T>& v) {
    plan_arg& a = find(name);
    a.bound = true;
    a.bytes.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
    return *this;
  }

  std::vector<plan_arg> take() { return std::move(args_); }

private:
  plan_arg& find(std::string_view name) {
    for (plan_arg& a : args_)
      if (name == a.arg.name) return a;
    throw invalid_argument("gemm plan: no kernel argument '" + std::string(name) + "'"); // a gapp bug
  }
  std::vector<plan_arg> args_;
};

/// Dense W for policy P's family: padded to whole TM×TK tiles; row-major for `local`,
/// k-major panels of RM rows for `direct` (the RM weights of one k contiguous).
template <class P>
std::vector<float> dense_layout(const float* w, std::size_t rows, std::size_t cols, std::size_t ld) {
  const std::size_t Mp = round_up(std::max<std::size_t>(rows, 1), P::tm), Kp = round_up(std::max<std::size_t>(cols, 1), P::tk);
  const std::size_t rm = static_cast<std::size_t>(P::rm);
  std::vector<float> out(Mp * Kp, 0.0f);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      out[P::mode == staging::direct ? ((r / rm) * Kp + c) * rm + r % rm : r * Kp + c] = w[r * ld + c];
  return out;
}

/// The count every bank keeps, if all keep the same (and fixed trip counts are allowed).
inline std::optional<int> fixed_count(const std::vector<std::int32_t>& ptr, bool allowed) {
  if (!allowed || ptr.size() < 2) return std::nullopt;
  const std::int32_t c = ptr[1] - ptr[0];
  for (std::size_t i = 1; i + 1 < ptr.size(); ++i)
    if (ptr[i + 1] - ptr[i] != c) return std::nullopt;
  return c;
}

/// Plans under construction: shape checks, the epilogue, and the two launches.
template <class P>
class plan_builder {
public:
  plan_builder(std::size_t rows, std::size_t cols, const plan_options& opt) : opt_(opt) {
    if (rows == 0 || cols == 0) throw invalid_argument("gemm plan: empty weight matrix");
    if (rows > 0x7fffffff / cols) throw shape_error("gemm plan: the weight matrix exceeds 32-bit indexing");
    if (opt.epi.bias) {
      if (opt.bias.size() != rows)
        throw shape_error("gemm plan: " + std::to_string(opt.bias.size()) + " bias values for " + std::to_string(rows) +
                          " output rows");
      gapp::detail::check_finite_matrix(matrix_view(opt.bias.data(), 1, rows), "bias");
    } else if (!opt.bias.empty()) {
      throw invalid_argument("gemm plan: bias values given but epilogue.bias is off");
    }
    plan_.rows = rows, plan_.cols = cols;
    cfg_.epi = opt.epi;
    if (opt.implicit_kh > 0 || opt.implicit_kw > 0) {
      if (opt.implicit_kh % 2 == 0 || opt.implicit_kw % 2 == 0 || cols % (static_cast<std::size_t>(opt.implicit_kh) * opt.implicit_kw))
        throw invalid_argument("gemm plan: an implicit convolution needs an odd kernel whose area divides K = " +
                               std::to_string(cols) + ", got " + std::to_string(opt.implicit_kh) + "x" +
                               std::to_string(opt.implicit_kw));
      if (P::mode == staging::direct) cfg_.implicit = true, cfg_.kh = opt.implicit_kh, cfg_.kw = opt.implicit_kw;
      if (opt.padded && (opt.implicit_kh > 3 || opt.implicit_kw > 3))
        throw invalid_argument("gemm plan: the padded layout has a one-pixel border, for kernels up to 3x3; got " +
                               std::to_string(opt.implicit_kh) + "x" + std::to_string(opt.implicit_kw));
      cfg_.padded = cfg_.implicit && opt.padded;
    } else if (opt.padded) {
      throw invalid_argument("gemm plan: the padded layout is for implicit convolutions (set implicit_kh/kw)");
    }
  }

  gemm_config& config() { return cfg_; }
  bool fixed_allowed() const { return opt_.fixed_trip_count; }

  /// The GEMM over `m` computed rows and `k` computed columns; `set` fills its arrays.
  template <class F>
  void gemm(std::size_t m, std::size_t k, F&& set) {
    arg_builder b(gemm_kernel_args());
    b.value("M", m).value("K", k);
    if (cfg_.implicit) b.source("IH", arg_source::launch_h).source("IW", arg_source::launch_w);
    bias(b);
    set(b);
    launch_plan l;
    l.source = gemm_source<P>(cfg_);
    l.config = cfg_;
    l.args = b.take();
    l.walk_k = k;
    if (cfg_.padded)
      for (plan_arg& a : l.args)
        if (std::string_view(a.arg.name) == "kmap") a.source = arg_source::padded_rows;
    l.grid = gemm_grid<P>(m);
    l.grid.column_tiles = P::mode == staging::direct; // direct_gemm walks several column tiles per group
    if (opt_.narrow && has_narrow<P>(cfg_)) l.narrow = narrow_plan{narrow_source<P>(cfg_), narrow_grid<P>(m), narrow_max_n};
    if (cfg_.implicit && !cfg_.padded) {
      gemm_config mc = cfg_;
      mc.implicit = false, mc.kh = mc.kw = 1;
      l.matrix = matrix_plan{gemm_source<P>(mc), gemm_grid<P>(m)};
      l.matrix->grid.column_tiles = l.grid.column_tiles;
    }
    plan_.gemm = std::move(l);
  }

  template <class F>
  void csr(F&& set) {
    arg_builder b(csr_kernel_args());
    b.value("M", plan_.rows).value("K", plan_.cols);
    bias(b);
    set(b);
    launch_plan l;
    l.source = csr_source<P>(cfg_.epi);
    l.config = cfg_;
    l.config.mode = walk::csr;
    l.config.implicit = false, l.config.padded = false, l.config.kh = l.config.kw = 1; // the element-wise kernel reads a matrix
    l.args = b.take();
    l.grid = csr_grid<P>(plan_.rows);
    plan_.gemm = std::move(l);
  }

  /// act(bias) into `rows` of Y.
  void fill(const std::vector<std::int32_t>& rows) {
    if (rows.empty()) return;
    arg_builder b(fill_kernel_args());
    b.value("count", rows.size()).array("rows", rows);
    bias(b);
    launch_plan l;
    l.source = fill_rows_source<P>(cfg_.epi);
    l.config.epi = cfg_.epi;
    l.args = b.take();
    l.grid.rows = rows.size();
    l.grid.group[0] = 16, l.grid.group[1] = 1;
    l.grid.fixed_group = false;
    plan_.fill = std::move(l);
  }

  /// The planned GEMM's walk_k, where it is shorter than K (the tile walk).
  void walk_k(std::size_t k) { plan_.gemm->walk_k = k; }

  gemm_plan finish(const char* variant) {
    plan_.variant = variant;
    return std::move(plan_);
  }

private:
  void bias(arg_builder& b) const {
    if (opt_.epi.bias) b.array("bias", opt_.bias);
  }
  const plan_options& opt_;
  gemm_config cfg_;
  gemm_plan plan_;
};

} // namespace detail

/// The table a padded convolution's kernel reads in its `kmap` argument (arg_source::
/// padded_rows) for a launch over `batch` images of h × w: for every computed k (and past K,
/// up to where the walks read), the offset of its X row in the padded input, from the first
/// computed column — im2col row r = (c·kh + i)·kw + j at c·plane + (i − (kh−1)/2)·(w+2) +
/// j − (kw−1)/2, r through the plan's channel map where it has one. Throws gapp::
/// invalid_argument for a launch that is not padded, gapp::shape_error for offsets beyond
/// 32 bits.
inline std::vector<std::int32_t> padded_row_offsets(const launch_plan& l, std::size_t batch, std::size_t h, std::size_t w) {
  if (!l.config.implicit || !l.config.padded) throw invalid_argument("padded_row_offsets: the launch is not a padded convolution");
  const plan_arg& km = l.arg("kmap");
  const std::vector<std::int32_t> map = km.bound ? km.as<std::int32_t>() : std::vector<std::int32_t>{};
  const std::size_t K = static_cast<std::size_t>(l.arg("K").value), area = static_cast<std::size_t>(l.config.kh * l.config.kw);
  const padded_extent e = padded_layout(batch, h, w);
  const std::size_t len = std::max(map.size(), detail::round_up(std::max<std::size_t>(K, 1), 64) + 64);
  std::vector<std::int32_t> out(len);
  for (std::size_t k = 0; k < len; ++k) {
    const std::size_t kk = std::min(k, K - 1); // past K: weights are 0, any valid row will do
    const std::size_t r = map.empty() ? kk : static_cast<std::size_t>(map[std::min(kk, map.size() - 1)]);
    const std::size_t c = r / area, t = r % area;
    const long long off = static_cast<long long>(c * e.plane) +
                          (static_cast<long long>(t / static_cast<std::size_t>(l.config.kw)) - (l.config.kh - 1) / 2) *
                              static_cast<long long>(e.pitch) +
                          static_cast<long long>(t % static_cast<std::size_t>(l.config.kw)) - (l.config.kw - 1) / 2;
    if (off > 0x7fffffff) throw shape_error("padded_row_offsets: the input exceeds 32-bit offsets");
    out[k] = static_cast<std::int32_t>(off);
  }
  return out;
}

/// The plan of a dense W (row-major rows×cols): the baseline of policy P's tiling.
/// Throws gapp::value_error for NaN/Inf weights or bias, gapp::shape_error for a bias of
/// the wrong length.
template <class P>
gemm_plan plan_gemm(matrix_view w, const plan_options& opt = {}) {
  static_assert(is_policy_v<P>, "gapp::kernels::plan_gemm needs a gapp::policy or preset");
  detail::plan_builder<P> b(w.rows, w.cols, opt);
  gapp::detail::check_finite_matrix(w, "weights");
  b.config().mode = walk::dense;
  b.gemm(w.rows, w.cols, [&](detail::arg_builder& a) {
    a.array("Wv", detail::dense_layout<P>(w.data, w.rows, w.cols, w.cols));
  });
  return b.finish("dense");
}

/// The walk policy P's GEMM kernel takes for unit U: the unit's own
/// (unit_traits<U>::kernel_walk), except that the direct family walks multi-level units as
/// SIMD units (plan_gemm).
template <class P, class U>
constexpr walk walk_of() {
  constexpr walk own = unit_traits<U>::kernel_walk;
  return own == walk::multi && P::mode == staging::direct ? walk::simd : own;
}

/// The plan of W packed for policy P and unit U (see gapp::pack). The packed structure is
/// validated first (gapp::format_error naming the field), so a hand-built or deserialised
/// one can never make a kernel read out of bounds.
template <class P, class U>
gemm_plan plan_gemm(const packed<P, U>& w, const plan_options& opt = {}) {
  static_assert(is_policy_v<P>, "gapp::kernels::plan_gemm needs a gapp::policy or preset");
  if constexpr (std::is_same_v<U, units::block>) {
    if (w.block_rows != P::tm || w.block_cols != P::tk)
      throw shape_error("gemm plan: block units run on the tile kernel, which needs TM x TK = " + std::to_string(P::tm) +
                        "x" + std::to_string(P::tk) + " blocks, got " + std::to_string(w.block_rows) + "x" +
                        std::to_string(w.block_cols));
  }
  validate_for<P, U>(w);
  detail::plan_builder<P> b(w.rows, w.cols, opt);
  gemm_config& c = b.config();
  constexpr walk own = unit_traits<U>::kernel_walk, mode = walk_of<P, U>();
  c.mode = mode;

  if constexpr (mode == walk::tile || mode == walk::simd || mode == walk::multi) {
    // `l`: the lists the walk reads — the packed ones, or for multi-level units on the direct
    // family (walk_of) the same units as SIMD-unit lists. That family stages nothing, so a
    // kept tile bought its walk nothing but a loop level and list reads per tile; the mask
    // still keeps whole tiles first, so a work-group's row-blocks read fewer distinct X rows
    // than SIMD units at the same sparsity. VGG16-224 layers on an AMD EPYC (PoCL, device
    // time): 4-26% less time than the multi-level walk on every layer at 0.75 and 0.9, padded
    // or over the im2col matrix (performance.md, "Multi-level units walked as SIMD units").
    using lists = std::conditional_t<own == mode, const packed<P, U>&, const unit_list>;
    lists l = [&]() -> lists {
      if constexpr (own == mode) return w;
      else return units_of(w);
    }();
    const std::vector<std::int32_t>& ptr = [&]() -> const std::vector<std::int32_t>& {
      if constexpr (mode == walk::multi) return l.tile_ptr;
      else return l.row_ptr;
    }();
    const std::optional<int> fixed = detail::fixed_count(ptr, b.fixed_allowed());
    c.fixed = fixed.has_value();
    b.gemm(w.rows, w.cols, [&](detail::arg_builder& a) {
      a.array("Wv", l.values).array("I0", ptr).value("count", fixed.value_or(0));
      if constexpr (mode == walk::tile) a.array("I1", l.col_idx);
      if constexpr (mode == walk::simd) a.array("I3", l.k_idx);
      if constexpr (mode == walk::multi) a.array("I1", l.tile_col).array("I2", l.seg_ptr).array("I3", l.k_idx);
    });
    if constexpr (mode == walk::tile) {
      std::size_t most = 0; // kept tiles of the fullest tile row
      for (std::size_t i = 0; i + 1 < ptr.size(); ++i) most = std::max(most, static_cast<std::size_t>(ptr[i + 1] - ptr[i]));
      b.walk_k(most * static_cast<std::size_t>(P::tk));
    }
    // the variant is named for the unit (multi-level units keep their name on the SIMD walk)
    return b.finish(own == walk::tile ? (c.fixed ? "tile-balanced" : "tile")
                    : own == walk::simd ? (c.fixed ? "simd-balanced" : "simd")
                                        : (c.fixed ? "multi-balanced" : "multi"));
  } else if constexpr (mode == walk::nm) {
    c.nm_n = w.n, c.nm_m = w.m;
    // N:M reads one X vector per row and slot, shared by no other row: the implicit load's
    // address arithmetic is not amortised there (measured 2.2x slower on VGG16-224), so
    // N:M reads the im2col matrix
    c.implicit = false, c.padded = false, c.kh = c.kw = 1;
    // the kernel reads whole register tiles of rows: pad the slots to whole TM tiles
    const std::size_t per_row = w.groups_per_row() * static_cast<std::size_t>(w.n);
    std::vector<float> v(w.values);
    std::vector<std::uint8_t> ix(w.index);
    v.resize(detail::round_up(w.rows, static_cast<std::size_t>(P::tm)) * per_row, 0.0f);
    ix.resize(v.size(), 0);
    b.gemm(w.rows, w.cols, [&](detail::arg_builder& a) { a.array("Wv", v).array("IB", ix); });
    return b.finish("nm");
  } else if constexpr (std::is_same_v<U, units::filter>) {
    c.rowmap = true;
    c.padded = false; // the fill kernel writes whole rows of the plain layout
    std::vector<std::int32_t> pruned;
    for (std::size_t r = 0, j = 0; r < w.rows; ++r)
      (j < w.kept_rows.size() && static_cast<std::size_t>(w.kept_rows[j]) == r) ? void(++j)
                                                                                 : pruned.push_back(static_cast<std::int32_t>(r));
    const std::size_t kept = w.kept_rows.size();
    if (kept > 0)
      b.gemm(kept, w.cols, [&](detail::arg_builder& a) {
        a.array("Wv", detail::dense_layout<P>(w.values.data(), kept, w.cols, w.cols)).array("rowmap", w.kept_rows);
      });
    b.fill(pruned);
    return b.finish("filter");
  } else if constexpr (std::is_same_v<U, units::channel>) {
    c.kmap = true;
    const std::size_t a = static_cast<std::size_t>(w.kernel_area), kc = w.kept_channels.size() * a;
    if (kc > 0) {
      std::vector<std::int32_t> kmap(detail::round_up(kc, static_cast<std::size_t>(P::tk)), 0);
      for (std::size_t k = 0; k < kc; ++k)
        kmap[k] = w.kept_channels[k / a] * static_cast<std::int32_t>(a) + static_cast<std::int32_t>(k % a);
      b.gemm(w.rows, kc, [&](detail::arg_builder& ab) {
        ab.array("Wv", detail::dense_layout<P>(w.values.data(), w.rows, kc, kc)).array("kmap", kmap);
      });
    } else { // nothing kept: every output is act(bias)
      std::vector<std::int32_t> all(w.rows);
      for (std::size_t r = 0; r < w.rows; ++r) all[r] = static_cast<std::int32_t>(r);
      b.fill(all);
    }
    return b.finish("channel");
  } else {
    static_assert(mode == walk::csr, "gapp::kernels::plan_gemm: a unit without a kernel walk");
    b.csr([&](detail::arg_builder& a) { a.array("row_ptr", w.row_ptr).array("col_idx", w.col_idx).array("values", w.values); });
    return b.finish("csr");
  }
}

} // namespace gapp::kernels
