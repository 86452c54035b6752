// gapp/opencl/gemm_op.hpp — GEMM operations Y = act(W·X + bias) on the user's OpenCL
// context, queue and activation buffers. An operation owns its weight buffers and its
// cl::Kernel; programs come from a shared program_cache.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "../kernels/gemm.hpp"
#include "../pack/pack.hpp"
#include "../prune/matrix.hpp"
#include "cl.hpp"
#include "device.hpp"
#include "device.hpp"
#include "error.hpp"
#include "program_cache.hpp"

namespace gapp::opencl {

struct gemm_options {
  kernels::epilogue epi;      ///< bias add and ReLU fused into the store
  std::vector<float> bias;    ///< one per output row, required when epi.bias
  bool fixed_trip_count = true; ///< use the balanced kernels when every bank keeps the same count
  bool device_tuning = true;    ///< add device_options<P>(dev) to the build (PoCL CPU: prefetch, K chunks)
};

/// Y[M×N] = act(W[M×K]·X[K×N] + bias) with W dense or packed for policy P.
/// X and Y are the user's buffers, row-major. enqueue() is safe from several threads (it
/// serialises argument setting and launch of this operation's kernel).
template <class P>
class gemm_op {
  static_assert(is_policy_v<P>, "gapp::opencl::gemm_op needs a gapp::policy or preset");

public:
  /// Dense W (the baseline of the same tiling).
  gemm_op(const cl::Context& ctx, const cl::Device& dev, program_cache& cache, matrix_view w, gemm_options opt = {})
      : gemm_op(ctx, dev, opt, w.rows, w.cols) {
    gapp::detail::check_finite_matrix(w, "weights");
    wv_ = upload(dense_layout(w.data, rows_, cols_, cols_));
    cfg_.mode = kernels::walk::dense;
    finish(cache, "dense");
  }

  /// W packed for P and unit U (see gapp::pack).
  template <class U>
  gemm_op(const cl::Context& ctx, const cl::Device& dev, program_cache& cache, const packed<P, U>& w,
          gemm_options opt = {})
      : gemm_op(ctx, dev, opt, w.rows, w.cols) {
    if constexpr (std::is_same_v<U, units::tile> || std::is_same_v<U, units::block>) {
      if (w.block_rows != P::tm || w.block_cols != P::tk)
        throw shape_error("gemm_op: tile kernels need TM x TK blocks");
      cfg_.mode = kernels::walk::tile;
      wv_ = upload(w.values), i0_ = upload(w.row_ptr), i1_ = upload(w.col_idx);
      set_fixed(w.row_ptr);
      finish(cache, cfg_.fixed ? "tile-balanced" : "tile");
    } else if constexpr (std::is_same_v<U, units::simd>) {
      cfg_.mode = kernels::walk::simd;
      wv_ = upload(w.values), i0_ = upload(w.row_ptr), i3_ = upload(w.k_idx);
      set_fixed(w.row_ptr);
      finish(cache, cfg_.fixed ? "simd-balanced" : "simd");
    } else if constexpr (std::is_same_v<U, units::multi>) {
      cfg_.mode = kernels::walk::multi;
      wv_ = upload(w.values), i0_ = upload(w.tile_ptr), i1_ = upload(w.tile_col), i2_ = upload(w.seg_ptr),
      i3_ = upload(w.k_idx);
      set_fixed(w.tile_ptr);
      finish(cache, cfg_.fixed ? "multi-balanced" : "multi");
    } else if constexpr (std::is_same_v<U, units::nm>) {
      cfg_.mode = kernels::walk::nm, cfg_.nm_n = w.n, cfg_.nm_m = w.m;
      const std::size_t per_row = w.groups_per_row() * static_cast<std::size_t>(w.n);
      std::vector<float> v(w.values);
      std::vector<std::uint8_t> ix(w.index);
      v.resize(round_up(rows_, P::tm) * per_row, 0.0f);
      ix.resize(v.size(), 0);
      wv_ = upload(v), ib_ = upload(ix);
      finish(cache, "nm");
    } else if constexpr (std::is_same_v<U, units::filter>) {
      cfg_.mode = kernels::walk::dense, cfg_.rowmap = true;
      compute_rows_ = w.kept_rows.size();
      wv_ = upload(dense_layout(w.values.data(), compute_rows_, cols_, cols_)), rowmap_ = upload(w.kept_rows);
      std::vector<std::int32_t> pruned;
      for (std::size_t r = 0, j = 0; r < rows_; ++r)
        (j < w.kept_rows.size() && static_cast<std::size_t>(w.kept_rows[j]) == r) ? void(++j) : pruned.push_back(static_cast<std::int32_t>(r));
      set_fill(cache, pruned);
      finish(cache, "filter");
    } else if constexpr (std::is_same_v<U, units::channel>) {
      cfg_.mode = kernels::walk::dense, cfg_.kmap = true;
      const std::size_t a = static_cast<std::size_t>(w.kernel_area), kc = w.kept_channels.size() * a;
      compute_cols_ = kc;
      const std::size_t Kp = round_up(std::max<std::size_t>(kc, 1), P::tk);
      std::vector<std::int32_t> kmap(Kp, 0);
      for (std::size_t c = 0; c < kc; ++c) kmap[c] = w.kept_channels[c / a] * static_cast<std::int32_t>(a) + static_cast<std::int32_t>(c % a);
      wv_ = upload(dense_layout(w.values.data(), rows_, kc, kc)), kmap_ = upload(kmap);
      if (kc == 0) { // nothing kept: every output is act(bias)
        std::vector<std::int32_t> all(rows_);
        for (std::size_t r = 0; r < rows_; ++r) all[r] = static_cast<std::int32_t>(r);
        set_fill(cache, all);
        compute_rows_ = 0;
      }
      finish(cache, "channel");
    } else if constexpr (std::is_same_v<U, units::element>) {
      csr_ = true;
      wv_ = upload(w.values), i0_ = upload(w.row_ptr), i1_ = upload(w.col_idx);
      finish(cache, "csr");
    } else {
      static_assert(std::is_same_v<U, void>, "gapp::opencl::gemm_op: unsupported unit");
    }
  }

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  /// The kernel variant: dense, tile, tile-balanced, simd, simd-balanced, multi, multi-balanced, nm, filter, channel, csr.
  const std::string& variant() const { return variant_; }
  const kernels::kernel_source& source() const { return src_; }
  kernels::launch_geometry geometry(std::size_t n) const {
    return csr_ ? kernels::csr_geometry<P>(rows_, n) : kernels::gemm_geometry<P>(compute_rows_, n);
  }

