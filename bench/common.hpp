// bench/common.hpp — what every benchmark of gapp_bench_gemm shares: the VGG16 layer
// shapes, the OpenCL environment, per-layer data, timing with profiling events, counters,
// and the whole network's weights and input.
#pragma once

#include <gapp/nn.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace gapp_bench {


struct layer {
  std::string name;
  int M, K, N;
  double flops = 0; ///< dense work of the row; 0: a GEMM's 2·M·K·N
};
// VGG16 at 224x224, batch 1, as GEMMs (M = filters, K = in-channels x 3 x 3, N = pixels)
const std::vector<layer> layers224 = {{"conv1_2", 64, 576, 50176},  {"conv2_2", 128, 1152, 12544},
                                      {"conv3_x", 256, 2304, 3136}, {"conv4_x", 512, 4608, 784},
                                      {"conv5_x", 512, 4608, 196}};
// the distinct conv GEMMs of VGG16 at 32x32 (CIFAR size), for a batch
inline std::vector<layer> cifar_layers(int batch) {
  const std::string b = "b" + std::to_string(batch) + "_";
  return {{"c32" + b + "conv1_1", 64, 27, 1024 * batch},  {"c32" + b + "conv1_2", 64, 576, 1024 * batch},
          {"c32" + b + "conv2_1", 128, 576, 256 * batch}, {"c32" + b + "conv2_2", 128, 1152, 256 * batch},
          {"c32" + b + "conv3_1", 256, 1152, 64 * batch}, {"c32" + b + "conv3_2", 256, 2304, 64 * batch},
          {"c32" + b + "conv4_1", 512, 2304, 16 * batch}, {"c32" + b + "conv4_2", 512, 4608, 16 * batch},
          {"c32" + b + "conv5_x", 512, 4608, 4 * batch}};
}
inline std::vector<layer> all_layers;    ///< GEMM shapes
inline std::vector<layer> report_shapes; ///< whole-network rows
/// Weights of the layers that do not use random ones (the accuracy study's trained model), by
/// layer name, M × K row-major.
inline std::map<std::string, std::vector<float>> g_weights;
inline std::string g_sparse_dense = "dense-direct"; ///< the dense row the sparse techniques compare with

struct env_t {
  cl::Context ctx;
  cl::Device dev;
  cl::CommandQueue q;
  gapp::opencl::program_cache cache;
  std::string device_name;
  gapp::device_facts facts;
};
inline std::map<std::string, std::string> g_tuned_policies; ///< technique -> the profile's policy
inline std::map<std::string, std::string> g_row_policies;   ///< "layer/row/s" -> its policy, where it is the row's own

inline env_t* g_env = nullptr;

struct data_t {
  std::vector<float> w, x;
  cl::Buffer xb, yb;
};
std::map<std::string, std::unique_ptr<data_t>> g_data;

inline data_t& data_for(const layer& l) {
  auto& d = g_data[l.name];
  if (!d) {
    d = std::make_unique<data_t>();
    std::mt19937 g(7);
    std::normal_distribution<float> he(0.0f, std::sqrt(2.0f / static_cast<float>(l.K)));
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    d->w.resize(static_cast<std::size_t>(l.M) * l.K);
    d->x.resize(static_cast<std::size_t>(l.K) * l.N);
    for (auto& v : d->w) v = he(g);
    if (auto it = g_weights.find(l.name); it != g_weights.end()) d->w = it->second;
    for (auto& v : d->x) v = u(g);
    d->xb = cl::Buffer(g_env->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, d->x.size() * 4, d->x.data());
    d->yb = cl::Buffer(g_env->ctx, CL_MEM_READ_WRITE, static_cast<std::size_t>(l.M) * l.N * 4);
  }
  return *d;
}

inline double event_seconds(const cl::Event& e) {
  cl_ulong a = 0, b = 0;
  e.getProfilingInfo(CL_PROFILING_COMMAND_START, &a);
  e.getProfilingInfo(CL_PROFILING_COMMAND_END, &b);
  return static_cast<double>(b - a) * 1e-9;
}

inline double flops_of(const layer& l) { return l.flops > 0 ? l.flops : 2.0 * l.M * l.K * static_cast<double>(l.N); }

inline void set_counters(benchmark::State& st, const layer& l, double wall, double sparsity) {
  const double flops = flops_of(l);
  st.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9 * static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["wall_ms"] = benchmark::Counter(wall * 1e3 / static_cast<double>(st.iterations()));
  st.counters["sparsity"] = sparsity;
}

/// Times an enqueue function with profiling events (device time); wall time as a counter.
inline void time_device(benchmark::State& st, const layer& l, double sparsity, const std::function<cl::Event()>& enqueue) {
  enqueue().wait(); // warm: first launch, caches
  double wall = 0, device = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    cl::Event e = enqueue();
    e.wait();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    wall += t;
    device += event_seconds(e);
    st.SetIterationTime(t);
  }
  set_counters(st, l, wall, sparsity);
  st.counters["device_ms"] = benchmark::Counter(device * 1e3 / static_cast<double>(st.iterations()));
}

const gapp::nn::vgg16_weights& vgg16_weights224() {
  static const gapp::nn::vgg16_weights w = gapp::nn::he_init(gapp::nn::vgg16_config{}, 2021);
  return w;
}
const gapp::nn::tensor4& vgg16_input() {
  static const gapp::nn::tensor4 in = [] {
    gapp::nn::tensor4 t(1, 3, 224, 224);
    std::mt19937 g(3);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (auto& v : t.data) v = u(g);
    return t;
  }();
  return in;
}
constexpr double vgg16_flops = 2.0 * 15.47e9;  // multiply-adds of VGG16-224 x 2
const layer vgg16_layer{"vgg16_224", 0, 0, 0, vgg16_flops};

/// 2 × the multiply-adds of a whole network's weight layers at a batch.
inline double network_flops(const gapp::nn::vgg16_weights& w, std::size_t batch) {
  double f = 0;
  for (const auto& l : w.layers)
    f += 2.0 * static_cast<double>(l.shape.gemm_rows()) * static_cast<double>(l.shape.gemm_cols()) *
         static_cast<double>(l.conv ? l.in_size * l.in_size : 1) * static_cast<double>(batch);
  return f;
}

inline void set_vgg_counters(benchmark::State& st, double wall, double sparsity, double flops = vgg16_flops) {
  st.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9 * static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["wall_ms"] = benchmark::Counter(wall * 1e3 / static_cast<double>(st.iterations()));
  st.counters["sparsity"] = sparsity;
}

} // namespace gapp_bench
