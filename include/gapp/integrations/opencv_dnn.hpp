// gapp/integrations/opencv_dnn.hpp — gapp's pruned GEMMs as the convolution and fully
// connected layers of OpenCV's DNN module (cv::dnn, OpenCV ≥ 4.5): a network read from an
// ONNX file runs its covered layers on an OpenCL device with gapp's kernels and everything
// else (pooling, batch norms it cannot fold, additions, ...) with OpenCV.
//
// Not included by any core header; needs OpenCV's dnn and core libraries.
//
//   gapp::integrations::opencv_dnn::options opt;
//   opt.tech = gapp::parse_technique("simd"), opt.sparsity = 0.75;     // or opt.mask_dir
//   gapp::integrations::opencv_dnn::gapp_layers<gapp::presets::cpu_avx512> layers(ctx, dev, queue, opt);
//   cv::dnn::Net net = gapp::integrations::opencv_dnn::read_onnx("model.onnx", layers);
//   net.setInput(blob);
//   cv::Mat y = net.forward();            // layers.records(): what ran where, and why
//
// While a gapp_layers object lives, every "Convolution" and "InnerProduct" layer OpenCV
// creates is gapp's when gapp covers it (2-D convolution, groups 1, dilation 1, symmetric
// padding, any stride; fully connected with constant weights; float32), and OpenCV's own
// otherwise (recorded with the reason). Weights are pruned (or masked) when the layer is
// created, batch norms and ReLUs that follow are folded in by OpenCV's layer fusion, and the
// packed weights are uploaded once, at the first forward pass. Each forward call of a layer
// copies its input to the device and its output back (OpenCV hands layers host cv::Mats):
// records() counts those bytes and times them beside the kernels.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/dnn/all_layers.hpp>
#include <opencv2/dnn/shape_utils.hpp>

#include "../error.hpp"
#include "../io/npy.hpp"
#include "../nn/recipe.hpp"
#include "../opencl/conv_op.hpp"
#include "../opencl/device.hpp"
#include "../prune/mask_file.hpp"

namespace gapp::integrations::opencv_dnn {

/// A weight layer as the integration sees it when it is created.
struct layer_info {
  std::string name;        ///< OpenCV's layer name ("onnx_node!/conv1/Conv" for ONNX)
  std::string weight_name; ///< the ONNX initializer holding its weights ("conv1.weight"), if known
  bool conv = false;
  std::size_t rows = 0, cols = 0; ///< the GEMM: out channels × in channels·kh·kw, or outputs × inputs
};

/// What runs a layer gapp covers (options::run_on).
enum class engine {
  gapp,    ///< gapp's kernels on the OpenCL device (the default)
  fastest, ///< timed both ways at the layer's first call; the faster runs the calls after it
  opencv,  ///< OpenCV's own implementation on gapp's masked (and fused) weights, on the host
};

struct options {
  technique tech;        ///< dense unless set: the technique pruning uses, or that masks were made with
  double sparsity = 0.0; ///< pruning on load (no mask_dir): each layer at this sparsity
  criterion crit = criterion::l1;
  /// gapp-prune masks (and their .json metadata), one per layer, looked up by the layer's
  /// weight initializer name, then by its layer name: NAME.npy, or STEM.mask.npy for a
  /// NAME of STEM.weight; characters other than letters, digits, '.', '-' and '_' are
  /// replaced by '_'. A layer without a mask runs dense. Empty: prune on load.
  std::string mask_dir;
  /// Layer name → ONNX initializer name of its weights, for matching masks (onnx_weight_names;
  /// read_onnx fills it).
  std::map<std::string, std::string> weight_names;
  /// Layers to leave dense (e.g. a first convolution with few input channels); none by default.
  std::function<bool(const layer_info&)> keep_dense;
  /// Policy name recorded in and checked against mask metadata; P::name when empty.
  std::string policy_name;
  /// Use implicit-GEMM convolutions where the policy's family can (stride 1, "same" padding).
  bool implicit_conv = true;
  /// With implicit_conv: a convolution's first forward call runs it both ways — implicit GEMM
  /// and im2col + GEMM, one warm-up and three interleaved rounds each, medians of wall time —
  /// and the calls after it run the faster (which wins depends on the CPU and the layer, see
  /// docs/nn.md); layer_record says which and both times.
  bool choose_lowering = true;
  /// With implicit_conv: stride-1 "same" convolutions of kernels up to 3×3 run over a padded
  /// copy of their input (a zero border of one pixel around each image, written as the input
  /// goes to the device; kernels::padded_layout), reading each shifted row at a constant
  /// offset instead of masking the image's edges lane by lane, and write a padded output whose
  /// interior comes back. Such a convolution has no im2col way to choose. Off: the plain
  /// layout (implicit GEMM or im2col + GEMM, as choose_lowering picks).
  bool padded = true;
  /// What runs each covered layer. engine::opencv runs OpenCV's own convolution or fully
  /// connected layer on the weights gapp would run (masked, batch norm folded in, the fused
  /// ReLU applied after it): the reference a pruned network's results are checked against
  /// and the baseline its speed is measured against. engine::fastest times both at a layer's
  /// first forward call (one warm-up and three interleaved rounds each, medians of wall time,
  /// copies included) and runs the faster from then on: on a CPU device a layer with little
  /// work (a fully connected layer at batch 1, a first convolution of one channel) costs more
  /// in the launch and the copies than OpenCV's own takes (docs/performance.md). The choice
  /// holds for later calls of other shapes; a fusion that changes the weights times again.
  engine run_on = engine::gapp;
};

/// What happened to one layer, and what its forward calls cost.
struct layer_record {
  layer_info info;
  bool on_gapp = false;   ///< false: OpenCV's own implementation runs it
  std::string reason;     ///< why it fell back to OpenCV
  std::string technique;  ///< "dense", "simd", ...
  std::string mask;       ///< the mask file used, "pruned on load", or "" (dense)
  double sparsity = 0.0;  ///< achieved: removed weights / weights
  /// The keep-mask (1 = kept) over the weights as the model holds them (before any batch norm
  /// is folded in); null when the layer runs dense.
  std::shared_ptr<const std::vector<std::uint8_t>> keep;
  bool fused_batch_norm = false, fused_relu = false, implicit = false;
  bool padded = false; ///< the convolution runs over padded activations (options::padded)
  /// The last call ran the narrow kernel (a GEMM of at most kernels::narrow_max_n columns:
  /// a fully connected layer at batch 1 to 4, a convolution whose batch of output images
  /// holds that few pixels in all).
  bool narrow = false;
  /// The convolution was timed both ways at its first call (options::choose_lowering):
  /// medians in ms; `implicit` is the way it runs since.
  bool lowering_measured = false;
  double implicit_ms = 0.0, im2col_ms = 0.0;
  /// The layer's calls run OpenCV's own implementation on gapp's masked and fused weights
  /// (options::run_on): always with engine::opencv, where it was faster with engine::fastest,
  /// whose first call timed both (`engine_measured`; medians in ms). `opencv_calls` counts
  /// those calls; the counters below count the calls on the device.
  bool runs_opencv = false, engine_measured = false;
  double gapp_ms = 0.0, opencv_ms = 0.0;
  std::size_t opencv_calls = 0;
  std::size_t calls = 0;
  std::size_t bytes_to_device = 0, bytes_from_device = 0; ///< the activations' values copied (no borders)
  /// Host wall time of the calls on the device: from the input's copy enqueued to the output
  /// on the host (copies, reorders and kernels).
  double wall_ms = 0.0;
  /// Of wall_ms, the copy commands' own time on the device (their events' start to end),
  /// when the queue was made with CL_QUEUE_PROFILING_ENABLE (copies_timed); 0 otherwise.
  double copy_ms = 0.0;
  bool copies_timed = false;
};

namespace detail {

template <class P, class = void>
struct has_name : std::false_type {};
template <class P>
struct has_name<P, std::void_t<decltype(P::name)>> : std::true_type {};

inline std::string file_safe(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) c = '_';
  return out;
}

// ---- a minimal protobuf reader: enough of ONNX's ModelProto to name each node's weights
struct pb_reader {
  const std::uint8_t* p;
  const std::uint8_t* end;
  const std::string& origin;

