// gapp/opencl/conv_op.hpp — convolution (stride, padding; dilation 1, groups 1) as im2col
// + any gapp GEMM operation, and the small layer kernels around it (max-pool, flatten).
// Activations are CNHW (channel, batch, row, column) on the device.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "../kernels/conv.hpp"
#include "../prune/conv.hpp"
#include "gemm_op.hpp"

namespace gapp::opencl {

namespace detail {
inline std::size_t round_up(std::size_t v, std::size_t m) { return (v + m - 1) / m * m; }

template <class... A>
void set_args(cl::Kernel& k, const A&... a) {
  cl_uint i = 0;
  (check(k.setArg(i++, a), "clSetKernelArg"), ...);
}

inline cl::Kernel make_kernel(const cl::Program& p, const char* name) {
  cl_int err = CL_SUCCESS;
  cl::Kernel k(p, name, &err);
  check(err, (std::string("clCreateKernel(") + name + ")").c_str());
  return k;
}
} // namespace detail

struct conv_geometry {
  std::size_t stride = 1;
  std::size_t pad = 0;
};

/// Y = act(conv(X, W) + bias) for CNHW activations: an im2col kernel writes the K × (B·OH·OW)
/// column matrix into a scratch buffer, then the GEMM operation (dense or any packed unit)
/// computes Y[C_out × (B·OH·OW)], which is the CNHW output. With a GEMM planned as an
/// implicit convolution (gemm_options::implicit_kh/kw; stride 1, padding (k − 1)/2) the
/// GEMM reads X itself: no im2col, no scratch.
template <class P>
class conv2d_op {
public:
  /// `gemm` computes with the OIHW weights of `shape` viewed as the GEMM matrix (as_gemm).
  conv2d_op(const cl::Context& ctx, const cl::Device& dev, program_cache& cache, const conv_shape& shape,
            std::unique_ptr<gemm_op<P>> gemm, conv_geometry g = {})
      : shape_(shape), geo_(g), gemm_(std::move(gemm)) {
    if (!gemm_ || gemm_->rows() != shape.gemm_rows() || gemm_->cols() != shape.gemm_cols())
      throw shape_error("conv2d_op: the GEMM operation does not match the convolution shape");
    if (g.stride == 0) throw invalid_argument("conv2d_op: stride must be at least 1");
    if (implicit()) {
      const auto& c = gemm_->plan().gemm->config;
      if (static_cast<std::size_t>(c.kh) != shape.kernel_h || static_cast<std::size_t>(c.kw) != shape.kernel_w ||
          g.stride != 1 || 2 * g.pad + 1 != shape.kernel_h || shape.kernel_h != shape.kernel_w)
        throw invalid_argument("conv2d_op: the GEMM reads the input as a " + std::to_string(c.kh) + "x" +
                               std::to_string(c.kw) + " convolution with stride 1 and padding " +
                               std::to_string((c.kh - 1) / 2) + "; this one is " + std::to_string(shape.kernel_h) + "x" +
                               std::to_string(shape.kernel_w) + ", stride " + std::to_string(g.stride) + ", padding " +
                               std::to_string(g.pad));
    }
    im2col_ = detail::make_kernel(cache.get(ctx, dev, kernels::conv_layers_source()), "gapp_im2col");
  }

  /// True when the GEMM reads the input directly (no im2col, no scratch).
  bool implicit() const { return gemm_->plan().implicit() && !use_im2col_; }
  /// True when input and output are in the padded layout (a GEMM planned with
  /// gemm_options::padded; kernels::gemm_config::padded): C × B × (H+2) × (W+2), a zero
  /// border around each image. Always implicit.
  bool padded() const { return gemm_->plan().padded(); }
  /// Whether the operation can run either way, implicit GEMM or im2col + GEMM, as set_im2col
  /// chooses: a plan made for this implicit convolution in the plain layout.
  bool can_run_implicit() const { return gemm_->plan().implicit() && !padded(); }
  /// Runs the convolution as im2col + GEMM (`on`) or as the implicit GEMM it was planned as
  /// (a plan that is not implicit always runs im2col; a padded one never does: gapp::
  /// invalid_argument). Not while another thread enqueues.
  void set_im2col(bool on) {
    if (on && padded()) throw invalid_argument("conv2d_op: a convolution in the padded layout has no im2col way");
    use_im2col_ = on;
  }