  /// Enqueues Y = act(W·X + bias) for X[K×N], Y[M×N] (row-major float buffers). Returns the
  /// event of the last command. Throws gapp::shape_error for buffers too small for N.
  cl::Event enqueue(const cl::CommandQueue& q, const cl::Buffer& X, const cl::Buffer& Y, std::size_t n,
                    const std::vector<cl::Event>* wait = nullptr) {
    if (n == 0 || n > 0x7fffffff || cols_ * n > 0x7fffffff || rows_ * n > 0x7fffffff)
      throw invalid_argument("gemm_op: N = " + std::to_string(n) + " is out of range");
    check_size(X, cols_ * n, "X");
    check_size(Y, rows_ * n, "Y");
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<cl::Event> done;
    if (fill_count_ > 0) {
      set(fill_, 0, static_cast<cl_int>(fill_count_));
      set(fill_, 1, static_cast<cl_int>(n));
      set(fill_, 2, fill_rows_);
      set(fill_, 3, Y);
      set(fill_, 4, bias_);
      cl::Event e;
      detail::check(q.enqueueNDRangeKernel(fill_, cl::NullRange, cl::NDRange(round_up(n, 16), fill_count_),
                                           cl::NullRange, wait, &e),
                    "clEnqueueNDRangeKernel(gapp_fill_rows)");
      done.push_back(e);
    }
    if (compute_rows_ > 0) {
      const kernels::launch_geometry g = geometry(n);
      const cl_int M = static_cast<cl_int>(csr_ ? rows_ : compute_rows_), N = static_cast<cl_int>(n),
                   K = static_cast<cl_int>(compute_cols_);
      set(kernel_, 0, M);
      set(kernel_, 1, N);
      set(kernel_, 2, K);
      set(kernel_, 3, X);
      set(kernel_, 4, Y);
      if (csr_) {
        set(kernel_, 5, i0_);
        set(kernel_, 6, i1_);
        set(kernel_, 7, wv_);
        set(kernel_, 8, bias_);
      } else {
        set(kernel_, 5, wv_);
        set(kernel_, 6, i0_);
        set(kernel_, 7, i1_);
        set(kernel_, 8, i2_);
        set(kernel_, 9, i3_);
        set(kernel_, 10, ib_);
        set(kernel_, 11, rowmap_);
        set(kernel_, 12, kmap_);
        set(kernel_, 13, bias_);
        set(kernel_, 14, count_);
      }
      // after the fill (if any), so that the returned event covers both on any queue
      std::vector<cl::Event> after(done);
      if (wait) after.insert(after.end(), wait->begin(), wait->end());
      cl::Event e;
      detail::check(q.enqueueNDRangeKernel(kernel_, cl::NullRange, cl::NDRange(g.global[0], g.global[1]),
                                           cl::NDRange(g.local[0], g.local[1]), after.empty() ? nullptr : &after, &e),
                    "clEnqueueNDRangeKernel(gapp GEMM)");
      return e;
    }
    if (done.empty()) throw invalid_argument("gemm_op: nothing to compute"); // unreachable: a fill covers compute_rows_ == 0
    return done.front();
  }

private:
  gemm_op(const cl::Context& ctx, const cl::Device& dev, gemm_options& opt, std::size_t rows, std::size_t cols)
      : ctx_(ctx), dev_(dev), rows_(rows), cols_(cols), compute_rows_(rows), compute_cols_(cols) {
    require_can_run<P>(query(dev));
    if (rows == 0 || cols == 0) throw invalid_argument("gemm_op: empty weight matrix");
    if (rows * cols > 0x7fffffff) throw shape_error("gemm_op: the weight matrix exceeds 32-bit indexing");
    cfg_.epi = opt.epi;
    fixed_allowed_ = opt.fixed_trip_count;
    device_tuning_ = opt.device_tuning;
    if (opt.epi.bias) {
      if (opt.bias.size() != rows)
        throw shape_error("gemm_op: " + std::to_string(opt.bias.size()) + " bias values for " + std::to_string(rows) +
                          " output rows");
      gapp::detail::check_finite_matrix(matrix_view(opt.bias.data(), 1, rows), "bias");
      bias_ = upload(opt.bias);
    } else if (!opt.bias.empty()) {
      throw invalid_argument("gemm_op: bias values given but epilogue.bias is off");
    }
  }