  [[noreturn]] void fail(const std::string& what) const { throw file_error(origin + ": not a valid ONNX file (" + what + ")"); }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) fail("truncated varint");
      const std::uint8_t b = *p++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  // calls f(field, wire, begin, end) for each field; length-delimited fields get their bytes
  template <class F>
  void fields(F&& f) {
    while (p < end) {
      const std::uint64_t key = varint();
      const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
      const std::uint8_t* b = p;
      switch (wire) {
      case 0: varint(); break;
      case 1: if (end - p < 8) fail("truncated 64-bit field"); p += 8; break;
      case 5: if (end - p < 4) fail("truncated 32-bit field"); p += 4; break;
      case 2: {
        const std::uint64_t n = varint();
        if (n > static_cast<std::uint64_t>(end - p)) fail("a field runs past the end of the file");
        b = p;
        p += n;
        break;
      }
      default: fail("wire type " + std::to_string(wire));
      }
      f(field, wire, b, p);
    }
  }
};

/// A model file's bytes (npy::detail::read_file: a regular file, typed errors naming it).
inline std::string read_model_file(const std::string& path) {
  const std::vector<unsigned char> bytes = npy::detail::read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

} // namespace detail

/// Layer name → initializer name of the weights (the node's second input) of every Conv, Gemm
/// and MatMul node of an ONNX model's bytes; layer names as OpenCV gives them ("onnx_node!" +
/// node name) and the node's first output name. gapp::file_error naming `origin` (the file)
/// for malformed bytes.
inline std::map<std::string, std::string> onnx_weight_names(std::string_view bytes, const std::string& origin) {
  const std::string& path = origin;
  std::map<std::string, std::string> out;
  auto u8 = reinterpret_cast<const std::uint8_t*>(bytes.data());
  detail::pb_reader model{u8, u8 + bytes.size(), path};
  bool graph_seen = false;
  model.fields([&](int field, int wire, const std::uint8_t* b, const std::uint8_t* e) {
    if (field != 7 || wire != 2) return; // ModelProto.graph
    graph_seen = true;
    detail::pb_reader graph{b, e, path};
    graph.fields([&](int gf, int gw, const std::uint8_t* nb, const std::uint8_t* ne) {
      if (gf != 1 || gw != 2) return; // GraphProto.node
      std::vector<std::string> inputs, outputs;
      std::string name, op;
      detail::pb_reader node{nb, ne, path};
      node.fields([&](int nf, int nw, const std::uint8_t* sb, const std::uint8_t* se) {
        if (nw != 2) return;
        const std::string s(reinterpret_cast<const char*>(sb), static_cast<std::size_t>(se - sb));
        if (nf == 1) inputs.push_back(s);
        else if (nf == 2) outputs.push_back(s);
        else if (nf == 3) name = s;
        else if (nf == 4) op = s;
      });
      if ((op == "Conv" || op == "Gemm" || op == "MatMul") && inputs.size() >= 2) {
        if (!name.empty()) out["onnx_node!" + name] = inputs[1];
        if (!outputs.empty()) out[outputs[0]] = inputs[1];
      }
    });
  });
  if (!graph_seen) throw file_error(path + ": not a valid ONNX file (no graph)");
  return out;
}

/// The same, of an ONNX file; gapp::file_error also for a file that cannot be read.
inline std::map<std::string, std::string> onnx_weight_names(const std::string& path) {
  return onnx_weight_names(detail::read_model_file(path), path);
}

/// The shape of an ONNX model's first graph input that is not an initializer (e.g. {1, 3, 224,
/// 224}), from the model's bytes; a symbolic dimension (a batch named "N") reads as 0.
/// gapp::file_error naming `origin` (the file) for malformed bytes or a model without inputs.
inline std::vector<std::int64_t> onnx_input_shape(std::string_view bytes, const std::string& origin) {
  const std::string& path = origin;
  auto u8 = reinterpret_cast<const std::uint8_t*>(bytes.data());
  using span = std::pair<const std::uint8_t*, const std::uint8_t*>;
  // the first length-delimited field `field` of a message
  auto sub = [&](span m, int field) -> std::optional<span> {
    std::optional<span> out;
    detail::pb_reader r{m.first, m.second, path};
    r.fields([&](int fl, int w, const std::uint8_t* b, const std::uint8_t* e) {
      if (!out && fl == field && w == 2) out = span{b, e};
    });
    return out;
  };
  std::vector<span> inputs;
  std::set<std::string> initializers;
  auto graph = sub({u8, u8 + bytes.size()}, 7);
  if (!graph) throw file_error(path + ": not a valid ONNX file (no graph)");
  auto name_of = [&](span m) {
    auto n = sub(m, 1); // ValueInfoProto.name / TensorProto... (field 8 for TensorProto)
    return n ? std::string(reinterpret_cast<const char*>(n->first), static_cast<std::size_t>(n->second - n->first)) : std::string();
  };
  detail::pb_reader g{graph->first, graph->second, path};
  g.fields([&](int fl, int w, const std::uint8_t* b, const std::uint8_t* e) {
    if (w != 2) return;
    if (fl == 11) inputs.push_back({b, e});
    if (fl == 5) {
      auto n = sub({b, e}, 8);
      if (n) initializers.insert(std::string(reinterpret_cast<const char*>(n->first), static_cast<std::size_t>(n->second - n->first)));
    }
  });
  for (const span& in : inputs) {
    if (initializers.count(name_of(in))) continue;
    std::vector<std::int64_t> shape;
    auto type = sub(in, 2);
    auto tensor = type ? sub(*type, 1) : std::nullopt;
    auto tshape = tensor ? sub(*tensor, 2) : std::nullopt;
    if (!tshape) throw file_error(path + ": the first input has no tensor shape");
    detail::pb_reader dims{tshape->first, tshape->second, path};
    dims.fields([&](int fl, int w, const std::uint8_t* b, const std::uint8_t* e) {
      if (fl != 1 || w != 2) return;
      std::int64_t v = 0;
      detail::pb_reader d{b, e, path};
      d.fields([&](int df, int dw, const std::uint8_t* vb, const std::uint8_t* ve) {
        if (df == 1 && dw == 0) {
          detail::pb_reader num{vb, ve, path};
          v = static_cast<std::int64_t>(num.varint());
        }
      });
      shape.push_back(v);
    });
    return shape;
  }
  throw file_error(path + ": the model has no input");
}

