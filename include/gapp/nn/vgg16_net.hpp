// gapp/nn/vgg16_net.hpp — a whole VGG16 forward pass on an OpenCL device, every weight
// layer pruned with one technique (or with fixed masks), packed, and run through the
// matching gapp kernel. An application of the runtime: it lives above it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../opencl/conv_op.hpp"
#include "../opencl/gemm_op.hpp"
#include "recipe.hpp"
#include "vgg16.hpp"

namespace gapp::nn {

/// VGG16 on the device. Activations live on the device in CNHW order; every conv is a GEMM
/// with bias and ReLU fused, reading the activations directly (implicit) or after im2col;
/// pools and the flatten before the classifier are small kernels; the logits come back to
/// the host.
template <class P>
class vgg16_net {
public:
  struct options {
    gapp::technique tech; ///< dense unless set
    double sparsity = 0.0;
    bool prune_first_conv = false; ///< conv1_1 (K = 27, 0.1% of the weights) stays dense unless set
    bool global = false;           ///< one sparsity over all pruned layers (prune_global) instead of per layer
    std::size_t batch = 1;
    /// Convolutions as implicit GEMMs (the GEMM reads the activations, no im2col) where the
    /// policy's family can: the direct family, every technique but element-wise and N:M.
    bool implicit_conv = true;
    /// With implicit_conv: the activations between convolutions are kept in the padded
    /// layout (a zero border around each image, kernels::gemm_config::padded), which the
    /// convolutions read as plain shifted rows and write for the next layer, and the pools
    /// read and write too. Every convolution whose plan can (the implicit ones but the
    /// filter technique's) runs that way; the others run in the plain layout, with a copy
    /// between the layouts where they meet. Off: the plain layout everywhere.
    bool padded = true;
    /// With implicit_conv: the first forward pass runs each convolution that can be implicit
    /// both ways — implicit GEMM and im2col + GEMM, three times each, interleaved — and keeps
    /// the faster on this device for the passes after it (lowerings() says which and why).
    /// Which wins depends on the CPU and the layer: on an AMD EPYC (Zen 5) im2col + GEMM won
    /// on most VGG16-224 layers, on small images with few channels the implicit GEMM did.
    bool choose_lowering = true;
    /// Column tiles per work-group of every GEMM (opencl::gemm_options::tiles_per_group; 0:
    /// chosen per launch).
    std::size_t tiles_per_group = 0;
    std::function<void(const std::string&)> progress; ///< called as each layer is prepared
    /// Keep-masks fixed elsewhere (e.g. gapp-prune's files after fine-tuning), one entry per
    /// layer, each gemm_rows × gemm_cols (1 = kept) or empty for a layer that runs dense.
    /// When given, `tech` only chooses the packed format and kernels; nothing is re-selected.
    std::vector<std::vector<std::uint8_t>> masks;
    /// Per-layer techniques and sparsities (an advisor's plan), one entry per layer; when
    /// given they replace `tech` and `sparsity` (a dense entry runs the layer dense; a sparse
    /// layer whose `masks` entry is empty, or with no `masks`, is pruned at its sparsity).
    std::vector<gapp::technique> layer_techs;
    std::vector<double> layer_sparsity;
  };

