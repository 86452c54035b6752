// GEMM kernels of gapp on VGG16-224 layer shapes, side by side with OpenBLAS cblas_sgemm
// and CLBlast Gemm on the same OpenCL device, in one process.
//
//   gapp_bench_gemm [--quick] [--device=I] [google-benchmark flags]
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
  const char* name;
  int M, K, N;
};
// VGG16 at 224x224, batch 1, as GEMMs: conv1_2, conv2_2, conv3_x, conv4_x, conv5_x
const layer layers[] = {{"conv1_2", 64, 576, 50176},  {"conv2_2", 128, 1152, 12544}, {"conv3_x", 256, 2304, 3136},
                        {"conv4_x", 512, 4608, 784}, {"conv5_x", 512, 4608, 196}};

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

// ------------------------------------------------------------------ summary table
struct result {
  double time = 0, wall = 0, sparsity = 0;
  std::string label;
};
std::map<std::string, result> g_results; // name -> median

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
        auto it = r.counters.find("wall_ms");
        if (it != r.counters.end()) x.wall = it->second;
        it = r.counters.find("sparsity");
        if (it != r.counters.end()) x.sparsity = it->second;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

void print_summary() {
  std::printf("\n# summary (medians; device: %s; OpenBLAS core %s)\n", g_env->device_name.c_str(), openblas_get_corename());
  std::printf("%-8s %-16s %5s %10s %8s %9s %9s %9s %8s\n", "layer", "technique", "s", "time_ms", "GFLOP/s", "vs_dense",
              "share", "vs_oblas", "vs_clb");
  double geo_dense = 0, geo_local = 0;
  int n = 0;
  for (const layer& l : layers) {
    const std::string base = std::string("gemm/") + l.name + "/";
    auto get = [&](const std::string& t) -> const result* {
      auto it = g_results.find(base + t);
      return it == g_results.end() ? nullptr : &it->second;
    };
    const result* ob = get("openblas/0.00");
    const result* cb = get("clblast/0.00");
    const result* dd = get("dense-direct/0.00");
    const result* dl = get("dense-local/0.00");
    if (ob && dd) geo_dense += std::log(ob->time / dd->time), ++n;
    if (ob && dl) geo_local += std::log(ob->time / dl->time);
    for (auto& [name, r] : g_results) {
      if (name.rfind(base, 0) != 0) continue;
      const std::string rest = name.substr(base.size());
      const std::string tech = rest.substr(0, rest.find('/'));
      const double s = std::atof(rest.substr(rest.find('/') + 1).c_str());
      const result* dense = tech.find("local") != std::string::npos ? dl : dd;
      const double flops = 2.0 * l.M * l.K * static_cast<double>(l.N);
      const double sp = dense && tech != "openblas" && tech != "clblast" && dense != &r ? dense->time / r.time : 1.0;
      const double ideal = 1.0 / (1.0 - r.sparsity);
      std::printf("%-8s %-16s %5.2f %10.3f %8.1f %9.2f %9.2f %9.2f %8.2f\n", l.name, tech.c_str(), s, r.time * 1e3,
                   flops / r.time * 1e-9, sp, sp / ideal, ob ? ob->time / r.time : 0.0, cb ? cb->time / r.time : 0.0);
    }
  }
  if (n) {
    std::printf("geometric mean over layers: gapp dense-direct / OpenBLAS = %.2f", std::exp(geo_dense / n));
    if (geo_local != 0) std::printf(", dense-local / OpenBLAS = %.2f", std::exp(geo_local / n));
    std::printf("\n");
  }
}

template <class P>
void register_family(const char* family, bool sparse, const std::vector<double>& sparsities) {
  for (const layer& l : layers) {
    const std::string base = std::string("gemm/") + l.name + "/";
    auto reg = [&](const std::string& tech, double s, auto fn) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%.2f", s);
      benchmark::RegisterBenchmark((base + tech + "/" + buf).c_str(), fn)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.3)->Repetitions(3)->ReportAggregatesOnly(true);
    };
    reg(std::string("dense-") + family, 0.0, [&l](benchmark::State& st) { bench_gapp<P>(st, l, (void*)nullptr, 0, false); });
    if (!sparse) continue;
    for (double s : sparsities) {
      reg("tile", s, [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::tile{}, s, false); });
      reg("tile-balanced", s, [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::tile{}, s, true); });
      reg("simd", s, [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::simd{}, s, false); });
      reg("simd-balanced", s, [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::simd{}, s, true); });
      reg("multi", s, [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::multi{}, s, false); });
      reg("filter", s, [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::filter{}, s, false); });
      reg("csr", s, [&l, s](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::element{}, s, false); });
    }
    reg("nm2:4", 0.5, [&l](benchmark::State& st) { bench_gapp<P>(st, l, gapp::units::nm{2, 4}, 0.5, false); });
  }
}

} // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int device = 0;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strncmp(argv[i], "--device=", 9) == 0) device = std::atoi(argv[i] + 9);
    else args.push_back(argv[i]);
  }
  std::vector<cl::Platform> platforms;
  cl::Platform::get(&platforms);
  std::vector<cl::Device> all;
  for (auto& p : platforms) {
    std::vector<cl::Device> d;
    p.getDevices(CL_DEVICE_TYPE_ALL, &d);
    all.insert(all.end(), d.begin(), d.end());
  }
  if (device < 0 || static_cast<std::size_t>(device) >= all.size()) {
    std::fprintf(stderr, "gapp_bench_gemm: no OpenCL device %d\n", device);
    return 1;
  }
  env_t env{cl::Context(all[static_cast<std::size_t>(device)]), all[static_cast<std::size_t>(device)], {}, {}, {}};
  env.q = cl::CommandQueue(env.ctx, env.dev, CL_QUEUE_PROFILING_ENABLE);
  env.dev.getInfo(CL_DEVICE_NAME, &env.device_name);
  g_env = &env;

  const std::vector<double> sp = quick ? std::vector<double>{0.75} : std::vector<double>{0.5, 0.75, 0.9};
  for (const layer& l : layers) {
    const std::string base = std::string("gemm/") + l.name + "/";
    benchmark::RegisterBenchmark((base + "openblas/0.00").c_str(), [&l](benchmark::State& st) { bench_openblas(st, l); })
        ->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.3)->Repetitions(3)->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark((base + "clblast/0.00").c_str(), [&l](benchmark::State& st) { bench_clblast(st, l); })
        ->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.3)->Repetitions(3)->ReportAggregatesOnly(true);
  }
  cl_device_type type = 0;
  env.dev.getInfo(CL_DEVICE_TYPE, &type);
  if (type & CL_DEVICE_TYPE_CPU) {
    register_family<gapp::presets::pocl_avx512>("direct", true, sp);
    register_family<gapp::presets::nvidia>("local", false, sp);
  } else {
    register_family<gapp::presets::nvidia>("local", true, sp);
    register_family<gapp::presets::arm_mali_valhall>("direct", false, sp);
  }

  int ac = static_cast<int>(args.size());
  benchmark::Initialize(&ac, args.data());
  capture_reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  print_summary();
  benchmark::Shutdown();
  return 0;
}