  /// Medians of the wall time of each way, in ms.
  struct lowering_times {
    double implicit_ms = 0, im2col_ms = 0;
  };
  /// For an operation that can run implicit: runs the convolution both ways on the queue
  /// (one warm-up each, then three interleaved rounds, each waited for) and keeps the faster
  /// (implicit on a tie). `scratch` must hold scratch_floats() of the im2col way; `out` holds
  /// the convolution afterwards. Throws gapp::invalid_argument for an operation that cannot.
  lowering_times choose_lowering(const cl::CommandQueue& q, const cl::Buffer& in, const cl::Buffer& out,
                                 std::size_t batch, std::size_t h, std::size_t w, const cl::Buffer& scratch) {
    if (!can_run_implicit()) throw invalid_argument("conv2d_op: choose_lowering needs a GEMM planned as an implicit convolution");
    auto once = [&](bool im2col) {
      set_im2col(im2col);
      const auto t0 = std::chrono::steady_clock::now();
      enqueue(q, in, out, batch, h, w, scratch).wait();
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    };
    once(false), once(true);
    std::vector<double> ti, tc;
    for (int r = 0; r < 3; ++r) ti.push_back(once(false)), tc.push_back(once(true));
    std::sort(ti.begin(), ti.end());
    std::sort(tc.begin(), tc.end());
    const lowering_times t{ti[1], tc[1]};
    set_im2col(t.im2col_ms < t.implicit_ms);
    return t;
  }

  std::size_t out_size(std::size_t in, std::size_t kernel) const {
    if (in + 2 * geo_.pad < kernel) throw shape_error("conv2d_op: kernel larger than the padded input");
    return kernels::conv_out(in, kernel, geo_.stride, geo_.pad);
  }
  std::size_t out_h(std::size_t h) const { return out_size(h, shape_.kernel_h); }
  std::size_t out_w(std::size_t w) const { return out_size(w, shape_.kernel_w); }
  /// Floats the scratch (column) buffer needs for a batch of h × w inputs (0 when implicit).
  std::size_t scratch_floats(std::size_t batch, std::size_t h, std::size_t w) const {
    return implicit() ? 0 : shape_.gemm_cols() * batch * out_h(h) * out_w(w);
  }
  const gemm_op<P>& gemm() const { return *gemm_; }

  /// Enqueues the convolution of `in` (C_in × B × H × W) into `out` (C_out × B × OH × OW);
  /// when padded(), both in the padded layout (see gemm_op::enqueue_conv: `out`'s border must
  /// be zero before the first launch, e.g. a buffer filled with 0 once).
  /// `im2col_event`, when given, receives the event of the im2col step (for profiling; left
  /// as it is when implicit, and `scratch` is then not used: an empty cl::Buffer will do).
  cl::Event enqueue(const cl::CommandQueue& q, const cl::Buffer& in, const cl::Buffer& out, std::size_t batch,
                    std::size_t h, std::size_t w, const cl::Buffer& scratch, const std::vector<cl::Event>* wait = nullptr,
                    cl::Event* im2col_event = nullptr) {
    const std::size_t oh = out_h(h), ow = out_w(w), n = batch * oh * ow;
    if (implicit()) return gemm_->enqueue_conv(q, in, out, batch, h, w, wait);
    std::size_t bytes = 0;
    detail::check(scratch.getInfo(CL_MEM_SIZE, &bytes), "clGetMemObjectInfo");
    if (bytes < scratch_floats(batch, h, w) * 4)
      throw shape_error("conv2d_op: scratch buffer holds " + std::to_string(bytes / 4) + " floats, needs " +
                        std::to_string(scratch_floats(batch, h, w)));
    detail::check(in.getInfo(CL_MEM_SIZE, &bytes), "clGetMemObjectInfo");
    if (bytes < shape_.in_channels * batch * h * w * 4) throw shape_error("conv2d_op: input buffer too small");
    std::lock_guard<std::mutex> lock(mutex_);
    detail::set_args(im2col_, static_cast<int>(shape_.in_channels), static_cast<int>(batch), static_cast<int>(h),
                     static_cast<int>(w), static_cast<int>(shape_.kernel_h), static_cast<int>(shape_.kernel_w),
                     static_cast<int>(geo_.stride), static_cast<int>(geo_.pad), static_cast<int>(oh), static_cast<int>(ow),
                     in, scratch);
    cl::Event e;
    detail::check(q.enqueueNDRangeKernel(im2col_, cl::NullRange, cl::NDRange(detail::round_up(batch * oh, 8), shape_.gemm_cols()),
                                         cl::NullRange, wait, &e),
                  "clEnqueueNDRangeKernel(gapp_im2col)");
    if (im2col_event) *im2col_event = e;
    const std::vector<cl::Event> after{e};
    return gemm_->enqueue(q, scratch, out, n, &after);
  }

private:
  conv_shape shape_;
  conv_geometry geo_;
  std::unique_ptr<gemm_op<P>> gemm_;
  cl::Kernel im2col_;
  bool use_im2col_ = false;
  std::mutex mutex_;
};

/// 2×2 max-pool (stride 2) and the per-sample flatten before a classifier, on CNHW data.
class layer_kernels {
public:
  /// How the max-pool walks its output: a work-item per output pixel (GPUs: neighbouring
  /// work-items read neighbouring pixels), or a work-item per output row with vector loads
  /// (CPUs); `automatic` picks rows on a CL_DEVICE_TYPE_CPU device, pixels elsewhere.
  enum class pool_walk { automatic, pixels, rows };