  vgg16_net(const cl::Context& ctx, const cl::Device& dev, opencl::program_cache& cache, const vgg16_weights& w,
            options opt)
      : ctx_(ctx), cfg_(w.config), layers_(w.layers), batch_(opt.batch), layer_kernels_(ctx, dev, cache) {
    if (opt.batch == 0) throw invalid_argument("vgg16_net: batch must be at least 1");
    if (w.params.size() != w.layers.size()) throw shape_error("vgg16_net: weights do not match the layer list");
    std::vector<std::vector<std::uint8_t>> keeps(layers_.size());
    const bool per_layer = !opt.layer_techs.empty();
    if (per_layer) {
      if (opt.layer_techs.size() != layers_.size() || opt.layer_sparsity.size() != layers_.size())
        throw shape_error("vgg16_net: " + std::to_string(opt.layer_techs.size()) + " layer techniques and " +
                          std::to_string(opt.layer_sparsity.size()) + " sparsities for " +
                          std::to_string(layers_.size()) + " layers");
      if (opt.global) throw invalid_argument("vgg16_net: per-layer techniques and global selection exclude each other");
    }
    auto tech_of = [&](std::size_t i) -> const gapp::technique& { return per_layer ? opt.layer_techs[i] : opt.tech; };
    if (!opt.masks.empty()) {
      if (opt.masks.size() != layers_.size())
        throw shape_error("vgg16_net: " + std::to_string(opt.masks.size()) + " masks for " +
                          std::to_string(layers_.size()) + " layers");
      if (opt.global) throw invalid_argument("vgg16_net: masks and global selection exclude each other");
      if (!per_layer && opt.tech.dense()) throw invalid_argument("vgg16_net: masks need a sparse technique, not dense");
      for (std::size_t i = 0; i < layers_.size(); ++i) {
        if (per_layer && !opt.masks[i].empty() && opt.layer_techs[i].dense())
          throw invalid_argument("vgg16_net: layer " + layers_[i].name + " has a mask but runs dense");
        if (!opt.masks[i].empty() && opt.masks[i].size() != layers_[i].shape.size())
          throw shape_error("vgg16_net: the mask of " + layers_[i].name + " has " +
                            std::to_string(opt.masks[i].size()) + " values, the layer " +
                            std::to_string(layers_[i].shape.size()) + " weights");
      }
      keeps = opt.masks;
    }
    if (opt.global && !opt.tech.dense()) {
      std::vector<global_layer> gl;
      std::vector<std::size_t> index;
      for (std::size_t i = 0; i < layers_.size(); ++i) {
        if (i == 0 && !opt.prune_first_conv) continue;
        const auto& l = layers_[i];
        global_layer g{matrix_view(w.params[i].weight.data(), l.shape.gemm_rows(), l.shape.gemm_cols())};
        g.kernel_area = static_cast<int>(l.shape.kernel_area());
        gl.push_back(g);
        index.push_back(i);
      }
      auto masks = global_masks<P>(gl, opt.tech, opt.sparsity);
      for (std::size_t j = 0; j < index.size(); ++j) keeps[index[j]] = std::move(masks[j]);
    }
    std::size_t max_act = cfg_.in_channels * cfg_.input * cfg_.input, max_col = 1;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const auto& l = layers_[i];
      if (opt.progress) opt.progress(l.display);
      opencl::gemm_options go;
      go.epi = {true, l.relu};
      go.bias = w.params[i].bias;
      // N = batch × pixels: at most narrow_max_n (small images, deep layers, small batches)
      // makes a GEMV, which runs as im2col + the narrow kernel (the implicit kernels have none)
      const bool tiny = l.conv && batch_ * l.in_size * l.in_size <= kernels::narrow_max_n;
      if (l.conv && opt.implicit_conv && !tiny) {
        go.implicit_kh = static_cast<int>(l.shape.kernel_h), go.implicit_kw = static_cast<int>(l.shape.kernel_w);
        go.padded = opt.padded && l.shape.kernel_h <= 3 && l.shape.kernel_w <= 3;
      }
      go.narrow = !l.conv || tiny;
      go.tiles_per_group = opt.tiles_per_group;
      // per layer: a sparse layer without a mask is pruned here, at its sparsity
      const bool keep_dense = per_layer           ? opt.layer_techs[i].dense()
                              : opt.masks.empty() ? l.conv && i == 0 && !opt.prune_first_conv
                                                  : opt.masks[i].empty();
      const matrix_view wv(w.params[i].weight.data(), l.shape.gemm_rows(), l.shape.gemm_cols());
      auto pg = in_layer(l, [&] {
        return make_pruned_gemm<P>(ctx, dev, cache, wv, keep_dense ? gapp::technique{} : tech_of(i),
                                   per_layer ? opt.layer_sparsity[i] : opt.sparsity,
                                   l.shape.kernel_area(), go, keeps[i].empty() ? nullptr : &keeps[i]);
      });
      total_ += wv.size();
      kept_ += pg.kept;
      for (std::size_t k = 0; k < wv.size(); ++k) {
        all_l2_ += static_cast<double>(wv.data[k]) * wv.data[k];
        kept_l2_ += static_cast<double>(pg.masked[k]) * pg.masked[k];
      }
      effective_.push_back({std::move(pg.masked), w.params[i].bias});
      if (l.conv) {
        convs_.push_back(std::make_unique<opencl::conv2d_op<P>>(ctx, dev, cache, l.shape, std::move(pg.op), opencl::conv_geometry{1, 1}));
        ops_.push_back(nullptr);
        const std::size_t n = batch_ * l.in_size * l.in_size;
        if (!convs_.back()->implicit() || (opt.choose_lowering && convs_.back()->can_run_implicit()))
          max_col = std::max(max_col, l.shape.gemm_cols() * n);
        max_act = std::max(max_act, l.shape.out_channels * n);
      } else {
        convs_.push_back(nullptr);
        ops_.push_back(std::move(pg.op));
        max_act = std::max(max_act, std::max(l.shape.in_channels, l.shape.out_channels) * batch_);
      }
    }
    a_ = buffer(max_act);
    b_ = buffer(max_act);
    col_ = buffer(max_col);
    lowerings_.resize(layers_.size());
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (!convs_[i]) continue;
      lowerings_[i].implicit = convs_[i]->implicit();
      lowerings_[i].padded = convs_[i]->padded();
      lowerings_[i].pending = opt.choose_lowering && convs_[i]->can_run_implicit();
    }
    // the padded activations: a pair of buffers per shape, zeroed once; every kernel that
    // writes one writes only its interior (or 0 on its border), so the border stays zero
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (!convs_[i] || !convs_[i]->padded()) continue;
      const auto& l = layers_[i];
      make_padded_pair(l.shape.in_channels, l.in_size);
      make_padded_pair(l.shape.out_channels, l.in_size);
      if (l.pool && i + 1 < layers_.size() && convs_[i + 1] && convs_[i + 1]->padded())
        make_padded_pair(l.shape.out_channels, l.in_size / 2);
    }
    if (!pads_.empty()) {
      cl::CommandQueue q(ctx, dev);
      const float zero = 0.0f;
      for (auto& [key, pair] : pads_)
        for (cl::Buffer& b : pair)
          opencl::detail::check(q.enqueueFillBuffer(b, zero, 0, padded_floats(key.first, key.second) * 4), "clEnqueueFillBuffer");
      opencl::detail::check(q.finish(), "clFinish");
    }
  }

  /// How a layer's convolution runs: implicit GEMM or im2col + GEMM, and, where the net chose
  /// by measuring (options::choose_lowering), the median wall time of each way in ms.
  struct lowering {
    bool implicit = false;
    bool padded = false;  ///< implicit, input and output in the padded layout (never measured: no im2col way)
    bool measured = false;
    double implicit_ms = 0, im2col_ms = 0;
    bool pending = false; ///< not measured yet (before the first forward pass)
  };
  /// One entry per layer (fully connected layers: implicit false, not measured).
  const std::vector<lowering>& lowerings() const { return lowerings_; }

  /// Logits (batch × classes, row-major) for an NCHW input batch.
  std::vector<float> forward(const cl::CommandQueue& q, const tensor4& input) {
    if (input.n != batch_ || input.c != cfg_.in_channels || input.h != cfg_.input || input.w != cfg_.input)
      throw shape_error("vgg16_net: input must be " + std::to_string(batch_) + " x " + std::to_string(cfg_.in_channels) +
                        " x " + std::to_string(cfg_.input) + " x " + std::to_string(cfg_.input));
    std::lock_guard<std::mutex> lock(mutex_);
    events_.clear();
    const std::size_t S = cfg_.input, C = cfg_.in_channels, B = batch_;
    // the input in the layout the first layer reads (padded: a zero border around each image)
    const bool pad0 = convs_[0] && convs_[0]->padded();
    const std::size_t P0 = pad0 ? S + 2 : S, o0 = pad0 ? 1 : 0;
    std::vector<float> cnhw(C * B * P0 * P0, 0.0f);
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t y = 0; y < S; ++y)
          std::copy_n(&input.data[((b * C + c) * S + y) * S], S, &cnhw[((c * B + b) * P0 + y + o0) * P0 + o0]);
    cl::Buffer* in = pad0 ? &padded_pair(C, S)[0] : &a_;
    opencl::detail::check(q.enqueueWriteBuffer(*in, CL_FALSE, 0, cnhw.size() * 4, cnhw.data()), "clEnqueueWriteBuffer");
    bool in_padded = pad0;
    // the buffer a layer writes: a plain one, or the padded one of its shape, other than `in`
    auto target = [&](bool padded, std::size_t c, std::size_t size) -> cl::Buffer* {
      if (!padded) return in == &a_ ? &b_ : &a_;
      auto& pair = padded_pair(c, size);
      return in == &pair[0] ? &pair[1] : &pair[0];
    };
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const auto& l = layers_[i];
      const std::string& name = l.display;
      const bool pad = convs_[i] && convs_[i]->padded();
      if (pad != in_padded) { // a layer in the other layout: copy between them
        const std::size_t c = l.shape.in_channels;
        cl::Buffer* to = target(pad, c, l.in_size);
        events_.push_back({name + " repad", layer_kernels_.repad(q, *in, *to, c, B, l.in_size, l.in_size, pad)});
        in = to, in_padded = pad;
      }
      if (l.conv) {
        if (lowerings_[i].pending) choose_lowering(q, i, *in, *target(false, 0, 0));
        cl::Buffer* out = target(pad, l.shape.out_channels, l.in_size);
        cl::Event e_col;
        cl::Event e_gemm = convs_[i]->enqueue(q, *in, *out, B, l.in_size, l.in_size, col_, nullptr, &e_col);
        if (e_col() != nullptr) events_.push_back({name + " im2col", e_col}); // none when implicit
        events_.push_back({name + " gemm", e_gemm});
        in = out;
        std::size_t hw = l.in_size * l.in_size;
        if (l.pool) { // written in the layout of the layer after it
          const bool next_pad = i + 1 < layers_.size() && convs_[i + 1] && convs_[i + 1]->padded();
          cl::Buffer* to = target(next_pad, l.shape.out_channels, l.in_size / 2);
          events_.push_back({name + " pool", layer_kernels_.maxpool2(q, *in, *to, l.shape.out_channels, B, l.in_size,
                                                                     l.in_size, in_padded, next_pad)});
          in = to, in_padded = next_pad;
          hw /= 4;
        }
        if (B > 1 && i + 1 < layers_.size() && !layers_[i + 1].conv) {
          if (in_padded) { // (a network whose last convolution has no pool)
            cl::Buffer* to = target(false, 0, 0);
            const std::size_t s = l.pool ? l.in_size / 2 : l.in_size;
            events_.push_back({name + " repad", layer_kernels_.repad(q, *in, *to, l.shape.out_channels, B, s, s, false)});
            in = to, in_padded = false;
          }
          cl::Buffer* to = target(false, 0, 0);
          events_.push_back({name + " flatten", layer_kernels_.flatten(q, *in, *to, l.shape.out_channels, B, hw)});
          in = to;
        }
      } else {
        cl::Buffer* out = target(false, 0, 0);
        events_.push_back({name + " gemm", ops_[i]->enqueue(q, *in, *out, B)});
        in = out;
      }
    }
    std::vector<float> y(cfg_.classes * B), logits(cfg_.classes * B);
    opencl::detail::check(q.enqueueReadBuffer(*in, CL_TRUE, 0, y.size() * 4, y.data()), "clEnqueueReadBuffer");
    for (std::size_t c = 0; c < cfg_.classes; ++c)
      for (std::size_t b = 0; b < B; ++b) logits[b * cfg_.classes + c] = y[c * B + b];
    return logits;
  }

  /// Device time of each kernel of the last forward pass, in ms, when the queue it ran on
  /// has CL_QUEUE_PROFILING_ENABLE (else empty): conv1_1 im2col, conv1_1 gemm, …, fc8 gemm.
  std::vector<std::pair<std::string, double>> last_profile() const {
    std::vector<std::pair<std::string, double>> out;
    for (const auto& [name, e] : events_) {
      cl_ulong a = 0, b = 0;
      if (e.getProfilingInfo(CL_PROFILING_COMMAND_START, &a) != CL_SUCCESS ||
          e.getProfilingInfo(CL_PROFILING_COMMAND_END, &b) != CL_SUCCESS)
        return {};
      out.emplace_back(name, static_cast<double>(b - a) * 1e-6);
    }
    return out;
  }

  /// The weights the network computes with (removed weights are 0), for the host reference.
  const std::vector<layer_params>& effective_params() const { return effective_; }
  /// Share of removed weights over all 16 layers.
  double sparsity() const { return 1.0 - static_cast<double>(kept_) / static_cast<double>(total_); }
  /// ‖kept weights‖₂ / ‖all weights‖₂ over all layers.
  double kept_l2_fraction() const { return all_l2_ > 0 ? std::sqrt(kept_l2_ / all_l2_) : 1.0; }
  /// Kernel variant of each layer.
  std::vector<std::string> variants() const {
    std::vector<std::string> v;
    for (std::size_t i = 0; i < ops_.size(); ++i) v.push_back(ops_[i] ? ops_[i]->variant() : convs_[i]->gemm().variant());
    return v;
  }

  /// The network's layers (names, shapes) as the description gave them.
  const std::vector<vgg16_layer>& layers() const { return layers_; }

