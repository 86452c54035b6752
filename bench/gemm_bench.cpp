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
#include <gapp/opencl.hpp>

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <clblast.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" {
void openblas_set_num_threads(int);
char* openblas_get_corename(void);
}

namespace {

struct layer {
  std::string name;
  int M, K, N;
};
// VGG16 at 224x224, batch 1, as GEMMs (M = filters, K = in-channels x 3 x 3, N = pixels)
const std::vector<layer> layers224 = {{"conv1_2", 64, 576, 50176},  {"conv2_2", 128, 1152, 12544},
                                      {"conv3_x", 256, 2304, 3136}, {"conv4_x", 512, 4608, 784},
                                      {"conv5_x", 512, 4608, 196}};
// the distinct conv GEMMs of VGG16 at 32x32 (CIFAR size), for a batch
std::vector<layer> cifar_layers(int batch) {
  const std::string b = "b" + std::to_string(batch) + "_";
  return {{"c32" + b + "conv1_1", 64, 27, 1024 * batch},  {"c32" + b + "conv1_2", 64, 576, 1024 * batch},
          {"c32" + b + "conv2_1", 128, 576, 256 * batch}, {"c32" + b + "conv2_2", 128, 1152, 256 * batch},
          {"c32" + b + "conv3_1", 256, 1152, 64 * batch}, {"c32" + b + "conv3_2", 256, 2304, 64 * batch},
          {"c32" + b + "conv4_1", 512, 2304, 16 * batch}, {"c32" + b + "conv4_2", 512, 4608, 16 * batch},
          {"c32" + b + "conv5_x", 512, 4608, 4 * batch}};
}
std::vector<layer> all_layers;
std::string g_sparse_dense = "dense-direct"; ///< the dense row the sparse techniques compare with

struct env_t {
  cl::Context ctx;
  cl::Device dev;
  cl::CommandQueue q;
  gapp::opencl::program_cache cache;
  std::string device_name;
};

env_t* g_env = nullptr;

struct data_t {
  std::vector<float> w, x;
  cl::Buffer xb, yb;
};
std::map<std::string, std::unique_ptr<data_t>> g_data;

data_t& data_for(const layer& l) {
  auto& d = g_data[l.name];
  if (!d) {
    d = std::make_unique<data_t>();
    std::mt19937 g(7);
    std::normal_distribution<float> he(0.0f, std::sqrt(2.0f / static_cast<float>(l.K)));
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    d->w.resize(static_cast<std::size_t>(l.M) * l.K);
    d->x.resize(static_cast<std::size_t>(l.K) * l.N);
    for (auto& v : d->w) v = he(g);
    for (auto& v : d->x) v = u(g);
    d->xb = cl::Buffer(g_env->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, d->x.size() * 4, d->x.data());
    d->yb = cl::Buffer(g_env->ctx, CL_MEM_READ_WRITE, static_cast<std::size_t>(l.M) * l.N * 4);
  }
  return *d;
}

double event_seconds(const cl::Event& e) {
  cl_ulong a = 0, b = 0;
  e.getProfilingInfo(CL_PROFILING_COMMAND_START, &a);
  e.getProfilingInfo(CL_PROFILING_COMMAND_END, &b);
  return static_cast<double>(b - a) * 1e-9;
}

void set_counters(benchmark::State& st, const layer& l, double wall, double sparsity) {
  const double flops = 2.0 * l.M * l.K * static_cast<double>(l.N);
  st.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9 * static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["wall_ms"] = benchmark::Counter(wall * 1e3 / static_cast<double>(st.iterations()));
  st.counters["sparsity"] = sparsity;
}

/// Times an enqueue function with profiling events (device time); wall time as a counter.
void time_device(benchmark::State& st, const layer& l, double sparsity, const std::function<cl::Event()>& enqueue) {
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

template <class P, class Unit>
void bench_gapp(benchmark::State& st, const layer& l, Unit unit, double s, bool balanced) {
  data_t& d = data_for(l);
  const gapp::matrix_view wv(d.w, static_cast<std::size_t>(l.M), static_cast<std::size_t>(l.K));
  gapp::prune_options opt;
  opt.balanced = balanced;
  std::unique_ptr<gapp::opencl::gemm_op<P>> op;
  double achieved = 0;
  if constexpr (std::is_same_v<Unit, void*>) {
    op = std::make_unique<gapp::opencl::gemm_op<P>>(g_env->ctx, g_env->dev, g_env->cache, wv);
  } else {
    const auto m = gapp::prune<P>(wv, unit, s, opt);
    achieved = m.sparsity();
    op = std::make_unique<gapp::opencl::gemm_op<P>>(g_env->ctx, g_env->dev, g_env->cache, gapp::pack(wv, m));
  }
  st.SetLabel(op->variant());
  time_device(st, l, achieved, [&] { return op->enqueue(g_env->q, d.xb, d.yb, static_cast<std::size_t>(l.N)); });
}

void bench_openblas(benchmark::State& st, const layer& l) {
  data_t& d = data_for(l);
  std::vector<float> y(static_cast<std::size_t>(l.M) * l.N);
  openblas_set_num_threads(2);
  auto call = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l.M, l.N, l.K, 1.0f, d.w.data(), l.K, d.x.data(), l.N, 0.0f,
                y.data(), l.N);
  };
  call();
  double wall = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    wall += t;
    st.SetIterationTime(t);
  }
  st.SetLabel(openblas_get_corename());
  set_counters(st, l, wall, 0);
}

