// vgg16_demo — VGG16 pruned with every technique, run through gapp's OpenCL kernels, timed
// and checked against the host reference forward pass.
//
//   vgg16_demo [--device N] [--size 224] [--width 1] [--hidden 4096] [--classes 1000]
//              [--batch 1] [--sparsity 0.75] [--reps 3] [--techniques dense,tile,...]
//              [--weights DIR]
//
// DIR holds PyTorch-named .npy files (see docs/nn.md); without it the weights are
// He-initialised from a fixed seed.
#include <gapp/nn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct args_t {
  int device = 0;
  gapp::nn::vgg16_config cfg;
  std::size_t batch = 1;
  double sparsity = 0.75;
  int reps = 3;
  std::string techniques = "dense,element,filter,channel,nm:2:4,simd,tile,multi,simd-balanced";
  std::string weights;
};

args_t parse(int argc, char** argv) {
  args_t a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw gapp::invalid_argument(k + " needs a value");
      return argv[++i];
    };
    if (k == "--device") a.device = std::stoi(val());
    else if (k == "--size") a.cfg.input = std::stoul(val());
    else if (k == "--width") a.cfg.width = std::stod(val());
    else if (k == "--hidden") a.cfg.hidden = std::stoul(val());
    else if (k == "--classes") a.cfg.classes = std::stoul(val());
    else if (k == "--batch") a.batch = std::stoul(val());
    else if (k == "--sparsity") a.sparsity = std::stod(val());
    else if (k == "--reps") a.reps = std::max(1, std::stoi(val()));
    else if (k == "--techniques") a.techniques = val();
    else if (k == "--weights") a.weights = val();
    else if (k == "--help" || k == "-h") {
      std::puts("vgg16_demo [--device N] [--size 224] [--width 1] [--hidden 4096] [--classes 1000] [--batch 1]\n"
                "           [--sparsity 0.75] [--reps 3] [--techniques dense,tile,...] [--weights DIR]");
      std::exit(0);
    } else throw gapp::invalid_argument("unknown option " + k);
  }
  return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

int main(int argc, char** argv) try {
  const args_t a = parse(argc, argv);
  const auto start = std::chrono::steady_clock::now();
  if (a.device < 0) throw gapp::invalid_argument("--device must be at least 0");
  const cl::Device dev = gapp::opencl::device_at(static_cast<std::size_t>(a.device));
  cl::Context ctx(dev);
  cl::CommandQueue queue(ctx, dev, CL_QUEUE_PROFILING_ENABLE);
  gapp::opencl::program_cache cache;

  std::vector<gapp::technique> techs;
  {
    std::stringstream ss(a.techniques);
    for (std::string t; std::getline(ss, t, ',');) techs.push_back(gapp::parse_technique(t));
  }
  const gapp::nn::vgg16_weights w =
      a.weights.empty() ? gapp::nn::he_init(a.cfg, 2021) : gapp::nn::load_npy_dir(a.cfg, a.weights);
  gapp::nn::tensor4 input(a.batch, a.cfg.in_channels, a.cfg.input, a.cfg.input);
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& v : input.data) v = u(g);

  gapp::opencl::dispatch(dev, [&](auto preset) {
    using P = decltype(preset);
    const gapp::opencl::device_info info = gapp::opencl::query(dev);
    std::printf("gapp VGG16 demo — device: %s, preset %s (%s kernels)\n", info.name.c_str(), std::string(P::name).c_str(),
                gapp::to_string(P::mode).c_str());
    std::printf("input %zux%zux%zux%zu, width x%g, classifier %zu/%zu, target sparsity %.2f, %s weights\n\n", a.batch,
                a.cfg.in_channels, a.cfg.input, a.cfg.input, a.cfg.width, a.cfg.hidden, a.cfg.classes, a.sparsity,
                a.weights.empty() ? "He-initialised" : "loaded");
    struct row {
      std::string tech;
      double sparsity, ms, l2, diff;
    };
    std::vector<row> rows;
    double dense_ms = 0, logit_scale = 0;
    for (auto t : techs) {
      const auto t0 = std::chrono::steady_clock::now();
      std::printf("[%-8s] pruning, packing and building kernels:", gapp::to_string(t).c_str());
      std::fflush(stdout);
      typename gapp::nn::vgg16_net<P>::options opt;
      opt.tech = t, opt.sparsity = a.sparsity, opt.batch = a.batch;
      opt.progress = [](const std::string& layer) {
        std::printf(" %s", layer.c_str());
        std::fflush(stdout);
      };
      gapp::nn::vgg16_net<P> net(ctx, dev, cache, w, opt);
      std::printf(" (%.1f s)\n           running", seconds_since(t0));
      std::fflush(stdout);
      std::vector<float> logits = net.forward(queue, input); // warm-up: first launches
      std::vector<double> times;
      for (int r = 0; r < a.reps; ++r) {
        const auto r0 = std::chrono::steady_clock::now();
        logits = net.forward(queue, input);
        times.push_back(seconds_since(r0) * 1e3);
        std::printf(" %.1f ms", times.back());
        std::fflush(stdout);
      }
      std::sort(times.begin(), times.end());
      double im2col = 0, conv = 0, fc = 0, other = 0;
      for (const auto& [name, ms] : net.last_profile()) {
        if (name.find("im2col") != std::string::npos) im2col += ms;
        else if (name.find("gemm") != std::string::npos) (name[0] == 'f' ? fc : conv) += ms;
        else other += ms;
      }
      std::printf("\n           device time: conv GEMMs %.1f ms, im2col %.1f ms, FC GEMMs %.1f ms, pools %.1f ms", conv,
                  im2col, fc, other);
      std::printf("; host reference ...");
      std::fflush(stdout);
      const auto want = gapp::nn::forward_host(w, input, &net.effective_params());
      double diff = 0;
      for (std::size_t i = 0; i < want.size(); ++i) {
        diff = std::max(diff, static_cast<double>(std::fabs(logits[i] - want[i])));
        logit_scale = std::max(logit_scale, static_cast<double>(std::fabs(want[i])));
      }
      std::printf(" done (%.1f s)\n", seconds_since(t0));
      const double ms = times[times.size() / 2];
      if (t == gapp::parse_technique("dense")) dense_ms = ms;
      rows.push_back({gapp::to_string(t), net.sparsity(), ms, net.kept_l2_fraction(), diff});
    }
    std::printf("\n| technique | sparsity | latency (ms) | speedup vs dense | share of ideal | kept L2 | max |Δlogit| |\n"
                "|---|---|---|---|---|---|---|\n");
    for (const row& r : rows) {
      const double sp = dense_ms > 0 ? dense_ms / r.ms : 0.0;
      char speed[32] = "-", share[32] = "-";
      if (dense_ms > 0) {
        std::snprintf(speed, sizeof speed, "%.2fx", sp);
        std::snprintf(share, sizeof share, "%.2f", sp * (1.0 - r.sparsity));
      }
      std::printf("| %s | %.3f | %.1f | %s | %s | %.3f | %.2e |\n", r.tech.c_str(), r.sparsity, r.ms, speed, share, r.l2,
                  r.diff);
    }
    std::printf("\nlargest |logit| of the host reference: %.2e; latency: median wall time of a forward pass\n",
                logit_scale);
  });
  std::printf("total %.1f s\n", seconds_since(start));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "vgg16_demo: error: %s\n", e.what());
  return 1;
}
