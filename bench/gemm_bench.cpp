// gapp's kernels on VGG16 layer shapes (224x224, and 32x32 at batch 1 and 32) and on the
// whole VGG16-224 forward pass, side by side with OpenBLAS cblas_sgemm and CLBlast Gemm on
// the same OpenCL device, in one process.
//
//   gapp_bench_gemm [--quick] [--device=I] [--csv=PATH] [google-benchmark flags]
//
// The reported time is the wall time of each whole call (enqueue to completion, what an
// application waits for); device_ms is the kernel time from OpenCL profiling events. GFLOP/s count the dense
// work 2·M·N·K, so a sparse kernel's figure is its dense-equivalent rate. After the runs a
// table of medians prints speedups over gapp dense (same family), over OpenBLAS and over
// CLBlast, and the share of the ideal sparse speedup 1/(1−s).
//
// bench/common.hpp holds the shapes, environment and timing; bench/peers.hpp the OpenBLAS
// and CLBlast peers; bench/report.hpp the CSV and summary; this file gapp's own benchmarks
// and their registration.
#include "common.hpp"
#include "peers.hpp"
#include "report.hpp"

#include <cstring>

namespace gapp_bench {

template <class P, class Unit>
void bench_gapp(benchmark::State& st, const layer& l, Unit unit, double s, bool balanced) {
  data_t& d = data_for(l);
  const gapp::matrix_view wv(d.w, static_cast<std::size_t>(l.M), static_cast<std::size_t>(l.K));
  gapp::prune_options opt;
  opt.balanced = balanced;
  std::unique_ptr<gapp::opencl::gemm_op<P>> op;
  double achieved = 0;
  gapp::unit_shape us{1, 1};
  if constexpr (std::is_same_v<Unit, void*>) {
    op = std::make_unique<gapp::opencl::gemm_op<P>>(g_env->ctx, g_env->dev, g_env->cache, wv);
  } else {
    const auto m = gapp::prune<P>(wv, unit, s, opt);
    achieved = m.sparsity();
    us = m.shape();
    op = std::make_unique<gapp::opencl::gemm_op<P>>(g_env->ctx, g_env->dev, g_env->cache, gapp::pack(wv, m));
  }
  st.SetLabel(op->variant());
  time_device(st, l, achieved, [&] { return op->enqueue(g_env->q, d.xb, d.yb, static_cast<std::size_t>(l.N)); });
  st.counters["unit_rows"] = us.rows; // the selecting unit, for the CSV's flags
  st.counters["unit_cols"] = us.cols;
}

template <class P>
void bench_vgg16(benchmark::State& st, gapp::technique t, double s) {
  typename gapp::nn::vgg16_net<P>::options opt;
  opt.tech = t, opt.sparsity = s;
  gapp::nn::vgg16_net<P> net(g_env->ctx, g_env->dev, g_env->cache, vgg16_weights224(), opt);
  net.forward(g_env->q, vgg16_input());
  double wall = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(net.forward(g_env->q, vgg16_input()));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    wall += dt;
    st.SetIterationTime(dt);
  }
  st.SetLabel(gapp::to_string(t));
  set_vgg_counters(st, wall, net.sparsity());
}

// ------------------------------------------------------------------ registration
inline benchmark::internal::Benchmark* reg(const std::string& name, std::function<void(benchmark::State&)> fn) {
  return benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& st) { fn(st); })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond)
      ->MinTime(0.3)
      ->Repetitions(3)
      ->ReportAggregatesOnly(true);
}

inline std::string key(const layer& l, const std::string& tech, double s) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return l.name + "/" + tech + "/" + buf;
}

/// The dense row of a kernel family: dense-direct or dense-local.
template <class P>
std::string dense_name() {
  return "dense-" + gapp::to_string(P::mode);
}

