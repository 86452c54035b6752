// An ONNX model through OpenCV DNN, first with OpenCV's own CPU backend, then with gapp's
// convolution and fully connected layers (dense and pruned) on an OpenCL device: agreement
// of the top-1 predictions and the median latency per image, batch 1.
//
//   opencv_dnn MODEL.onnx [--images IMAGES.npy] [--labels LABELS.npy (uint8)] [--count N]
//              [--techniques dense,simd,tile] [--sparsity S] [--masks DIR] [--keep-dense-below K]
//              [--device I] [--engine gapp|fastest|opencv] [--layers]
//
// IMAGES.npy holds float32 N×C×H×W images; they are resized (nearest) and their channels
// repeated to the model's input when those differ. Without images, --count random inputs.
#include <gapp/integrations/opencv_dnn.hpp>
#include <gapp/io/npy.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace od = gapp::integrations::opencv_dnn;

namespace {

const char* const usage =
    "usage: opencv_dnn MODEL.onnx [--images IMAGES.npy] [--labels LABELS.npy (uint8)] [--count N]\n"
    "                  [--techniques dense,simd,tile] [--sparsity S] [--masks DIR] [--keep-dense-below K]\n"
    "                  [--device I] [--engine gapp|fastest|opencv] [--layers]\n"
    "Runs MODEL with OpenCV's own backend and with gapp's layers (pruned on load at S, default\n"
    "0.75, or with the gapp-prune masks of DIR); prints top-1 agreement and median latency.\n"
    "Layers whose GEMM has fewer than K columns (default 32: e.g. a first convolution on 1-3\n"
    "channels) stay dense. --engine: what runs the layers gapp covers (gapp's kernels, the faster\n"
    "of those and OpenCV's own on the same weights as timed at each layer's first call, or OpenCV's\n"
    "own). --layers prints where every weight layer ran and its copy cost.\n";

struct args_t {
  std::string model, images, labels, masks, techniques = "dense,simd,tile";
  int count = 20, device = 0;
  double sparsity = 0.75;
  std::size_t keep_dense_below = 32;
  bool layers = false;
  od::engine engine = od::engine::gapp;
};

args_t parse(int argc, char** argv) {
  args_t a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw gapp::invalid_argument(s + " needs a value");
      return argv[++i];
    };
    auto number = [&](const std::string& v) {
      std::size_t used = 0;
      double d = 0;
      try {
        d = std::stod(v, &used);
      } catch (...) {
        used = 0;
      }
      if (used != v.size() || v.empty()) throw gapp::invalid_argument(s + " expects a number, got '" + v + "'");
      return d;
    };
    if (s == "--help" || s == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (s == "--images") a.images = value();
    else if (s == "--labels") a.labels = value();
    else if (s == "--masks") a.masks = value();
    else if (s == "--techniques") a.techniques = value();
    else if (s == "--count") a.count = static_cast<int>(number(value()));
    else if (s == "--device") a.device = static_cast<int>(number(value()));
    else if (s == "--sparsity") a.sparsity = number(value());
    else if (s == "--keep-dense-below") a.keep_dense_below = static_cast<std::size_t>(number(value()));
    else if (s == "--layers") a.layers = true;
    else if (s == "--engine") {
      const std::string e = value();
      if (e == "gapp") a.engine = od::engine::gapp;
      else if (e == "fastest") a.engine = od::engine::fastest;
      else if (e == "opencv") a.engine = od::engine::opencv;
      else throw gapp::invalid_argument("--engine expects gapp, fastest or opencv, got '" + e + "'");
    }
    else if (!s.empty() && s[0] == '-') throw gapp::invalid_argument("unknown option '" + s + "' (see --help)");
    else if (a.model.empty()) a.model = s;
    else throw gapp::invalid_argument("one model only (got '" + a.model + "' and '" + s + "')");
  }
  if (a.model.empty()) throw gapp::invalid_argument(std::string("no model given\n") + usage);
  if (a.count < 1 || a.device < 0) throw gapp::invalid_argument("--count must be at least 1 and --device at least 0");
  return a;
}

/// The model's input shape (batch 1), from the ONNX file.
std::vector<int> input_shape(const std::string& model) {
  const std::vector<std::int64_t> s = od::onnx_input_shape(model);
  if (s.size() != 4 || s[1] < 1 || s[2] < 1 || s[3] < 1)
    throw gapp::shape_error(model + ": the model's input is not N x C x H x W with fixed C, H, W");
  return {1, static_cast<int>(s[1]), static_cast<int>(s[2]), static_cast<int>(s[3])};
}