/// The same, of an ONNX file; gapp::file_error also for a file that cannot be read.
inline std::vector<std::int64_t> onnx_input_shape(const std::string& path) {
  return onnx_input_shape(detail::read_model_file(path), path);
}

template <class P>
class gapp_layers;

namespace detail {

template <class P>
struct state {
  state(const cl::Context& c, const cl::Device& d, const cl::CommandQueue& q, options o)
      : ctx(c), dev(d), queue(q), opt(std::move(o)) {}
  cl::Context ctx;
  cl::Device dev;
  cl::CommandQueue queue;
  opencl::program_cache cache;
  options opt;
  std::string policy;
  bool profiling = false; ///< the queue times its commands (CL_QUEUE_PROFILING_ENABLE)
  std::mutex mutex;
  std::vector<std::shared_ptr<layer_record>> records;
  std::set<std::string> used_masks;

  std::shared_ptr<layer_record> add(layer_record r) {
    auto p = std::make_shared<layer_record>(std::move(r));
    std::lock_guard<std::mutex> lock(mutex);
    records.push_back(p);
    return p;
  }
};

template <class P>
std::shared_ptr<state<P>>& active() {
  static std::shared_ptr<state<P>> s;
  return s;
}

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

inline std::vector<std::size_t> shape_of(const cv::Mat& m) {
  std::vector<std::size_t> s;
  for (int i = 0; i < m.dims; ++i) s.push_back(static_cast<std::size_t>(m.size[i]));
  return s;
}

inline std::string shape_text(const cv::dnn::MatShape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? " x " : "") + std::to_string(s[i]);
  return out + "]";
}

inline std::size_t total_from(const cv::dnn::MatShape& s, int axis) {
  std::size_t n = 1;
  for (std::size_t i = static_cast<std::size_t>(axis); i < s.size(); ++i) n *= static_cast<std::size_t>(s[i]);
  return n;
}

inline std::vector<int> ints(const cv::dnn::LayerParams& p, const std::string& key, std::vector<int> fallback) {
  if (!p.has(key)) return fallback;
  const cv::dnn::DictValue& v = p.get(key);
  std::vector<int> out;
  for (int i = 0; i < v.size(); ++i) out.push_back(v.get<int>(i));
  return out;
}

/// A covered layer's weights, mask and parameters, up to the built GEMM operation.
template <class P>
class weight_layer : public cv::dnn::Layer {
public:
  weight_layer(const cv::dnn::LayerParams& params, std::shared_ptr<state<P>> st, layer_info info,
               std::vector<std::size_t> weight_shape)
      : cv::dnn::Layer(params), st_(std::move(st)), params_(params) {
    const cv::Mat& w = params.blobs[0];
    weights_.assign(w.ptr<float>(), w.ptr<float>() + w.total());
    bias_.assign(info.rows, 0.0f);
    if (params.blobs.size() > 1) {
      const cv::Mat& b = params.blobs[1];
      if (b.total() != info.rows || b.type() != CV_32F)
        throw shape_error(info.name + ": bias has " + std::to_string(b.total()) + " values for " + std::to_string(info.rows) +
                          " outputs");
      bias_.assign(b.ptr<float>(), b.ptr<float>() + b.total());
    }
    for (std::size_t i = 0; i < weights_.size(); ++i)
      if (!std::isfinite(weights_[i]))
        throw value_error(info.name + ": weight " + std::to_string(i) + " is not finite");
    layer_record r;
    r.info = std::move(info);
    r.on_gapp = true;
    choose_mask(r, weight_shape);
    rec_ = st_->add(std::move(r));
  }

  bool supportBackend(int backendId) override { return backendId == cv::dnn::DNN_BACKEND_OPENCV; }

  bool setActivation(const cv::Ptr<cv::dnn::ActivationLayer>& layer) override {
    auto relu = layer.dynamicCast<cv::dnn::ReLULayer>();
    const bool want = !relu.empty() && relu->negativeSlope == 0.0f;
    if (layer.empty() || want) {
      relu_ = want;
      rec_->fused_relu = want;
      return want;
    }
    return false;
  }

  // A batch norm (or any layer with a per-channel scale and shift) after the layer is folded
  // into its weights and bias; a network set up again fuses the same layer again, once.
  bool tryFuse(cv::Ptr<cv::dnn::Layer>& top) override {
    if (top.empty()) return false;
    if (fused_.count(top->name)) return true;
    cv::Mat scale, shift;
    top->getScaleShift(scale, shift);
    if (scale.empty() && shift.empty()) return false;
    const std::size_t rows = rec_->info.rows, cols = rec_->info.cols;
    auto fits = [&](const cv::Mat& m) { return m.empty() || (m.type() == CV_32F && (m.total() == rows || m.total() == 1)); };
    if (!fits(scale) || !fits(shift)) return false;
    auto at = [](const cv::Mat& m, std::size_t i, float none) {
      return m.empty() ? none : m.ptr<float>()[m.total() == 1 ? 0 : i];
    };
    for (std::size_t r = 0; r < rows; ++r) {
      const float s = at(scale, r, 1.0f);
      for (std::size_t c = 0; c < cols; ++c) weights_[r * cols + c] *= s;
      bias_[r] = bias_[r] * s + at(shift, r, 0.0f);
    }
    fused_.insert(top->name);
    rec_->fused_batch_norm = true;
    op_ready_ = false;
    own_.reset(); // OpenCV's own layer holds the old weights; engine::fastest times again
    engine_chosen_ = false;
    return true;
  }

  const layer_record& record() const { return *rec_; }

protected:
  /// One forward call on the engine options::run_on picks: `gapp()` runs it on the device
  /// (the layer's own forward), or OpenCV's own layer runs it on the host.
  template <class Gapp>
  void forward_on_engine(const std::vector<cv::Mat>& in, std::vector<cv::Mat>& out, Gapp&& gapp) {
    const engine e = st_->opt.run_on;
    if (e == engine::fastest && !engine_chosen_) choose_engine(in, out, gapp);
    const bool own = e == engine::opencv || (e == engine::fastest && use_own_);
    rec_->runs_opencv = own;
    if (own) run_own(in, out);
    else gapp();
  }

