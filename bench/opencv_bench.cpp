// Whole networks through OpenCV DNN, batch 1: OpenCV's own CPU backend (and its OpenCL
// target where OpenCV has an OpenCL GPU; on a CPU OpenCL device it falls back to the CPU), against OpenCV with gapp's layers dense and pruned
// (SIMD and tile units at 0.75), in one process.
//
//   gapp_bench_opencv --models=DIR [--device=I] [--sparsity=S] [google-benchmark flags]
//
// DIR holds the ONNX files bench/opencv/export.py writes (vgg16_224, resnet18_224,
// vgg16_study, resnet18_fm; the ones present are run). Each benchmark reads its network
// once (gapp's layers prune and pack the weights then, upload at the first pass), runs one
// pass to set it up, and times net.forward() on a fixed random input. Layers whose GEMM has
// fewer than 32 columns (first convolutions on 1 or 3 channels) stay dense. gapp_*_plain rows
// run every convolution in the plain layout (options::padded off), the others run stride-1
// "same" convolutions over padded activations (the default). Counters:
// gapp_ms (mean per pass over the timed passes: host wall time of gapp's layers, copies and
// kernels) and copy_ms (of it, the copy commands' device time), layers on gapp and on OpenCV.
#include <benchmark/benchmark.h>

#include <gapp/integrations/opencv_dnn.hpp>
#include <opencv2/core/ocl.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace od = gapp::integrations::opencv_dnn;

namespace {

struct env_t {
  cl::Device dev;
  cl::Context ctx;
  cl::CommandQueue q;
  double sparsity = 0.75;
};
env_t* g_env = nullptr;

cv::Mat input_for(const std::string& path) {
  const std::vector<std::int64_t> s = od::onnx_input_shape(path);
  std::vector<int> shape(s.begin(), s.end());
  shape.at(0) = 1;
  cv::Mat x(shape, CV_32F);
  std::mt19937 g(7);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (std::size_t i = 0; i < x.total(); ++i) x.ptr<float>()[i] = n(g);
  return x;
}

void time_net(benchmark::State& st, cv::dnn::Net& net, const std::string& path) {
  const cv::Mat x = input_for(path);
  net.setInput(x);
  net.forward(); // set-up, first launches
  for (auto _ : st) {
    net.setInput(x);
    cv::Mat y = net.forward();
    benchmark::DoNotOptimize(y.data);
  }
}

void no_counters(benchmark::State& st) { // every row carries the same counters (the CSV needs them)
  for (const char* c : {"copy_ms", "gapp_ms", "on_gapp", "on_opencv", "sparsity"}) st.counters[c] = 0;
}

/// The network with gapp's layers of the benchmark that ran last, kept for its repetitions
/// (reading VGG16-224 prunes and packs 138 M weights).
template <class P>
struct gapp_net {
  std::string key;
  std::unique_ptr<od::gapp_layers<P>> layers;
  cv::dnn::Net net;
};

template <class P>
gapp_net<P>& gapp_cache() {
  static gapp_net<P> cache;
  return cache;
}

template <class P>
void release_gapp() {
  gapp_net<P>& c = gapp_cache<P>();
  c.net = cv::dnn::Net();
  c.layers.reset(); // OpenCV's own Convolution and InnerProduct layers are registered again
  c.key.clear();
}

template <class P>
void bench_opencv(benchmark::State& st, const std::string& path, int target) {
  // while the kept gapp network's gapp_layers lives, OpenCV would create gapp's layers here
  release_gapp<P>();
  cv::dnn::Net net = od::read_onnx(path);
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(target);
  no_counters(st);
  try {
    time_net(st, net, path);
  } catch (const cv::Exception& e) {
    st.SkipWithError(("OpenCV: " + std::string(e.what())).c_str());
    return;
  }
  for (const cv::String& name : net.getLayerNames()) // OpenCV's own layers only, or the row is no baseline
    if (!net.getLayer(name).dynamicCast<od::detail::weight_layer<P>>().empty()) {
      st.SkipWithError(("layer " + name + " is gapp's: not OpenCV's own backend").c_str());
      return;
    }
}

template <class P>
void bench_gapp(benchmark::State& st, const std::string& path, std::string tech, bool padded) {
  gapp_net<P>& cache = gapp_cache<P>();
  const std::string key = path + "|" + tech + (padded ? "|padded" : "|plain");
  if (cache.key != key) {
    release_gapp<P>();
    od::options o;
    o.tech = gapp::parse_technique(tech);
    o.sparsity = g_env->sparsity;
    o.keep_dense = [](const od::layer_info& l) { return l.cols < 32; };
    o.padded = padded;
    cache.layers = std::make_unique<od::gapp_layers<P>>(g_env->ctx, g_env->dev, g_env->q, o);
    cache.net = od::read_onnx(path, *cache.layers);
    cache.key = key;
  }
  cache.net.setInput(input_for(path));
  cache.net.forward(); // set-up, first launches (time_net's is then a warm pass)
  cache.layers->reset_counters();
  time_net(st, cache.net, path);
  const double passes = static_cast<double>(st.iterations()) + 1.0; // time_net's warm pass counts
  double copy = 0, run = 0, weights = 0, removed = 0;
  int on = 0, off = 0;
  for (const auto& r : cache.layers->records()) {
    copy += r.copy_ms, run += r.wall_ms, on += r.on_gapp, off += !r.on_gapp;
    weights += static_cast<double>(r.info.rows * r.info.cols);
    removed += r.sparsity * static_cast<double>(r.info.rows * r.info.cols);
  }
  st.counters["copy_ms"] = copy / passes; // means per pass over the timed passes
  st.counters["gapp_ms"] = run / passes;
  st.counters["on_gapp"] = on;
  st.counters["on_opencv"] = off;
  st.counters["sparsity"] = weights > 0 ? removed / weights : 0;
}

} // namespace