void bench_clblast(benchmark::State& st, const layer& l) {
  data_t& d = data_for(l);
  cl::Buffer wb(g_env->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, d.w.size() * 4, d.w.data());
  cl_command_queue q = g_env->q();
  auto call = [&] {
    cl_event ev = nullptr;
    const auto status = clblast::Gemm<float>(clblast::Layout::kRowMajor, clblast::Transpose::kNo, clblast::Transpose::kNo,
                                             static_cast<std::size_t>(l.M), static_cast<std::size_t>(l.N),
                                             static_cast<std::size_t>(l.K), 1.0f, wb(), 0, static_cast<std::size_t>(l.K),
                                             d.xb(), 0, static_cast<std::size_t>(l.N), 0.0f, d.yb(), 0,
                                             static_cast<std::size_t>(l.N), &q, &ev);
    if (status != clblast::StatusCode::kSuccess) throw std::runtime_error("CLBlast Gemm failed");
    return cl::Event(ev);
  };
  // CLBlast may enqueue several kernels (padding, transposes) and returns the event of
  // the last one only, so its device time is not measurable: wall time is used for both.
  call().wait(); // warm: CLBlast compiles its kernels on first use
  double wall = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    call().wait();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    wall += t;
    st.SetIterationTime(t);
  }
  set_counters(st, l, wall, 0);
}

// ------------------------------------------------------------------ whole VGG16-224
// OpenBLAS forward pass: host im2col (CNHW, gapp's K order) + cblas_sgemm + bias/ReLU, pools.
struct blas_vgg16 {
  const gapp::nn::vgg16_weights* w;
  std::vector<float> col, a, b;

  std::vector<float> forward(const gapp::nn::tensor4& in) {
    const std::size_t S = w->config.input;
    a.assign(in.data.begin(), in.data.end()); // batch 1: NCHW == CNHW
    std::size_t size = S;
    for (std::size_t i = 0; i < w->layers.size(); ++i) {
      const auto& l = w->layers[i];
      const auto& p = w->params[i];
      const int M = static_cast<int>(l.shape.gemm_rows()), K = static_cast<int>(l.shape.gemm_cols());
      if (l.conv) {
        const std::size_t C = l.shape.in_channels, N = size * size;
        col.resize(static_cast<std::size_t>(K) * N);
        for (std::size_t c = 0; c < C; ++c)
          for (std::size_t r = 0; r < 3; ++r)
            for (std::size_t q = 0; q < 3; ++q) {
              float* out = &col[((c * 3 + r) * 3 + q) * N];
              for (std::size_t y = 0; y < size; ++y)
                for (std::size_t x = 0; x < size; ++x) {
                  const long yy = static_cast<long>(y + r) - 1, xx = static_cast<long>(x + q) - 1;
                  out[y * size + x] = (yy < 0 || xx < 0 || yy >= static_cast<long>(size) || xx >= static_cast<long>(size))
                                          ? 0.0f
                                          : a[(c * size + static_cast<std::size_t>(yy)) * size + static_cast<std::size_t>(xx)];
                }
            }
        b.resize(static_cast<std::size_t>(M) * N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, static_cast<int>(N), K, 1.0f, p.weight.data(), K,
                    col.data(), static_cast<int>(N), 0.0f, b.data(), static_cast<int>(N));
        for (std::size_t m = 0; m < static_cast<std::size_t>(M); ++m)
          for (std::size_t n = 0; n < N; ++n) b[m * N + n] = std::max(b[m * N + n] + p.bias[m], 0.0f);
        if (l.pool) {
          const std::size_t h = size / 2;
          a.resize(static_cast<std::size_t>(M) * h * h);
          for (std::size_t m = 0; m < static_cast<std::size_t>(M); ++m)
            for (std::size_t y = 0; y < h; ++y)
              for (std::size_t x = 0; x < h; ++x) {
                const float* r0 = &b[(m * size + 2 * y) * size + 2 * x];
                a[(m * h + y) * h + x] = std::max(std::max(r0[0], r0[1]), std::max(r0[size], r0[size + 1]));
              }
          size = h;
        } else {
          a.swap(b);
        }
      } else {
        b.resize(static_cast<std::size_t>(M));
        cblas_sgemv(CblasRowMajor, CblasNoTrans, M, K, 1.0f, p.weight.data(), K, a.data(), 1, 0.0f, b.data(), 1);
        for (std::size_t m = 0; m < static_cast<std::size_t>(M); ++m)
          b[m] = l.relu ? std::max(b[m] + p.bias[m], 0.0f) : b[m] + p.bias[m];
        a.swap(b);
      }
    }
    return a;
  }
};

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
const layer vgg16_layer{"vgg16_224", 1, 1, 1}; // flops set below
constexpr double vgg16_flops = 2.0 * 15.47e9;  // multiply-adds of VGG16-224 x 2

