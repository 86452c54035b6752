// gapp/opencl/gemm_op.hpp — GEMM operations Y = act(W·X + bias) on the user's OpenCL
// context, queue and activation buffers: the runtime half of kernels::gemm_plan. An
// operation owns its weight buffers and its cl::Kernel objects; programs come from a shared
// program_cache.
#pragma once

#include <algorithm>
#include <array>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../kernels/gemm_plan.hpp"
#include "../pack/pack.hpp"
#include "../prune/matrix.hpp"
#include "cl.hpp"
#include "device.hpp"
#include "error.hpp"
#include "program_cache.hpp"

namespace gapp::opencl {

struct gemm_options {
  kernels::epilogue epi;      ///< bias add and ReLU fused into the store
  std::vector<float> bias;    ///< one per output row, required when epi.bias
  bool fixed_trip_count = true; ///< use the balanced kernels when every bank keeps the same count
  bool device_tuning = true;    ///< add device_options<P>(dev, …) to the build (PoCL CPU: prefetch, K chunks)
  /// Implicit convolution (kernels::plan_options): > 0 makes the GEMM read a kh × kw
  /// convolution's CNHW input directly (enqueue_conv), where the policy's family can.
  int implicit_kh = 0, implicit_kw = 0;
  bool padded = false; ///< with implicit_kh/kw: input and output in the padded layout (kernels::plan_options::padded)
  bool narrow = true; ///< build the narrow kernel for N ≤ 4 where there is one (kernels::plan_options::narrow)
  /// Column tiles per work-group of the direct family's GEMM kernels
  /// (kernels::grid_rule::column_tiles). 0: chosen — with device_tuning, on PoCL's CPU
  /// devices, several consecutive tiles per work-group where the launch has enough of them
  /// (cpu_tiles_per_group), elsewhere one. 1: one tile per work-group (grid_rule::
  /// geometry(n)). r > 1: r tiles per work-group on every launch.
  std::size_t tiles_per_group = 0;

  kernels::plan_options plan() const {
    kernels::plan_options p{epi, bias, fixed_trip_count};
    p.implicit_kh = implicit_kh, p.implicit_kw = implicit_kw;
    p.padded = padded;
    p.narrow = narrow;
    return p;
  }
};

/// Y[M×N] = act(W[M×K]·X[K×N] + bias) with W dense or packed for policy P: runs a
/// kernels::gemm_plan. The operation uploads the plan's arrays once, owns its cl::Kernel
/// objects and takes programs from a shared program_cache. X and Y are the user's buffers,
/// row-major. enqueue() is safe from several threads (it serialises argument setting and
/// launch of this operation's kernels).
template <class P>
class gemm_op {
  static_assert(is_policy_v<P>, "gapp::opencl::gemm_op needs a gapp::policy or preset");

public:
  /// Dense W (the baseline of the same tiling).
  gemm_op(const cl::Context& ctx, const cl::Device& dev, program_cache& cache, matrix_view w, gemm_options opt = {})
      : gemm_op(ctx, dev, cache, kernels::plan_gemm<P>(w, opt.plan()), opt.device_tuning, opt.tiles_per_group) {}

  /// W packed for P and unit U (see gapp::pack); validated before anything is uploaded.
  template <class U>
  gemm_op(const cl::Context& ctx, const cl::Device& dev, program_cache& cache, const packed<P, U>& w,
          gemm_options opt = {})
      : gemm_op(ctx, dev, cache, kernels::plan_gemm<P>(w, opt.plan()), opt.device_tuning, opt.tiles_per_group) {}

  /// A plan made by kernels::plan_gemm<P> (device_tuning and tiles_per_group as gemm_options).
  gemm_op(const cl::Context& ctx, const cl::Device& dev, program_cache& cache, kernels::gemm_plan plan,
          bool device_tuning = true, std::size_t tiles_per_group = 0)
      : ctx_(ctx), dev_(dev), plan_(std::move(plan)), tiles_per_group_(tiles_per_group) {
    require_can_run<P>(query(dev));
    if (device_tuning && tiles_per_group == 0 && plan_.gemm && plan_.gemm->grid.column_tiles && is_pocl_cpu(dev)) {
      cl_uint units = 1;
      detail::check(dev.getInfo(CL_DEVICE_MAX_COMPUTE_UNITS, &units), "clGetDeviceInfo(CL_DEVICE_MAX_COMPUTE_UNITS)");
      compute_units_ = units;
    }
    if (plan_.gemm) gemm_ = make(cache, *plan_.gemm, device_tuning);
    if (plan_.fill) fill_ = make(cache, *plan_.fill, false);
    if (!gemm_ && !fill_) throw invalid_argument("gemm_op: the plan computes nothing");
  }