/// The sparse techniques run with policy P (the direct family on CPUs, the preset's own on GPUs).
template <class P>
inline void register_direct(const layer& l, const std::vector<double>& sparsities, bool all_techniques) {
  reg(key(l, dense_name<P>(), 0), [&l](benchmark::State& st) { bench_gapp<P>(st, l, (void*)nullptr, 0, false); });
  for (double s : sparsities) {
    reg(key(l, "tile", s), [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::tile{}, s, false); });
    reg(key(l, "simd", s), [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::simd{}, s, false); });
    reg(key(l, "multi", s), [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::multi{}, s, false); });
    if (!all_techniques) continue;
    reg(key(l, "tile-balanced", s), [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::tile{}, s, true); });
    reg(key(l, "simd-balanced", s), [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::simd{}, s, true); });
    reg(key(l, "filter", s), [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::filter{}, s, false); });
    reg(key(l, "channel", s), [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::channel{9}, s, false); });
    reg(key(l, "csr", s), [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::element{}, s, false); });
  }
  if (all_techniques) {
    reg(key(l, "csr", 0.95), [&l](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::element{}, 0.95, false); });
    reg(key(l, "nm:2:4", 0.5), [&l](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::nm{2, 4}, 0.5, false); });
  }
}

template <class Direct, class Local>
inline void register_all(bool quick) {
  g_sparse_dense = dense_name<Direct>();
  const std::vector<double> sp = quick ? std::vector<double>{0.75} : std::vector<double>{0.5, 0.75, 0.9};
  all_layers = layers224;
  if (!quick)
    for (int b : {1, 32})
      for (const layer& l : cifar_layers(b)) all_layers.push_back(l);
  for (const layer& l : all_layers) {
    reg(key(l, "openblas", 0), [&l](benchmark::State& st) { bench_openblas(st, l); });
    reg(key(l, "clblast", 0), [&l](benchmark::State& st) { bench_clblast(st, l); });
    register_direct<Direct>(l, sp, true);
    if constexpr (!std::is_same_v<Direct, Local>)
      reg(key(l, "dense-local", 0), [&l](benchmark::State& st) { bench_gapp<Local>(st, l, (void*)nullptr, 0, false); });
  }
  const layer& v = vgg16_layer;
  reg(key(v, "openblas", 0), [](benchmark::State& st) { bench_vgg16_openblas(st); });
  reg(key(v, dense_name<Direct>(), 0), [](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("dense"), 0); });
  for (double s : sp) {
    reg(key(v, "tile", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("tile"), s); });
    reg(key(v, "simd", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("simd"), s); });
    reg(key(v, "multi", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("multi"), s); });
    reg(key(v, "simd-balanced", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("simd-balanced"), s); });
    if (!quick) {
      reg(key(v, "filter", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("filter"), s); });
      reg(key(v, "channel", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("channel"), s); });
      reg(key(v, "element", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("element"), s); });
    }
  }
}

} // namespace gapp_bench

int main(int argc, char** argv) {
  using namespace gapp_bench;
  bool quick = false;
  int device = 0;
  std::string csv;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strncmp(argv[i], "--device=", 9) == 0) device = std::atoi(argv[i] + 9);
    else if (std::strncmp(argv[i], "--csv=", 6) == 0) csv = argv[i] + 6;
    else args.push_back(argv[i]);
  }
  if (device < 0) {
    std::fprintf(stderr, "gapp_bench_gemm: --device must be at least 0\n");
    return 1;
  }
  const cl::Device dev = gapp::opencl::device_at(static_cast<std::size_t>(device));
  env_t env{cl::Context(dev), dev, {}, {}, {}};
  env.q = cl::CommandQueue(env.ctx, env.dev, CL_QUEUE_PROFILING_ENABLE);
  env.dev.getInfo(CL_DEVICE_NAME, &env.device_name);
  g_env = &env;

  cl_device_type type = 0;
  env.dev.getInfo(CL_DEVICE_TYPE, &type);
  std::string vendor;
  env.dev.getInfo(CL_DEVICE_VENDOR, &vendor);
  // CPUs: the sparse techniques on the direct family; NVIDIA GPUs: everything on the nvidia
  // preset (local family); other GPUs: the direct family of arm-mali-valhall beside nvidia's.
  if (type & CL_DEVICE_TYPE_CPU) register_all<gapp::presets::pocl_avx512, gapp::presets::nvidia>(quick);
  else if (vendor.find("NVIDIA") != std::string::npos) register_all<gapp::presets::nvidia, gapp::presets::nvidia>(quick);
  else register_all<gapp::presets::arm_mali_valhall, gapp::presets::nvidia>(quick);

  int ac = static_cast<int>(args.size());
  benchmark::Initialize(&ac, args.data());
  capture_reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  const auto rows = rows_of(all_layers);
  print_summary(rows);
  if (!csv.empty()) write_csv(rows, csv);
  benchmark::Shutdown();
  return 0;
}