/// One input per image at the model's shape (nearest resize, channels repeated).
std::vector<cv::Mat> inputs(const args_t& a, const std::vector<int>& shape) {
  const int c = shape[1], h = shape[2], w = shape[3];
  std::vector<cv::Mat> out;
  if (a.images.empty()) {
    std::mt19937 g(7);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (int i = 0; i < a.count; ++i) {
      cv::Mat m(shape, CV_32F);
      for (std::size_t k = 0; k < m.total(); ++k) m.ptr<float>()[k] = n(g);
      out.push_back(m);
    }
    return out;
  }
  const gapp::npy::tensor<float> x = gapp::npy::read_floats(a.images);
  if (x.shape.size() != 4) throw gapp::shape_error(a.images + ": images must be N x C x H x W");
  const std::size_t n = std::min<std::size_t>(x.shape[0], static_cast<std::size_t>(a.count));
  const std::size_t ic = x.shape[1], ih = x.shape[2], iw = x.shape[3];
  if (ic != 1 && ic != static_cast<std::size_t>(c))
    throw gapp::shape_error(a.images + ": " + std::to_string(ic) + " channels for a model on " + std::to_string(c));
  for (std::size_t i = 0; i < n; ++i) {
    cv::Mat m(shape, CV_32F);
    float* p = m.ptr<float>();
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int xx = 0; xx < w; ++xx) {
          const std::size_t sy = static_cast<std::size_t>(y) * ih / h, sx = static_cast<std::size_t>(xx) * iw / w;
          const std::size_t sc = ic == 1 ? 0 : static_cast<std::size_t>(ch);
          p[(static_cast<std::size_t>(ch) * h + y) * w + xx] = x.data[((i * ic + sc) * ih + sy) * iw + sx];
        }
    out.push_back(m);
  }
  return out;
}

struct pass {
  std::vector<int> top1;
  double median_ms = 0;
};

pass run_all(cv::dnn::Net& net, const std::vector<cv::Mat>& xs, const std::function<void()>& after_warm_up = {}) {
  pass p;
  std::vector<double> ms;
  net.setInput(xs[0]);
  net.forward(); // set-up and first launches
  if (after_warm_up) after_warm_up();
  for (const cv::Mat& x : xs) {
    const auto t0 = std::chrono::steady_clock::now();
    net.setInput(x);
    cv::Mat y = net.forward();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cv::Point best;
    cv::minMaxLoc(y.reshape(1, 1), nullptr, nullptr, nullptr, &best);
    p.top1.push_back(best.x);
  }
  std::sort(ms.begin(), ms.end());
  p.median_ms = ms[ms.size() / 2];
  return p;
}

double agreement(const std::vector<int>& a, const std::vector<int>& b) {
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / static_cast<double>(a.size());
}

/// " — first call: gapp 0.08 ms, OpenCV 0.01 ms" where --engine fastest timed the layer.
std::string timed(const od::layer_record& r) {
  if (!r.engine_measured) return "";
  char b[80];
  std::snprintf(b, sizeof b, " — first call: gapp %.3f ms, OpenCV %.3f ms", r.gapp_ms, r.opencv_ms);
  return b;
}

} // namespace