  /// The GEMM operation for the current weights, bias and activation (built at first use,
  /// again only when a fusion changed them).
  template <class Make>
  void ensure_op(Make&& make) {
    if (op_ready_ && built_relu_ == relu_) return;
    opencl::gemm_options go;
    go.epi = {true, relu_};
    go.bias = bias_;
    const layer_info& i = rec_->info;
    const matrix_view wv(weights_.data(), i.rows, i.cols);
    const std::size_t area = i.conv ? kernel_area_ : 1;
    make(go, [&](const opencl::gemm_options& o) {
      return nn::make_pruned_gemm<P>(st_->ctx, st_->dev, st_->cache, wv, keep_.empty() ? technique{} : st_->opt.tech,
                                     0.0, area, o, keep_.empty() ? nullptr : &keep_);
    });
    op_ready_ = true;
    built_relu_ = relu_;
  }

  /// One forward call on the device: the input (n batch items of c channels of `plane`
  /// values, batch first as OpenCV holds it) goes to the device channel-major (c × n × plane,
  /// as gapp's kernels take it), `run(queue, in, out)` enqueues the layer, and the oc × n ×
  /// oplane result comes back batch first into dst. With `padded` (h × w images, plane =
  /// oplane = h·w) both sides are in the padded layout on the device: the input's images go
  /// into the interior of a buffer whose border was zeroed once for the shape, and the
  /// output's interior comes back. The reorders are the copy commands' own (rectangular
  /// copies, one per batch item), every command is enqueued without waiting, and the call
  /// waits once, for the output: on PoCL each wait (a blocking map, unmap or finish) costs
  /// about 40–60 µs, more than the copies of a ResNet layer's activations.
  /// Bytes and times go to the record.
  template <class Run>
  void run_on_device(const float* src, std::size_t n, std::size_t c, std::size_t plane, float* dst, std::size_t oc,
                     std::size_t oplane, Run&& run, bool padded = false, std::size_t h = 0, std::size_t w = 0) {
    const auto t0 = std::chrono::steady_clock::now();
    const cl::CommandQueue& q = st_->queue;
    const kernels::padded_extent e = kernels::padded_layout(n, h, w);
    const std::size_t in_floats = padded ? c * e.plane : c * n * plane, out_floats = padded ? oc * e.plane : oc * n * oplane;
    cl::Buffer& xb = buffer(x_, x_floats_, in_floats);
    cl::Buffer& yb = buffer(y_, y_floats_, out_floats);
    std::vector<cl::Event> copies;
    copies.reserve(2 * n + 2);
    if (!padded) x_layout_ = {}; // the plain layout's copies overwrite any border
    try {
      if (padded && x_layout_ != std::array<std::size_t, 4>{n, c, h, w}) { // the border (and all) zero, once per shape
        opencl::detail::check(q.enqueueFillBuffer(xb, 0.0f, 0, in_floats * sizeof(float)), "clEnqueueFillBuffer");
        x_layout_ = {n, c, h, w};
      }
      transfer(src, xb, n, c, plane, padded, h, w, false, copies);
      run(q, xb, yb);
      transfer(dst, yb, n, oc, oplane, padded, h, w, true, copies);
    } catch (...) {
      q.finish(); // no command may still use src or dst when the call has failed
      throw;
    }
    const double wall = ms_since(t0);
    double copy = 0.0;
    for (const cl::Event& ev : copies) {
      cl_ulong begin = 0, end = 0;
      opencl::detail::check(ev.getProfilingInfo(CL_PROFILING_COMMAND_START, &begin), "clGetEventProfilingInfo");
      opencl::detail::check(ev.getProfilingInfo(CL_PROFILING_COMMAND_END, &end), "clGetEventProfilingInfo");
      copy += static_cast<double>(end - begin) * 1e-6;
    }
    layer_record& r = *rec_;
    r.calls += 1;
    r.bytes_to_device += c * n * plane * sizeof(float);
    r.bytes_from_device += oc * n * oplane * sizeof(float);
    r.copies_timed = st_->profiling;
    r.copy_ms += copy;
    r.wall_ms += wall;
  }

  /// Copies between the batch-first host array `host` (n items of c channels of `plane`
  /// values; with `padded`, of h × w images) and device buffer `b` in gapp's layout (channel
  /// major; padded: each image inside its border): to the device for a `const float*`, from it
  /// for a `float*`. Rectangular copies, one per batch item, reorder and place the images;
  /// planes of fewer than 16 values (a fully connected layer's) are reordered on the host.
  /// Waits for the last copy only when `wait`; with a profiling queue, the copies' events are
  /// appended to `events`.
  template <class T>
  void transfer(T* host, const cl::Buffer& b, std::size_t n, std::size_t c, std::size_t plane, bool padded,
                std::size_t h, std::size_t w, bool wait, std::vector<cl::Event>& events) {
    constexpr bool to_device = std::is_const_v<T>;
    const cl::CommandQueue& q = st_->queue;
    using rect = cl::array<cl::size_type, 3>;
    const cl::size_type f = sizeof(float);
    auto event = [&]() -> cl::Event* { return st_->profiling ? &events.emplace_back() : nullptr; };
    auto rect_copy = [&](bool block, rect origin, rect region, cl::size_type row_pitch, cl::size_type slice_pitch,
                         cl::size_type host_row_pitch, cl::size_type host_slice_pitch, T* p) {
      const rect at{0, 0, 0};
      if constexpr (to_device)
        opencl::detail::check(q.enqueueWriteBufferRect(b, block, origin, at, region, row_pitch, slice_pitch, host_row_pitch,
                                                       host_slice_pitch, p, nullptr, event()),
                              "clEnqueueWriteBufferRect");
      else
        opencl::detail::check(q.enqueueReadBufferRect(b, block, origin, at, region, row_pitch, slice_pitch, host_row_pitch,
                                                      host_slice_pitch, p, nullptr, event()),
                              "clEnqueueReadBufferRect");
    };
    auto whole = [&](bool block, T* p, std::size_t floats) {
      if constexpr (to_device)
        opencl::detail::check(q.enqueueWriteBuffer(b, block, 0, floats * f, p, nullptr, event()), "clEnqueueWriteBuffer");
      else
        opencl::detail::check(q.enqueueReadBuffer(b, block, 0, floats * f, p, nullptr, event()), "clEnqueueReadBuffer");
    };
    if (padded) { // image b of every channel: rows b·(h+2)+1 … of each channel's plane
      const kernels::padded_extent e = kernels::padded_layout(n, h, w);
      for (std::size_t i = 0; i < n; ++i)
        rect_copy(wait && i + 1 == n, rect{f, i * (h + 2) + 1, 0}, rect{w * f, h, c}, e.pitch * f, e.plane * f, w * f,
                  h * w * f, host + i * c * h * w);
    } else if (n == 1) {
      whole(wait, host, c * plane);
    } else if (plane >= 16) { // item i's channels are rows n·plane apart on the device
      for (std::size_t i = 0; i < n; ++i)
        rect_copy(wait && i + 1 == n, rect{i * plane * f, 0, 0}, rect{plane * f, c, 1}, n * plane * f, 0, plane * f, 0,
                  host + i * c * plane);
    } else { // batch first ⇄ channel first on the host (a rectangular copy moves a row at a time)
      std::vector<float>& staging = to_device ? host_in_ : host_out_;
      staging.resize(c * n * plane);
      if constexpr (to_device) {
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t ch = 0; ch < c; ++ch)
            std::copy_n(host + (i * c + ch) * plane, plane, staging.data() + (ch * n + i) * plane);
        whole(wait, staging.data(), staging.size());
      } else {
        whole(true, staging.data(), staging.size());
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t ch = 0; ch < c; ++ch)
            std::copy_n(staging.data() + (ch * n + i) * plane, plane, host + (i * c + ch) * plane);
      }
    }
  }

  cl::Buffer& buffer(cl::Buffer& b, std::size_t& have, std::size_t floats) {
    if (have < floats) {
      cl_int err = CL_SUCCESS;
      b = cl::Buffer(st_->ctx, CL_MEM_READ_WRITE, std::max<std::size_t>(floats, 1) * 4, nullptr, &err);
      opencl::detail::check(err, "clCreateBuffer");
      have = floats;
    }
    return b;
  }

  std::shared_ptr<state<P>> st_;
  std::shared_ptr<layer_record> rec_;
  std::vector<float> weights_, bias_;
  std::vector<std::uint8_t> keep_; ///< empty: dense
  std::size_t kernel_area_ = 1;
  bool relu_ = false, built_relu_ = false, op_ready_ = false;
  std::set<std::string> fused_;
  cl::Buffer x_, y_;                   ///< the layer's input and output on the device
  std::size_t x_floats_ = 0, y_floats_ = 0;
  std::array<std::size_t, 4> x_layout_{}; ///< n, c, h, w of the padded input whose border x_ holds zeroed
  std::vector<float> host_in_, host_out_;   ///< channel-major staging for batches of small planes