void set_vgg_counters(benchmark::State& st, double wall, double sparsity) {
  st.counters["GFLOPS"] = benchmark::Counter(vgg16_flops * 1e-9 * static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["wall_ms"] = benchmark::Counter(wall * 1e3 / static_cast<double>(st.iterations()));
  st.counters["sparsity"] = sparsity;
}

template <class P>
void bench_vgg16(benchmark::State& st, gapp::opencl::technique t, double s) {
  typename gapp::opencl::vgg16_net<P>::options opt;
  opt.tech = t, opt.sparsity = s;
  gapp::opencl::vgg16_net<P> net(g_env->ctx, g_env->dev, g_env->cache, vgg16_weights224(), opt);
  net.forward(g_env->q, vgg16_input());
  double wall = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(net.forward(g_env->q, vgg16_input()));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    wall += dt;
    st.SetIterationTime(dt);
  }
  st.SetLabel(gapp::opencl::to_string(t));
  set_vgg_counters(st, wall, net.sparsity());
}

void bench_vgg16_openblas(benchmark::State& st) {
  openblas_set_num_threads(2);
  blas_vgg16 net{&vgg16_weights224(), {}, {}, {}};
  net.forward(vgg16_input());
  double wall = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(net.forward(vgg16_input()));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    wall += dt;
    st.SetIterationTime(dt);
  }
  st.SetLabel("host im2col + cblas_sgemm");
  set_vgg_counters(st, wall, 0);
}

// ------------------------------------------------------------------ results, CSV, summary
struct result {
  double time = 0, wall = 0, device = 0, sparsity = 0;
  std::string label;
};
std::map<std::string, result> g_results; // "shape/technique/s" -> median