  std::size_t rows() const { return plan_.rows; }
  std::size_t cols() const { return plan_.cols; }
  /// The kernel variant: dense, tile, tile-balanced, simd, simd-balanced, multi, multi-balanced, nm, filter, channel, csr.
  const std::string& variant() const { return plan_.variant; }
  const kernels::gemm_plan& plan() const { return plan_; }
  /// The source of the computing kernel (for a plan that only fills rows, the fill kernel's).
  const kernels::kernel_source& source() const { return gemm_ ? gemm_->source : fill_->source; }
  kernels::launch_geometry geometry(std::size_t n) const {
    if (!gemm_) return fill_->plan->geometry(n);
    const kernels::launch_plan& l = *gemm_->plan;
    return l.uses_narrow(n) ? l.narrow->grid.geometry(n) : geometry(l.grid, n);
  }
  /// Whether enqueue() over n columns runs the narrow kernel (kernels::launch_plan::narrow).
  bool uses_narrow(std::size_t n) const { return gemm_ && !gemm_->plan->matrix && gemm_->plan->uses_narrow(n); }

  /// Enqueues Y = act(W·X + bias) for X[K×N], Y[M×N] (row-major float buffers; X and Y
  /// distinct). Returns the event of the last command. For a plan made for an implicit
  /// convolution X is its im2col matrix (the plan's matrix kernels: the convolution the
  /// other way). Throws gapp::shape_error for buffers too small for N, gapp::invalid_argument
  /// for X and Y being the same buffer.
  cl::Event enqueue(const cl::CommandQueue& q, const cl::Buffer& X, const cl::Buffer& Y, std::size_t n,
                    const std::vector<cl::Event>* wait = nullptr) {
    if (plan_.padded())
      throw invalid_argument("gemm_op: a plan for the padded layout has no kernel over a matrix; run it with enqueue_conv");
    return run(q, X, Y, n, 0, 0, wait, plan_.cols * n, plan_.rows * n);
  }

  /// For a plan made with implicit_kh/kw (plan().implicit()): Y[M × B·H·W] = act(W·im2col(X)
  /// + bias) with X the C × B × H × W input (CNHW) of a stride-1 "same" convolution; no
  /// column matrix is written. A plan that stayed explicit throws gapp::invalid_argument.
  /// For a padded plan (plan().padded()) X is C × B × (H+2) × (W+2) with a zero border and Y
  /// is written in the same layout, M × B × (H+2) × (W+2): its border stays as it was
  /// outside the computed span (kernels::padded_layout) and is written as 0 inside it, so a
  /// Y buffer zeroed once holds the next layer's padded input after every launch.
  cl::Event enqueue_conv(const cl::CommandQueue& q, const cl::Buffer& X, const cl::Buffer& Y, std::size_t batch,
                         std::size_t h, std::size_t w, const std::vector<cl::Event>* wait = nullptr) {
    if (!plan_.implicit()) throw invalid_argument("gemm_op: enqueue_conv needs a plan made for an implicit convolution");
    if (batch == 0 || h == 0 || w == 0 || h + 2 > 0x7fffffff / (w + 2) || (h + 2) * (w + 2) > 0x7fffffff / batch)
      throw invalid_argument("gemm_op: input " + std::to_string(batch) + " x " + std::to_string(h) + " x " +
                             std::to_string(w) + " is out of range");
    const std::size_t x_rows = plan_.cols / static_cast<std::size_t>(plan_.gemm->config.kh * plan_.gemm->config.kw);
    if (plan_.padded()) {
      const kernels::padded_extent e = kernels::padded_layout(batch, h, w);
      return run(q, X, Y, e.n, h, w, wait, x_rows * e.plane, plan_.rows * e.plane);
    }
    return run(q, X, Y, batch * h * w, h, w, wait, x_rows * batch * h * w, plan_.rows * batch * h * w);
  }

private:
  /// A planned launch made real: its kernel and its uploaded arrays (one per argument).
  struct live_kernel {
    const kernels::launch_plan* plan = nullptr;
    kernels::kernel_source source;
    cl::Kernel kernel;
    cl::Kernel narrow;        ///< the plan's narrow kernel, over the same arrays (none if the plan has none)
    cl::Kernel matrix;        ///< an implicit convolution's kernel over its im2col matrix
    std::vector<cl::Buffer> arrays;
    /// a padded convolution's X row offsets (kernels::padded_row_offsets) by batch, height, width
    std::map<std::array<std::size_t, 3>, cl::Buffer> row_offsets;
  };