private:
  /// OpenCV's own layer on weights_ and bias_ (built at its first use, again after a fusion),
  /// finalized for the shapes of this call's input and output; the fused ReLU after it.
  void run_own(const std::vector<cv::Mat>& in, std::vector<cv::Mat>& out) {
    if (own_.empty()) {
      cv::dnn::LayerParams p = params_;
      const cv::Mat& w0 = params_.blobs[0];
      p.blobs.assign(1, cv::Mat(w0.dims, w0.size.p, CV_32F, weights_.data()).clone());
      p.blobs.push_back(cv::Mat(1, static_cast<int>(bias_.size()), CV_32F, bias_.data()).clone());
      p.set("bias_term", true);
      own_ = rec_->info.conv ? cv::Ptr<cv::dnn::Layer>(cv::dnn::ConvolutionLayer::create(p))
                             : cv::Ptr<cv::dnn::Layer>(cv::dnn::InnerProductLayer::create(p));
      own_shape_.clear();
    }
    std::vector<cv::dnn::MatShape> shapes;
    for (const cv::Mat& m : in) shapes.push_back(cv::dnn::shape(m));
    if (shapes != own_shape_) {
      std::vector<cv::dnn::MatShape> outs, internals;
      own_->getMemoryShapes(shapes, 1, outs, internals);
      own_internals_.clear();
      for (const cv::dnn::MatShape& sh : internals) own_internals_.emplace_back(sh, CV_32F);
      own_->finalize(cv::InputArrayOfArrays(in), cv::OutputArrayOfArrays(out));
      own_shape_ = shapes;
    }
    own_->forward(in, out, own_internals_);
    if (relu_)
      for (cv::Mat& y : out) cv::max(y, 0.0, y);
    rec_->opencv_calls += 1;
  }

  /// engine::fastest at the first call: both engines, one warm-up and three interleaved
  /// rounds each, medians of wall time; the counters keep only the call itself.
  template <class Gapp>
  void choose_engine(const std::vector<cv::Mat>& in, std::vector<cv::Mat>& out, Gapp& gapp) {
    const layer_record before = *rec_;
    std::vector<double> tg, to;
    for (int r = 0; r < 4; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      gapp();
      if (r > 0) tg.push_back(ms_since(t0));
      t0 = std::chrono::steady_clock::now();
      run_own(in, out);
      if (r > 0) to.push_back(ms_since(t0));
    }
    std::sort(tg.begin(), tg.end());
    std::sort(to.begin(), to.end());
    layer_record& r = *rec_;
    r.calls = before.calls, r.opencv_calls = before.opencv_calls;
    r.bytes_to_device = before.bytes_to_device, r.bytes_from_device = before.bytes_from_device;
    r.wall_ms = before.wall_ms, r.copy_ms = before.copy_ms;
    r.engine_measured = true;
    r.gapp_ms = tg[tg.size() / 2], r.opencv_ms = to[to.size() / 2];
    use_own_ = r.opencv_ms < r.gapp_ms;
    engine_chosen_ = true;
  }

  cv::dnn::LayerParams params_; ///< as the layer was created (OpenCV's own layer starts from them)
  cv::Ptr<cv::dnn::Layer> own_;
  std::vector<cv::dnn::MatShape> own_shape_;
  std::vector<cv::Mat> own_internals_;
  bool engine_chosen_ = false, use_own_ = false;

  void choose_mask(layer_record& r, const std::vector<std::size_t>& weight_shape) {
    const options& o = st_->opt;
    r.technique = "dense";
    kernel_area_ = weight_shape.size() == 4 ? weight_shape[2] * weight_shape[3] : 1;
    if (o.tech.dense() || (o.keep_dense && o.keep_dense(r.info))) return;
    if (!o.mask_dir.empty()) {
      std::vector<std::string> candidates;
      for (const std::string& n : {r.info.weight_name, r.info.name}) {
        if (n.empty()) continue;
        const std::string safe = file_safe(n);
        candidates.push_back(safe + ".npy");
        const std::string suffix = ".weight";
        if (safe.size() > suffix.size() && safe.compare(safe.size() - suffix.size(), suffix.size(), suffix) == 0)
          candidates.push_back(safe.substr(0, safe.size() - suffix.size()) + ".mask.npy");
      }
      for (const std::string& c : candidates) {
        const std::filesystem::path path = std::filesystem::path(o.mask_dir) / c;
        if (!std::filesystem::exists(path)) continue;
        mask_file m = load_mask<P>(path.string(), st_->policy, o.tech, weight_shape);
        keep_ = std::move(m.mask.data);
        r.mask = path.string();
        std::lock_guard<std::mutex> lock(st_->mutex);
        st_->used_masks.insert(std::filesystem::path(c).filename().string());
        break;
      }
      if (keep_.empty()) return; // no mask: dense
    } else {
      if (!(o.sparsity >= 0.0 && o.sparsity < 1.0))
        throw invalid_argument("opencv_dnn: sparsity must lie in [0, 1), got " + std::to_string(o.sparsity));
      const matrix_view wv(weights_.data(), r.info.rows, r.info.cols);
      std::visit(
          [&](auto unit) {
            using U = decltype(unit);
            if constexpr (std::is_same_v<U, units::channel>) unit.kernel_area = static_cast<int>(kernel_area_);
            double s = o.sparsity;
            if constexpr (std::is_same_v<U, units::nm>) s = nominal_sparsity(unit);
            prune_options po;
            po.balanced = o.tech.balanced;
            po.criterion = o.crit;
            keep_ = prune<P>(wv, unit, s, po).keep();
          },
          *o.tech.unit);
      r.mask = "pruned on load";
    }
    r.technique = to_string(o.tech);
    std::size_t removed = 0;
    for (std::size_t i = 0; i < keep_.size(); ++i)
      if (!keep_[i]) weights_[i] = 0.0f, ++removed;
    r.sparsity = keep_.empty() ? 0.0 : static_cast<double>(removed) / static_cast<double>(keep_.size());
    if (!keep_.empty()) r.keep = std::make_shared<const std::vector<std::uint8_t>>(keep_);
  }
};