int main(int argc, char** argv) try {
  const args_t a = parse(argc, argv);
  std::vector<int> labels;
  if (!a.labels.empty()) {
    const auto l = gapp::npy::read_bytes(a.labels);
    for (auto v : l.data) labels.push_back(static_cast<int>(v));
  }
  cv::dnn::Net own = od::read_onnx(a.model);
  const std::vector<int> shape = input_shape(a.model);
  const std::vector<cv::Mat> xs = inputs(a, shape);
  auto accuracy = [&](const std::vector<int>& top1) {
    if (labels.size() < top1.size()) return std::string();
    char b[32];
    std::snprintf(b, sizeof b, "  top-1 %.4f", agreement(top1, std::vector<int>(labels.begin(), labels.begin() + top1.size())));
    return std::string(b);
  };

  const cl::Device dev = gapp::opencl::device_at(static_cast<std::size_t>(a.device));
  cl::Context ctx(dev);
  cl::CommandQueue queue(ctx, dev, CL_QUEUE_PROFILING_ENABLE); // the records then time the copies
  std::printf("%s: input %dx%dx%dx%d, %zu images, batch 1; OpenCL device: %s\n", a.model.c_str(), shape[0], shape[1],
              shape[2], shape[3], xs.size(), gapp::opencl::query(dev).name.c_str());
  const pass base = run_all(own, xs);
  std::printf("%-22s median %8.2f ms                                %s\n", "OpenCV (own CPU)", base.median_ms,
              accuracy(base.top1).c_str());

  gapp::opencl::dispatch(dev, [&](auto preset) {
    using P = decltype(preset);
    std::stringstream ss(a.techniques);
    for (std::string t; std::getline(ss, t, ',');) {
      od::options o;
      o.tech = gapp::parse_technique(t);
      o.sparsity = a.sparsity;
      o.run_on = a.engine;
      if (!o.tech.dense()) o.mask_dir = a.masks;
      const std::size_t below = a.keep_dense_below;
      o.keep_dense = [below](const od::layer_info& l) { return l.cols < below; };
      std::vector<od::layer_record> rs;
      std::vector<std::string> unmatched;
      pass p, ref;
      {
        od::gapp_layers<P> layers(ctx, dev, queue, o);
        cv::dnn::Net net = od::read_onnx(a.model, layers);
        p = run_all(net, xs, [&] { layers.reset_counters(); });
        rs = layers.records(); // counters over the timed passes
        unmatched = layers.unmatched_masks();
      }
      std::string same = "";
      if (!o.tech.dense()) { // OpenCV's own backend on the same masked weights
        const std::string masked = a.model + ".masked.onnx";
        od::write_masked_onnx(a.model, masked, rs);
        cv::dnn::Net own_masked = od::read_onnx(masked);
        ref = run_all(own_masked, xs);
        std::remove(masked.c_str());
        char b[64];
        std::snprintf(b, sizeof b, ", with OpenCV masked %.4f", agreement(p.top1, ref.top1));
        same = b;
      }
      const double passes = static_cast<double>(xs.size());
      double copy = 0, run = 0, weights = 0, removed = 0;
      int on_gapp = 0, fell_back = 0;
      for (auto& r : rs) {
        r.copy_ms /= passes, r.wall_ms /= passes; // per pass
        copy += r.copy_ms, run += r.wall_ms;
        const bool gapp_ran = r.on_gapp && !r.runs_opencv;
        on_gapp += gapp_ran, fell_back += !gapp_ran;
        weights += static_cast<double>(r.info.rows * r.info.cols);
        removed += r.sparsity * static_cast<double>(r.info.rows * r.info.cols);
      }
      std::printf("%-22s median %8.2f ms (%5.2fx)  agreement with OpenCV dense %.4f%s%s\n",
                  ("gapp " + t + (o.tech.dense() ? "" : " " + std::to_string(removed / weights).substr(0, 4))).c_str(),
                  p.median_ms, base.median_ms / p.median_ms, agreement(p.top1, base.top1), same.c_str(),
                  accuracy(p.top1).c_str());
      std::printf("%22s %d layers on gapp, %d on OpenCV; per pass (mean): host<->device copies %.2f ms of %.2f ms in gapp's layers\n", "",
                  on_gapp, fell_back, copy, run);
      for (const auto& u : unmatched) std::printf("%22s mask %s matches no layer of the model\n", "", u.c_str());
      if (a.layers)
        for (const auto& r : rs) {
          // how gapp ran it (lowering, copy cost), or, for a layer OpenCV ran on gapp's
          // weights, how many calls it took there: gapp's lowering flags describe no call of it
          char how[96];
          if (r.on_gapp && !r.runs_opencv)
            std::snprintf(how, sizeof how, "%s %.2f ms, copies %.2f ms",
                          r.padded ? " padded" : r.implicit ? " implicit" : r.narrow ? " narrow" : "", r.wall_ms, r.copy_ms);
          else if (r.runs_opencv)
            std::snprintf(how, sizeof how, " OpenCV's own layer, %zu calls", r.opencv_calls);
          else
            how[0] = '\0';
          std::printf("    %-40s %-6s %5zux%-6zu %-9s s=%.2f %s%s%s%s%s%s\n", r.info.name.c_str(),
                      r.on_gapp && !r.runs_opencv ? "gapp" : "OpenCV", r.info.rows, r.info.cols, r.technique.c_str(), r.sparsity,
                      r.fused_batch_norm ? "+bn" : "", r.fused_relu ? "+relu" : "", how, r.reason.empty() ? "" : " — ",
                      r.reason.c_str(), timed(r).c_str());
        }
    }
  });
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "opencv_dnn: %s\n", e.what());
  return 1;
}