  /// The kernel a launch over n columns runs: reading a convolution's input (`conv`) or a matrix.
  struct chosen_kernel {
    cl::Kernel* kernel;
    const kernels::kernel_source* source;
    kernels::launch_geometry geometry;
  };
  chosen_kernel choose(live_kernel& k, std::size_t n, bool conv) const {
    const kernels::launch_plan& l = *k.plan;
    if (!conv && l.matrix) return {&k.matrix, &l.matrix->source, geometry(l.matrix->grid, n)};
    if (!conv && l.uses_narrow(n)) return {&k.narrow, &l.narrow->source, l.narrow->grid.geometry(n)};
    return {&k.kernel, &k.source, geometry(l.grid, n)};
  }
  /// A launch over n columns of `grid`: with several column tiles per work-group where the
  /// grid can and the operation takes them (gemm_options::tiles_per_group; compute_units_ > 0:
  /// chosen, see the constructor).
  kernels::launch_geometry geometry(const kernels::grid_rule& grid, std::size_t n) const {
    if (!grid.column_tiles) return grid.geometry(n);
    if (tiles_per_group_ > 0) return grid.geometry(n, tiles_per_group_);
    if (compute_units_ == 0) return grid.geometry(n);
    const std::size_t tn = grid.n_per_item * grid.group[0], tm = grid.m_per_item * grid.group[1];
    const std::size_t r = cpu_tiles_per_group((n + tn - 1) / tn, (grid.rows + tm - 1) / tm, compute_units_);
    return grid.geometry(n, r);
  }

  std::unique_ptr<live_kernel> make(program_cache& cache, const kernels::launch_plan& l, bool device_tuning) {
    auto k = std::make_unique<live_kernel>();
    k->plan = &l;
    k->source = l.source;
    const bool tile = l.config.mode == kernels::walk::tile;
    if (device_tuning && l.source.name == "gapp_gemm") k->source.options += device_options<P>(dev_, l.walk_k, l.config.padded, tile);
    k->kernel = build(cache, k->source, l.grid);
    if (l.narrow) k->narrow = build(cache, l.narrow->source, l.narrow->grid);
    if (l.matrix) {
      kernels::kernel_source ms = l.matrix->source;
      if (device_tuning) ms.options += device_options<P>(dev_, l.walk_k, false, tile);
      k->matrix = build(cache, ms, l.matrix->grid);
    }
    for (const kernels::plan_arg& a : l.args)
      k->arrays.push_back(a.source == kernels::arg_source::array && a.bound ? upload(a.bytes) : cl::Buffer());
    return k;
  }

  /// The kernel of `src`, checked against the work-group size its grid needs.
  cl::Kernel build(program_cache& cache, const kernels::kernel_source& src, const kernels::grid_rule& grid) {
    cl_int err = CL_SUCCESS;
    cl::Kernel kernel(cache.get(ctx_, dev_, src), src.name.c_str(), &err);
    detail::check(err, ("clCreateKernel(" + src.name + ")").c_str());
    check_group(kernel, grid);
    return kernel;
  }

  void check_group(const cl::Kernel& kernel, const kernels::grid_rule& grid) const {
    if (!grid.fixed_group) return;
    std::size_t wg = 0;
    kernel.getWorkGroupInfo(dev_, CL_KERNEL_WORK_GROUP_SIZE, &wg);
    const std::size_t need = grid.group[0] * grid.group[1];
    if (wg != 0 && wg < need)
      throw policy_error("the " + plan_.variant + " kernel runs at most " + std::to_string(wg) +
                         " work-items per work-group on this device, the policy needs " + std::to_string(need));
  }

  /// x_floats, y_floats: what X and Y must hold.
  cl::Event run(const cl::CommandQueue& q, const cl::Buffer& X, const cl::Buffer& Y, std::size_t n, std::size_t h,
                std::size_t w, const std::vector<cl::Event>* wait, std::size_t x_floats, std::size_t y_floats) {
    if (n == 0 || n > 0x7fffffff || x_floats > 0x7fffffff || y_floats > 0x7fffffff || plan_.cols * n > 0x7fffffff ||
        plan_.rows * n > 0x7fffffff)
      throw invalid_argument("gemm_op: N = " + std::to_string(n) + " is out of range");
    if (X() == Y()) throw invalid_argument("gemm_op: X and Y are the same buffer (the kernels read X while writing Y)");
    check_size(X, x_floats, "X");
    check_size(Y, y_floats, "Y");
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<cl::Event> done;
    if (fill_) done.push_back(launch(q, *fill_, X, Y, n, h, w, wait));
    if (!gemm_) return done.front();
    // after the fill (if any), so that the returned event covers both on any queue
    std::vector<cl::Event> after(done);
    if (wait) after.insert(after.end(), wait->begin(), wait->end());
    return launch(q, *gemm_, X, Y, n, h, w, after.empty() ? nullptr : &after);
  }