template <class P>
class conv_layer final : public weight_layer<P> {
  using base = weight_layer<P>;

public:
  conv_layer(const cv::dnn::LayerParams& params, std::shared_ptr<state<P>> st, layer_info info, std::size_t kh,
             std::size_t kw, std::size_t stride_h, std::size_t stride_w, std::size_t pad)
      : base(params, std::move(st), info, shape_of(params.blobs[0])),
        shape_{info.rows, info.cols / (kh * kw), kh, kw}, stride_h_(stride_h), stride_w_(stride_w), pad_(pad) {}

  bool getMemoryShapes(const std::vector<cv::dnn::MatShape>& inputs, const int, std::vector<cv::dnn::MatShape>& outputs,
                       std::vector<cv::dnn::MatShape>&) const override {
    const cv::dnn::MatShape& in = inputs.at(0);
    if (in.size() != 4 || static_cast<std::size_t>(in[1]) != shape_.in_channels)
      throw shape_error(this->name + ": input " + shape_text(in) + ", the layer takes N x " +
                        std::to_string(shape_.in_channels) + " x H x W");
    const std::size_t h = static_cast<std::size_t>(in[2]), w = static_cast<std::size_t>(in[3]);
    if (h + 2 * pad_ < shape_.kernel_h || w + 2 * pad_ < shape_.kernel_w)
      throw shape_error(this->name + ": kernel larger than the padded input " + shape_text(in));
    outputs.assign(1, cv::dnn::MatShape{in[0], static_cast<int>(shape_.out_channels),
                                        static_cast<int>((h + 2 * pad_ - shape_.kernel_h) / stride_h_ + 1),
                                        static_cast<int>((w + 2 * pad_ - shape_.kernel_w) / stride_w_ + 1)});
    return false;
  }

  void forward(cv::InputArrayOfArrays inputs_arr, cv::OutputArrayOfArrays outputs_arr, cv::OutputArrayOfArrays) override {
    std::vector<cv::Mat> in, out;
    inputs_arr.getMatVector(in);
    outputs_arr.getMatVector(out);
    const cv::Mat& x = in.at(0);
    cv::Mat& y = out.at(0);
    if (x.type() != CV_32F || !x.isContinuous() || x.dims != 4) throw shape_error(this->name + ": input must be a dense float32 NCHW blob");
    const std::size_t n = x.size[0], c = x.size[1], h = x.size[2], w = x.size[3];
    const std::size_t oh = y.size[2], ow = y.size[3];
    this->forward_on_engine(in, out, [&] { forward_on_device(x, y, n, c, h, w, oh, ow); });
  }

private:
  void forward_on_device(const cv::Mat& x, cv::Mat& y, std::size_t n, std::size_t c, std::size_t h, std::size_t w,
                         std::size_t oh, std::size_t ow) {
    const std::size_t oc = y.size[1];
    this->ensure_op([&](const opencl::gemm_options& go0, auto&& make) {
      opencl::gemm_options go = go0;
      // N is the batch's output pixels. Where the first call's are at most narrow_max_n (a
      // deep layer of a network on small images: ResNet-18's last stage on 32 x 32 inputs
      // sees 1 x 1 images) the GEMM is a GEMV, which the wide kernel computes with one lane
      // of 32 busy: im2col + the narrow kernel, which reads every weight once. Later calls
      // of other shapes run the same plan (im2col + the wide kernel where N is larger).
      const bool tiny = n * oh * ow <= kernels::narrow_max_n;
      go.narrow = tiny;
      const bool same = stride_h_ == 1 && stride_w_ == 1 && shape_.kernel_h == shape_.kernel_w && 2 * pad_ + 1 == shape_.kernel_h;
      if (this->st_->opt.implicit_conv && same && !tiny) {
        go.implicit_kh = static_cast<int>(shape_.kernel_h), go.implicit_kw = static_cast<int>(shape_.kernel_w);
        go.padded = this->st_->opt.padded && shape_.kernel_h <= 3;
      }
      auto pg = make(go);
      conv_ = std::make_unique<opencl::conv2d_op<P>>(this->st_->ctx, this->st_->dev, this->st_->cache, shape_,
                                                     std::move(pg.op), opencl::conv_geometry{stride_h_, pad_});
      this->rec_->implicit = conv_->implicit();
      this->rec_->padded = conv_->padded(); // the plan can decline the layout (the filter technique's)
      choose_pending_ = this->st_->opt.choose_lowering && conv_->can_run_implicit();
    });
    this->run_on_device(x.ptr<float>(), n, c, h * w, y.ptr<float>(), oc, oh * ow,
                        [&](const cl::CommandQueue& q, cl::Buffer& xb, cl::Buffer& yb) {
                          if (choose_pending_) choose_lowering(q, xb, yb, n, h, w);
                          cl::Buffer& scratch = this->buffer(col_, col_floats_, conv_->scratch_floats(n, h, w));
                          conv_->enqueue(q, xb, yb, n, h, w, scratch);
                        },
                        conv_->padded(), h, w);
    this->rec_->narrow = !conv_->implicit() && conv_->gemm().uses_narrow(n * oh * ow);
  }

  /// Times the convolution both ways on this call's input and keeps the faster.
  void choose_lowering(const cl::CommandQueue& q, const cl::Buffer& xb, const cl::Buffer& yb, std::size_t n,
                       std::size_t h, std::size_t w) {
    conv_->set_im2col(true); // the scratch the im2col way needs
    cl::Buffer& scratch = this->buffer(col_, col_floats_, conv_->scratch_floats(n, h, w));
    const auto t = conv_->choose_lowering(q, xb, yb, n, h, w, scratch);
    layer_record& r = *this->rec_;
    r.implicit_ms = t.implicit_ms, r.im2col_ms = t.im2col_ms;
    r.implicit = conv_->implicit();
    r.lowering_measured = true;
    choose_pending_ = false;
  }

  conv_shape shape_;
  std::size_t stride_h_, stride_w_, pad_;
  std::unique_ptr<opencl::conv2d_op<P>> conv_;
  bool choose_pending_ = false;
  cl::Buffer col_;
  std::size_t col_floats_ = 0;
};

template <class P>
class fc_layer final : public weight_layer<P> {
  using base = weight_layer<P>;

public:
  fc_layer(const cv::dnn::LayerParams& params, std::shared_ptr<state<P>> st, layer_info info, int axis)
      : base(params, std::move(st), info, shape_of(params.blobs[0])), axis_(axis) {}