  layer_kernels(const cl::Context& ctx, const cl::Device& dev, program_cache& cache,
                pool_walk walk = pool_walk::automatic) {
    const cl::Program p = cache.get(ctx, dev, kernels::conv_layers_source());
    if (walk == pool_walk::automatic) {
      cl_device_type type = 0;
      detail::check(dev.getInfo(CL_DEVICE_TYPE, &type), "clGetDeviceInfo(CL_DEVICE_TYPE)");
      walk = (type & CL_DEVICE_TYPE_CPU) ? pool_walk::rows : pool_walk::pixels;
    }
    pool_rows_ = walk == pool_walk::rows;
    pool_ = detail::make_kernel(p, pool_rows_ ? "gapp_maxpool2_rows" : "gapp_maxpool2");
    flatten_ = detail::make_kernel(p, "gapp_flatten");
    repad_ = detail::make_kernel(p, "gapp_repad");
  }

  /// in: C × B × H × W → out: C × B × ⌊H/2⌋ × ⌊W/2⌋; either side in the padded layout
  /// when its flag is set (a padded output's border is not written).
  cl::Event maxpool2(const cl::CommandQueue& q, const cl::Buffer& in, const cl::Buffer& out, std::size_t c,
                     std::size_t batch, std::size_t h, std::size_t w, bool in_padded = false, bool out_padded = false) {
    if (h < 2 || w < 2) throw shape_error("maxpool2: input smaller than 2x2");
    const std::size_t oh = h / 2, ow = w / 2, ip = in_padded ? 2 : 0, op = out_padded ? 2 : 0;
    check_size(in, c * batch * (h + ip) * (w + ip), "maxpool2: input");
    check_size(out, c * batch * (oh + op) * (ow + op), "maxpool2: output");
    std::lock_guard<std::mutex> lock(mutex_);
    detail::set_args(pool_, static_cast<int>(c * batch), static_cast<int>(h), static_cast<int>(w), static_cast<int>(oh),
                     static_cast<int>(ow), static_cast<int>(in_padded), static_cast<int>(out_padded), in, out);
    cl::Event e;
    const cl::NDRange global = pool_rows_ ? cl::NDRange(oh, c * batch) : cl::NDRange(detail::round_up(oh * ow, 16), c * batch);
    detail::check(q.enqueueNDRangeKernel(pool_, cl::NullRange, global, cl::NullRange, nullptr, &e),
                  "clEnqueueNDRangeKernel(gapp_maxpool2)");
    return e;
  }

  /// C × B × H × W between the plain and the padded layout (`to_padded`: plain → padded,
  /// whose border is not written; else padded → plain).
  cl::Event repad(const cl::CommandQueue& q, const cl::Buffer& in, const cl::Buffer& out, std::size_t c,
                  std::size_t batch, std::size_t h, std::size_t w, bool to_padded) {
    const std::size_t ip = to_padded ? 0 : 2, op = to_padded ? 2 : 0;
    check_size(in, c * batch * (h + ip) * (w + ip), "repad: input");
    check_size(out, c * batch * (h + op) * (w + op), "repad: output");
    std::lock_guard<std::mutex> lock(mutex_);
    detail::set_args(repad_, static_cast<int>(c * batch), static_cast<int>(h), static_cast<int>(w),
                     static_cast<int>(!to_padded), static_cast<int>(to_padded), in, out);
    cl::Event e;
    detail::check(q.enqueueNDRangeKernel(repad_, cl::NullRange, cl::NDRange(detail::round_up(h * w, 16), c * batch),
                                         cl::NullRange, nullptr, &e),
                  "clEnqueueNDRangeKernel(gapp_repad)");
    return e;
  }

  /// in: C × B × (HW) → out: (C·HW) × B, the input matrix of a fully connected GEMM.
  cl::Event flatten(const cl::CommandQueue& q, const cl::Buffer& in, const cl::Buffer& out, std::size_t c,
                    std::size_t batch, std::size_t hw) {
    std::lock_guard<std::mutex> lock(mutex_);
    detail::set_args(flatten_, static_cast<int>(c), static_cast<int>(batch), static_cast<int>(hw), in, out);
    cl::Event e;
    detail::check(q.enqueueNDRangeKernel(flatten_, cl::NullRange, cl::NDRange(detail::round_up(c * hw, 64), batch),
                                         cl::NullRange, nullptr, &e),
                  "clEnqueueNDRangeKernel(gapp_flatten)");
    return e;
  }

private:
  static void check_size(const cl::Buffer& b, std::size_t floats, const char* what) {
    std::size_t bytes = 0;
    detail::check(b.getInfo(CL_MEM_SIZE, &bytes), "clGetMemObjectInfo");
    if (bytes < floats * 4)
      throw shape_error(std::string(what) + " buffer holds " + std::to_string(bytes / 4) + " floats, needs " +
                        std::to_string(floats));
  }
  cl::Kernel pool_, flatten_, repad_;
  bool pool_rows_ = false;
  std::mutex mutex_;
};

} // namespace gapp::opencl