  /// Dense W for the kernel family: padded to whole TM x TK tiles; row-major for `local`,
  /// k-major panels of RM rows for `direct` (RM weights of one k contiguous).
  static std::vector<float> dense_layout(const float* w, std::size_t rows, std::size_t cols, std::size_t ld) {
    const std::size_t Mp = round_up(std::max<std::size_t>(rows, 1), P::tm), Kp = round_up(std::max<std::size_t>(cols, 1), P::tk);
    const std::size_t rm = static_cast<std::size_t>(P::rm);
    std::vector<float> out(Mp * Kp, 0.0f);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c)
        out[P::mode == staging::direct ? ((r / rm) * Kp + c) * rm + r % rm : r * Kp + c] = w[r * ld + c];
    return out;
  }

  static std::size_t round_up(std::size_t v, int m) {
    const std::size_t mm = static_cast<std::size_t>(m);
    return (v + mm - 1) / mm * mm;
  }

  template <class T>
  cl::Buffer upload(const std::vector<T>& v) {
    cl_int err = CL_SUCCESS;
    if (v.empty()) { // OpenCL has no empty buffers; kernels never read this one
      T dummy{};
      cl::Buffer b(ctx_, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof(T), &dummy, &err);
      detail::check(err, "clCreateBuffer");
      return b;
    }
    cl::Buffer b(ctx_, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, v.size() * sizeof(T), const_cast<T*>(v.data()), &err);
    detail::check(err, ("clCreateBuffer of " + std::to_string(v.size() * sizeof(T)) + " bytes").c_str());
    return b;
  }

  template <class I>
  void set_fixed(const std::vector<I>& ptr) {
    if (!fixed_allowed_ || ptr.size() < 2) return;
    const I c = ptr[1] - ptr[0];
    for (std::size_t i = 1; i + 1 < ptr.size(); ++i)
      if (ptr[i + 1] - ptr[i] != c) return;
    cfg_.fixed = true;
    count_ = static_cast<cl_int>(c);
  }

  void set_fill(program_cache& cache, const std::vector<std::int32_t>& rows) {
    fill_count_ = rows.size();
    if (rows.empty()) return;
    fill_rows_ = upload(rows);
    const kernels::kernel_source fs = kernels::fill_rows_source<P>(cfg_.epi);
    cl_int err = CL_SUCCESS;
    fill_ = cl::Kernel(cache.get(ctx_, dev_, fs), fs.name.c_str(), &err);
    detail::check(err, "clCreateKernel(gapp_fill_rows)");
  }

  void finish(program_cache& cache, const char* variant) {
    variant_ = variant;
    src_ = csr_ ? kernels::csr_source<P>(cfg_.epi) : kernels::gemm_source<P>(cfg_);
    if (!csr_ && device_tuning_) src_.options += device_options<P>(dev_);
    cl_int err = CL_SUCCESS;
    kernel_ = cl::Kernel(cache.get(ctx_, dev_, src_), src_.name.c_str(), &err);
    detail::check(err, ("clCreateKernel(" + src_.name + ")").c_str());
    std::size_t wg = 0;
    kernel_.getWorkGroupInfo(dev_, CL_KERNEL_WORK_GROUP_SIZE, &wg);
    const std::size_t need = static_cast<std::size_t>(P::work_group_x * P::work_group_y);
    if (wg != 0 && wg < need)
      throw policy_error("the " + variant_ + " kernel runs at most " + std::to_string(wg) +
                         " work-items per work-group on this device, the policy needs " + std::to_string(need));
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
  std::size_t rows_, cols_, compute_rows_, compute_cols_;
  kernels::gemm_config cfg_;
  bool fixed_allowed_ = true, csr_ = false, device_tuning_ = true;
  cl_int count_ = 0;
  std::string variant_;
  kernels::kernel_source src_;
  cl::Buffer wv_, i0_, i1_, i2_, i3_, ib_, rowmap_, kmap_, bias_, fill_rows_;
  std::size_t fill_count_ = 0;
  cl::Kernel kernel_, fill_;
  std::mutex mutex_;
};

} // namespace gapp::opencl