  bool getMemoryShapes(const std::vector<cv::dnn::MatShape>& inputs, const int, std::vector<cv::dnn::MatShape>& outputs,
                       std::vector<cv::dnn::MatShape>&) const override {
    const cv::dnn::MatShape& in = inputs.at(0);
    const int axis = axis_ < 0 ? axis_ + static_cast<int>(in.size()) : axis_;
    if (axis < 0 || axis >= static_cast<int>(in.size()) ||
        total_from(in, axis) != this->rec_->info.cols)
      throw shape_error(this->name + ": input " + shape_text(in) + " does not hold " +
                        std::to_string(this->rec_->info.cols) + " features from axis " + std::to_string(axis_));
    cv::dnn::MatShape o(in.begin(), in.begin() + axis);
    o.push_back(static_cast<int>(this->rec_->info.rows));
    outputs.assign(1, o);
    return false;
  }

  void forward(cv::InputArrayOfArrays inputs_arr, cv::OutputArrayOfArrays outputs_arr, cv::OutputArrayOfArrays) override {
    std::vector<cv::Mat> in, out;
    inputs_arr.getMatVector(in);
    outputs_arr.getMatVector(out);
    const cv::Mat& x = in.at(0);
    cv::Mat& y = out.at(0);
    if (x.type() != CV_32F || !x.isContinuous()) throw shape_error(this->name + ": input must be a dense float32 blob");
    const std::size_t k = this->rec_->info.cols, m = this->rec_->info.rows, n = x.total() / k;
    this->forward_on_engine(in, out, [&] {
      this->ensure_op([&](const opencl::gemm_options& go, auto&& make) { op_ = make(go).op; });
      this->run_on_device(x.ptr<float>(), n, k, 1, y.ptr<float>(), m, 1,
                          [&](const cl::CommandQueue& q, cl::Buffer& xb, cl::Buffer& yb) { op_->enqueue(q, xb, yb, n); });
      this->rec_->narrow = op_->uses_narrow(n);
    });
  }

private:
  int axis_;
  std::unique_ptr<opencl::gemm_op<P>> op_;
};

inline std::string weight_name_of(const options& o, const std::string& layer) {
  auto it = o.weight_names.find(layer);
  return it == o.weight_names.end() ? std::string() : it->second;
}

template <class P>
cv::Ptr<cv::dnn::Layer> create_conv(cv::dnn::LayerParams& params) {
  std::shared_ptr<state<P>> st = active<P>();
  if (!st) throw error("opencv_dnn: a gapp layer was requested with no gapp_layers alive");
  layer_info info;
  info.name = params.name;
  info.conv = true;
  info.weight_name = weight_name_of(st->opt, params.name);
  std::string why;
  const std::vector<int> ks = ints(params, "kernel_size", {params.get<int>("kernel_h", 0), params.get<int>("kernel_w", 0)});
  const std::vector<int> stride = ints(params, "stride", {1, 1}), dil = ints(params, "dilation", {1, 1});
  std::vector<int> pad = ints(params, "pad", {0, 0});
  if (params.blobs.empty()) why = "weights are not a constant of the model";
  else if (params.blobs[0].type() != CV_32F) why = "weights are not float32";
  else if (params.blobs[0].dims != 4 || ks.size() != 2) why = "not a 2-D convolution";
  else if (params.get<int>("group", 1) != 1) why = "groups " + std::to_string(params.get<int>("group", 1));
  else if (dil.size() != 2 || dil[0] != 1 || dil[1] != 1) why = "dilation";
  else if (!params.get<cv::String>("pad_mode", "").empty()) why = "pad_mode " + params.get<cv::String>("pad_mode", "");
  else if (params.has("pads_begin") || params.has("pads_end") ||
           !(pad.size() == 2 || pad.size() == 4) || !std::all_of(pad.begin(), pad.end(), [&](int v) { return v == pad[0]; }))
    why = "padding differs between sides or axes";
  else if (stride.size() != 2 || stride[0] < 1 || stride[1] < 1) why = "stride";
  else if (ks[0] != params.blobs[0].size[2] || ks[1] != params.blobs[0].size[3]) why = "kernel size differs from the weights";
  if (!why.empty()) {
    if (!params.blobs.empty()) {
      info.rows = static_cast<std::size_t>(params.blobs[0].size[0]);
      info.cols = params.blobs[0].total() / std::max<std::size_t>(info.rows, 1);
    }
    layer_record r;
    r.info = info;
    r.reason = why;
    r.technique = "opencv";
    st->add(std::move(r));
    return cv::dnn::ConvolutionLayer::create(params);
  }
  const cv::Mat& w = params.blobs[0];
  info.rows = static_cast<std::size_t>(w.size[0]);
  info.cols = w.total() / info.rows;
  return cv::Ptr<cv::dnn::Layer>(new conv_layer<P>(params, st, info, static_cast<std::size_t>(ks[0]),
                                                   static_cast<std::size_t>(ks[1]), static_cast<std::size_t>(stride[0]),
                                                   static_cast<std::size_t>(stride[1]), static_cast<std::size_t>(pad[0])));
}

template <class P>
cv::Ptr<cv::dnn::Layer> create_fc(cv::dnn::LayerParams& params) {
  std::shared_ptr<state<P>> st = active<P>();
  if (!st) throw error("opencv_dnn: a gapp layer was requested with no gapp_layers alive");
  layer_info info;
  info.name = params.name;
  info.weight_name = weight_name_of(st->opt, params.name);
  std::string why;
  if (params.blobs.empty()) why = "weights are not a constant of the model";
  else if (params.blobs[0].type() != CV_32F) why = "weights are not float32";
  else if (params.blobs[0].dims != 2) why = "weights are not a matrix";
  else if (params.get<int>("transA", 0) != 0) why = "transposed input";
  else if (params.get<float>("alpha", 1.0f) != 1.0f || params.get<float>("beta", 1.0f) != 1.0f) why = "alpha or beta not 1";
  else if (params.has("num_output") && params.get<int>("num_output") != params.blobs[0].size[0])
    why = "weights are not num_output x inputs";
  if (!why.empty()) {
    layer_record r;
    r.info = info;
    r.reason = why;
    r.technique = "opencv";
    st->add(std::move(r));
    return cv::dnn::InnerProductLayer::create(params);
  }
  info.rows = static_cast<std::size_t>(params.blobs[0].size[0]);
  info.cols = static_cast<std::size_t>(params.blobs[0].size[1]);
  return cv::Ptr<cv::dnn::Layer>(new fc_layer<P>(params, st, info, params.get<int>("axis", 1)));
}

} // namespace detail