class capture_reporter : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      std::string name = r.benchmark_name();
      const bool median = r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !median) continue;
      for (const char* tail : {"/min_time", "/repeats", "/manual_time"}) {
        const auto cut = name.find(tail);
        if (cut != std::string::npos) name = name.substr(0, cut);
      }
      result& x = g_results[name];
      if (median || x.time == 0) {
        x.time = r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
        x.label = r.report_label;
        auto get = [&](const char* c) {
          auto it = r.counters.find(c);
          return it == r.counters.end() ? 0.0 : static_cast<double>(it->second);
        };
        x.wall = get("wall_ms"), x.device = get("device_ms"), x.sparsity = get("sparsity");
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

struct row {
  std::string shape, tech;
  double s, time_ms, device_ms, gflops, vs_dense, share, vs_oblas, vs_clb;
};

std::vector<row> rows_of(const std::vector<layer>& ls) {
  std::vector<row> out;
  auto shapes = ls;
  shapes.push_back({"vgg16_224", 0, 0, 0});
  for (const layer& l : shapes) {
    const std::string base = l.name + "/";
    auto get = [&](const std::string& t) -> const result* {
      auto it = g_results.find(base + t);
      return it == g_results.end() ? nullptr : &it->second;
    };
    const result* ob = get("openblas/0.00");
    const result* cb = get("clblast/0.00");
    const result* dd = get("dense-direct/0.00");
    const result* dl = get("dense-local/0.00");
    const double flops = l.name == "vgg16_224" ? vgg16_flops : 2.0 * l.M * l.K * static_cast<double>(l.N);
    for (auto& [name, r] : g_results) {
      if (name.rfind(base, 0) != 0) continue;
      const std::string rest = name.substr(base.size());
      const std::string tech = rest.substr(0, rest.find('/'));
      const double s = std::atof(rest.substr(rest.find('/') + 1).c_str());
      const result* dense = tech.find("local") != std::string::npos || !dd ? dl : dd;
      const bool peer = tech == "openblas" || tech == "clblast";
      const double sp = dense && !peer ? dense->time / r.time : 0.0;
      out.push_back({l.name, tech, s, r.time * 1e3, r.device, flops / r.time * 1e-9, sp, sp * (1.0 - r.sparsity),
                     ob ? ob->time / r.time : 0.0, cb ? cb->time / r.time : 0.0});
    }
  }
  return out;
}

void write_csv(const std::vector<row>& rows, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::fprintf(f, "shape,technique,sparsity,time_ms,device_ms,gflops_dense_equiv,speedup_vs_gapp_dense,share_of_ideal,"
                  "speedup_vs_openblas,speedup_vs_clblast,device\n");
  for (const row& r : rows)
    std::fprintf(f, "%s,%s,%.2f,%.4f,%.4f,%.2f,%.4f,%.4f,%.4f,%.4f,\"%s\"\n", r.shape.c_str(), r.tech.c_str(), r.s,
                 r.time_ms, r.device_ms, r.gflops, r.vs_dense, r.share, r.vs_oblas, r.vs_clb, g_env->device_name.c_str());
  std::fclose(f);
}

void print_summary(const std::vector<row>& rows) {
  std::printf("\n# summary (medians of wall time; device: %s; OpenBLAS core %s)\n", g_env->device_name.c_str(),
              openblas_get_corename());
  std::printf("%-22s %-16s %5s %10s %8s %9s %7s %9s %8s\n", "shape", "technique", "s", "time_ms", "GFLOP/s", "vs_dense",
              "share", "vs_oblas", "vs_clb");
  for (const row& r : rows)
    std::printf("%-22s %-16s %5.2f %10.3f %8.1f %9.2f %7.2f %9.2f %8.2f\n", r.shape.c_str(), r.tech.c_str(), r.s,
                r.time_ms, r.gflops, r.vs_dense, r.share, r.vs_oblas, r.vs_clb);
  double g = 0;
  int n = 0;
  for (const row& r : rows)
    if (r.tech == g_sparse_dense && r.shape.rfind("conv", 0) == 0 && r.vs_oblas > 0) g += std::log(r.vs_oblas), ++n;
  if (n)
    std::printf("geometric mean over the 224 layers: gapp %s / OpenBLAS = %.2f\n", g_sparse_dense.c_str(), std::exp(g / n));
}

// ------------------------------------------------------------------ registration
benchmark::internal::Benchmark* reg(const std::string& name, std::function<void(benchmark::State&)> fn) {
  return benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& st) { fn(st); })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond)
      ->MinTime(0.3)
      ->Repetitions(3)
      ->ReportAggregatesOnly(true);
}

std::string key(const layer& l, const std::string& tech, double s) {
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
void register_direct(const layer& l, const std::vector<double>& sparsities, bool all_techniques) {
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
    reg(key(l, "nm2:4", 0.5), [&l](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::nm{2, 4}, 0.5, false); });
  }
}

template <class Direct, class Local>
void register_all(bool quick) {
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
  reg(key(v, dense_name<Direct>(), 0), [](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::opencl::technique::dense, 0); });
  for (double s : sp) {
    reg(key(v, "tile", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::opencl::technique::tile, s); });
    reg(key(v, "simd", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::opencl::technique::simd, s); });
    reg(key(v, "multi", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::opencl::technique::multi, s); });
    reg(key(v, "balanced", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::opencl::technique::balanced, s); });
    if (!quick) {
      reg(key(v, "filter", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::opencl::technique::filter, s); });
      reg(key(v, "channel", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::opencl::technique::channel, s); });
      reg(key(v, "element", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::opencl::technique::element, s); });
    }
  }
}

} // namespace

int main(int argc, char** argv) {
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