  cl::Event launch(const cl::CommandQueue& q, live_kernel& k, const cl::Buffer& X, const cl::Buffer& Y, std::size_t n,
                   std::size_t h, std::size_t w, const std::vector<cl::Event>* wait) {
    const std::vector<kernels::plan_arg>& args = k.plan->args;
    const chosen_kernel c = choose(k, n, h > 0);
    cl::Kernel& kernel = *c.kernel;
    for (cl_uint i = 0; i < args.size(); ++i) {
      switch (args[i].source) {
      case kernels::arg_source::constant: set(kernel, i, static_cast<cl_int>(args[i].value)); break;
      case kernels::arg_source::launch_n: set(kernel, i, static_cast<cl_int>(n)); break;
      case kernels::arg_source::input_x: set(kernel, i, X); break;
      case kernels::arg_source::output_y: set(kernel, i, Y); break;
      case kernels::arg_source::launch_h: set(kernel, i, static_cast<cl_int>(h)); break;
      case kernels::arg_source::launch_w: set(kernel, i, static_cast<cl_int>(w)); break;
      case kernels::arg_source::padded_rows: {
        const std::size_t batch = (n + 2 * (w + 3)) / ((h + 2) * (w + 2)); // n = batch·(h+2)(w+2) − 2(w+3)
        cl::Buffer& b = k.row_offsets[{batch, h, w}];
        if (b() == nullptr) {
          const std::vector<std::int32_t> off = kernels::padded_row_offsets(*k.plan, batch, h, w);
          b = upload(std::vector<unsigned char>(reinterpret_cast<const unsigned char*>(off.data()),
                                                reinterpret_cast<const unsigned char*>(off.data() + off.size())));
        }
        set(kernel, i, b);
        break;
      }
      case kernels::arg_source::array: set(kernel, i, k.arrays[i]); break;
      }
    }
    const kernels::launch_geometry& g = c.geometry;
    const cl::NDRange local = g.local[0] ? cl::NDRange(g.local[0], g.local[1]) : cl::NullRange;
    cl::Event e;
    detail::check(q.enqueueNDRangeKernel(kernel, cl::NullRange, cl::NDRange(g.global[0], g.global[1]), local, wait, &e),
                  ("clEnqueueNDRangeKernel(" + c.source->name + ")").c_str());
    return e;
  }

  cl::Buffer upload(const std::vector<unsigned char>& bytes) {
    cl_int err = CL_SUCCESS;
    unsigned char dummy[4] = {0, 0, 0, 0}; // OpenCL has no empty buffers; kernels read none of an empty list
    const std::size_t size = bytes.empty() ? sizeof dummy : bytes.size();
    void* host = bytes.empty() ? static_cast<void*>(dummy) : const_cast<unsigned char*>(bytes.data());
    cl::Buffer b(ctx_, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, size, host, &err);
    detail::check(err, ("clCreateBuffer of " + std::to_string(size) + " bytes").c_str());
    return b;
  }

  static void check_size(const cl::Buffer& b, std::size_t floats, const char* what) {
    std::size_t bytes = 0;
    detail::check(b.getInfo(CL_MEM_SIZE, &bytes), "clGetMemObjectInfo(CL_MEM_SIZE)");
    if (bytes < floats * sizeof(float))
      throw shape_error(std::string("gemm_op: buffer ") + what + " holds " + std::to_string(bytes / sizeof(float)) +
                        " floats, the product needs " + std::to_string(floats));
  }

  template <class T>
  static void set(cl::Kernel& k, cl_uint i, const T& v) {
    detail::check(k.setArg(i, v), "clSetKernelArg");
  }
  static void set(cl::Kernel& k, cl_uint i, const cl::Buffer& b) {
    if (b() == nullptr) detail::check(k.setArg(i, sizeof(cl_mem), nullptr), "clSetKernelArg");
    else detail::check(k.setArg(i, b), "clSetKernelArg");
  }

  cl::Context ctx_;
  cl::Device dev_;
  kernels::gemm_plan plan_;
  std::unique_ptr<live_kernel> gemm_, fill_;
  std::size_t tiles_per_group_ = 0; ///< gemm_options::tiles_per_group
  std::size_t compute_units_ = 0;   ///< > 0: chosen column tiles per work-group (cpu_tiles_per_group)
  std::mutex mutex_;
};

} // namespace gapp::opencl