/// Registers gapp's convolution and fully connected layers with OpenCV's layer factory for
/// as long as it lives (OpenCV's own come back when it is destroyed). Networks read while it
/// lives use gapp's layers; those layers keep what they need, so the networks may outlive it.
/// One gapp_layers per policy at a time.
template <class P>
class gapp_layers {
public:
  gapp_layers(const cl::Context& ctx, const cl::Device& dev, const cl::CommandQueue& queue, options opt = {}) {
    if (detail::active<P>()) throw invalid_argument("opencv_dnn: gapp layers for this policy are already registered");
    if (!opt.tech.dense() && opt.mask_dir.empty() && !(opt.sparsity >= 0.0 && opt.sparsity < 1.0))
      throw invalid_argument("opencv_dnn: sparsity must lie in [0, 1), got " + std::to_string(opt.sparsity));
    if (!opt.mask_dir.empty() && !std::filesystem::is_directory(opt.mask_dir))
      throw file_error(opt.mask_dir + ": not a directory of masks");
    if (!opt.mask_dir.empty() && opt.tech.dense())
      throw invalid_argument("opencv_dnn: masks need the sparse technique they were made with, not dense");
    opencl::require_can_run<P>(opencl::query(dev));
    cl_command_queue_properties props = 0;
    opencl::detail::check(queue.getInfo(CL_QUEUE_PROPERTIES, &props), "clGetCommandQueueInfo");
    if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)
      throw invalid_argument("opencv_dnn: the command queue must run its commands in order (one made without "
                             "CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)");
    std::string name = opt.policy_name;
    if constexpr (detail::has_name<P>::value)
      if (name.empty()) name = std::string(P::name);
    st_ = std::make_shared<detail::state<P>>(ctx, dev, queue, std::move(opt));
    st_->policy = name;
    st_->profiling = (props & CL_QUEUE_PROFILING_ENABLE) != 0;
    detail::active<P>() = st_;
    cv::dnn::LayerFactory::registerLayer("Convolution", &detail::create_conv<P>);
    cv::dnn::LayerFactory::registerLayer("InnerProduct", &detail::create_fc<P>);
  }
  gapp_layers(const gapp_layers&) = delete;
  gapp_layers& operator=(const gapp_layers&) = delete;
  ~gapp_layers() {
    cv::dnn::LayerFactory::unregisterLayer("InnerProduct");
    cv::dnn::LayerFactory::unregisterLayer("Convolution");
    detail::active<P>().reset();
  }

  /// The options, e.g. to fill weight_names before reading a network (read_onnx does).
  options& settings() { return st_->opt; }

  /// One record per weight layer created so far, in creation order (a snapshot).
  std::vector<layer_record> records() const {
    std::lock_guard<std::mutex> lock(st_->mutex);
    std::vector<layer_record> out;
    for (const auto& r : st_->records) out.push_back(*r);
    return out;
  }
  /// Zeroes the per-call counters (calls, bytes, times) of every record.
  void reset_counters() {
    std::lock_guard<std::mutex> lock(st_->mutex);
    for (auto& r : st_->records)
      r->calls = r->opencv_calls = r->bytes_to_device = r->bytes_from_device = 0, r->copy_ms = r->wall_ms = 0;
  }
  /// Mask files (*.npy) of options::mask_dir that no layer created so far used.
  std::vector<std::string> unmatched_masks() const {
    std::vector<std::string> out;
    if (st_->opt.mask_dir.empty()) return out;
    std::lock_guard<std::mutex> lock(st_->mutex);
    for (const auto& e : std::filesystem::directory_iterator(st_->opt.mask_dir)) {
      const std::string f = e.path().filename().string();
      if (e.is_regular_file() && e.path().extension() == ".npy" && !st_->used_masks.count(f)) out.push_back(f);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

private:
  std::shared_ptr<detail::state<P>> st_;
};

/// Writes a copy of ONNX file `src` to `dst` with the weights each record's mask removed set
/// to 0 (all other bytes as they were), so that OpenCV's own backend, or any other engine,
/// can run the same pruned network as a reference. Weights must be stored as float32
/// raw_data initializers (what PyTorch writes). Returns how many initializers were masked;
/// gapp::file_error when the file is malformed or a masked layer's initializer is not found.
inline std::size_t write_masked_onnx(const std::string& src, const std::string& dst, const std::vector<layer_record>& records) {
  std::ifstream in(src, std::ios::binary);
  if (!in) throw file_error(src + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, const layer_record*> by_weight;
  for (const auto& r : records)
    if (r.keep) {
      if (r.info.weight_name.empty())
        throw invalid_argument("write_masked_onnx: layer " + r.info.name + " has a mask but no known initializer name");
      by_weight[r.info.weight_name] = &r;
    }
  std::set<std::string> done;
  auto* base = reinterpret_cast<std::uint8_t*>(bytes.data());
  detail::pb_reader model{base, base + bytes.size(), src};
  model.fields([&](int f, int w, const std::uint8_t* b, const std::uint8_t* e) {
    if (f != 7 || w != 2) return; // graph
    detail::pb_reader graph{b, e, src};
    graph.fields([&](int gf, int gw, const std::uint8_t* tb, const std::uint8_t* te) {
      if (gf != 5 || gw != 2) return; // initializer (TensorProto)
      std::string name;
      const std::uint8_t *raw = nullptr, *raw_end = nullptr;
      detail::pb_reader t{tb, te, src};
      t.fields([&](int tf, int tw, const std::uint8_t* vb, const std::uint8_t* ve) {
        if (tf == 8 && tw == 2) name.assign(reinterpret_cast<const char*>(vb), static_cast<std::size_t>(ve - vb));
        if (tf == 9 && tw == 2) raw = vb, raw_end = ve; // raw_data
      });
      auto it = by_weight.find(name);
      if (it == by_weight.end()) return;
      const auto& keep = *it->second->keep;
      if (!raw || static_cast<std::size_t>(raw_end - raw) != keep.size() * 4)
        throw file_error(src + ": initializer " + name + " does not hold " + std::to_string(keep.size()) +
                         " float32 values as raw data");
      auto* p = const_cast<std::uint8_t*>(raw);
      for (std::size_t i = 0; i < keep.size(); ++i)
        if (!keep[i]) std::fill_n(p + 4 * i, 4, std::uint8_t{0});
      done.insert(name);
    });
  });
  for (const auto& [name, r] : by_weight)
    if (!done.count(name)) throw file_error(src + ": no initializer named " + name + " (layer " + r->info.name + ")");
  npy::write_atomic(dst, bytes);
  return done.size();
}

/// cv::dnn::readNetFromONNX with the file named in the error: gapp::file_error carrying
/// OpenCV's message for a file OpenCV cannot read.
inline cv::dnn::Net read_onnx(const std::string& path) {
  npy::detail::require_regular_input(path); // "no such file", or what the path is instead
  try {
    return cv::dnn::readNetFromONNX(path);
  } catch (const cv::Exception& e) {
    throw file_error(path + ": OpenCV cannot read it: " + e.what());
  }
}

/// read_onnx with gapp's layers: their weight_names are filled from the file first, so that
/// masks can be matched by initializer name.
template <class P>
cv::dnn::Net read_onnx(const std::string& path, gapp_layers<P>& layers) {
  auto names = onnx_weight_names(path);
  layers.settings().weight_names.insert(names.begin(), names.end());
  return read_onnx(path);
}

} // namespace gapp::integrations::opencv_dnn