int main(int argc, char** argv) {
  std::string models;
  int device = 0;
  env_t env;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--models=", 9) == 0) models = argv[i] + 9;
    else if (std::strncmp(argv[i], "--device=", 9) == 0) device = std::atoi(argv[i] + 9);
    else if (std::strncmp(argv[i], "--sparsity=", 11) == 0) env.sparsity = std::atof(argv[i] + 11);
    else rest.push_back(argv[i]);
  }
  if (models.empty()) {
    std::fprintf(stderr, "gapp_bench_opencv: --models=DIR is required (bench/opencv/export.py writes it)\n");
    return 2;
  }
  try {
    env.dev = gapp::opencl::device_at(static_cast<std::size_t>(device));
    env.ctx = cl::Context(env.dev);
    env.q = cl::CommandQueue(env.ctx, env.dev, CL_QUEUE_PROFILING_ENABLE); // times the copies (copy_ms)
    g_env = &env;
    // OpenCV's DNN runs its OpenCL target on GPUs only (elsewhere it switches to its CPU
    // backend, which would only repeat the opencv_cpu rows)
    const bool ocl_gpu = cv::ocl::haveOpenCL() && cv::ocl::useOpenCL() &&
                         (cv::ocl::Device::getDefault().type() & cv::ocl::Device::TYPE_GPU) != 0;
    std::printf("OpenCL device: %s; OpenCV %s, its DNN OpenCL target %s\n", gapp::opencl::query(env.dev).name.c_str(),
                CV_VERSION, ocl_gpu ? "on a GPU: measured" : "has no GPU here: not measured");
    int n = 0;
    gapp::opencl::dispatch(env.dev, [&](auto preset) {
      using P = decltype(preset);
      for (const char* m : {"vgg16_224", "resnet18_224", "vgg16_study", "resnet18_fm"}) {
        const std::string path = models + "/" + m + ".onnx";
        if (!std::filesystem::exists(path)) continue;
        ++n;
        benchmark::RegisterBenchmark((std::string("opencv_cpu/") + m).c_str(), bench_opencv<P>, path,
                                     static_cast<int>(cv::dnn::DNN_TARGET_CPU))->Unit(benchmark::kMillisecond)->UseRealTime();
        if (ocl_gpu)
          benchmark::RegisterBenchmark((std::string("opencv_ocl/") + m).c_str(), bench_opencv<P>, path,
                                       static_cast<int>(cv::dnn::DNN_TARGET_OPENCL))->Unit(benchmark::kMillisecond)->UseRealTime();
        for (const char* t : {"dense", "simd", "tile"})
          for (const bool padded : {true, false})
            benchmark::RegisterBenchmark((std::string("gapp_") + t + (padded ? "" : "_plain") + "/" + m).c_str(),
                                         bench_gapp<P>, path, std::string(t), padded)
                ->Unit(benchmark::kMillisecond)->UseRealTime();
      }
    });
    if (n == 0) {
      std::fprintf(stderr, "gapp_bench_opencv: no model in %s (bench/opencv/export.py writes them)\n", models.c_str());
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gapp_bench_opencv: %s\n", e.what());
    return 1;
  }
  int ac = static_cast<int>(rest.size());
  benchmark::Initialize(&ac, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