private:
  /// Times conv layer i both ways on the queue and keeps the faster (conv2d_op::choose_lowering).
  void choose_lowering(const cl::CommandQueue& q, std::size_t i, const cl::Buffer& in, const cl::Buffer& out) {
    const auto t = convs_[i]->choose_lowering(q, in, out, batch_, layers_[i].in_size, layers_[i].in_size, col_);
    lowering& lw = lowerings_[i];
    lw.implicit_ms = t.implicit_ms, lw.im2col_ms = t.im2col_ms;
    lw.implicit = convs_[i]->implicit();
    lw.measured = true, lw.pending = false;
  }

  /// Runs f; an error it throws is thrown again, of the same type, with the layer named.
  template <class F>
  static auto in_layer(const vgg16_layer& l, F&& f) -> decltype(f()) {
    const std::string where = "layer " + l.display + " (" + l.name + "): ";
    try {
      return f();
    } catch (const format_error& e) {
      throw format_error(e.field(), where + e.what());
    } catch (const shape_error& e) {
      throw shape_error(where + e.what());
    } catch (const value_error& e) {
      throw value_error(where + e.what());
    } catch (const invalid_argument& e) {
      throw invalid_argument(where + e.what());
    } catch (const policy_error& e) {
      throw policy_error(where + e.what());
    }
  }

  std::size_t padded_floats(std::size_t c, std::size_t size) const { return c * kernels::padded_layout(batch_, size, size).plane; }
  /// The two padded activation buffers of c channels of size × size images (made by the
  /// constructor, which zeroes them).
  std::array<cl::Buffer, 2>& padded_pair(std::size_t c, std::size_t size) { return pads_.at({c, size}); }
  void make_padded_pair(std::size_t c, std::size_t size) {
    if (pads_.count({c, size}) == 0)
      pads_.emplace(std::make_pair(c, size), std::array<cl::Buffer, 2>{buffer(padded_floats(c, size)), buffer(padded_floats(c, size))});
  }

  cl::Buffer buffer(std::size_t floats) {
    // some drivers accept any size here and fail only at the first launch: check first
    cl_ulong max_alloc = 0;
    for (const cl::Device& d : ctx_.getInfo<CL_CONTEXT_DEVICES>()) {
      cl_ulong m = 0;
      if (d.getInfo(CL_DEVICE_MAX_MEM_ALLOC_SIZE, &m) == CL_SUCCESS && (max_alloc == 0 || m < max_alloc)) max_alloc = m;
    }
    if (max_alloc != 0 && (floats > max_alloc / 4))
      throw opencl::opencl_error(CL_INVALID_BUFFER_SIZE, "clCreateBuffer of " + std::to_string(floats) +
                                                     " floats: more than the device allocates at once (" +
                                                     std::to_string(max_alloc) + " bytes)");
    cl_int err = CL_SUCCESS;
    cl::Buffer b(ctx_, CL_MEM_READ_WRITE, floats * 4, nullptr, &err);
    opencl::detail::check(err, ("clCreateBuffer of " + std::to_string(floats * 4) + " bytes").c_str());
    return b;
  }

  cl::Context ctx_;
  vgg16_config cfg_;
  std::vector<vgg16_layer> layers_;
  std::size_t batch_;
  opencl::layer_kernels layer_kernels_;
  std::vector<std::unique_ptr<opencl::conv2d_op<P>>> convs_;
  std::vector<std::unique_ptr<opencl::gemm_op<P>>> ops_;
  std::vector<layer_params> effective_;
  cl::Buffer a_, b_, col_;
  std::map<std::pair<std::size_t, std::size_t>, std::array<cl::Buffer, 2>> pads_; ///< padded activations by (channels, size)
  std::size_t total_ = 0, kept_ = 0;
  double all_l2_ = 0, kept_l2_ = 0;
  std::vector<std::pair<std::string, cl::Event>> events_;
  std::vector<lowering> lowerings_;
  std::mutex mutex_;
};

} // namespace gapp::nn
