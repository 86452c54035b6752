// gapp's kernels on VGG16 layer shapes (224x224, and 32x32 at batch 1 and 32) and on the
// whole VGG16-224 forward pass, side by side with OpenBLAS cblas_sgemm and CLBlast Gemm on
// the same OpenCL device, in one process.
//
//   gapp_bench_gemm [--quick] [--device=I] [--csv=PATH] [--profile=FILE]
//                   [--trained=DIR [--trained-only]] [google-benchmark flags]
//
// --profile=FILE (or a profile in the documented location, docs/tuning.md) adds rows with
// the profile's best policies beside the preset's: dense-tuned, simd-tuned, tile-tuned on
// the VGG16-224 layers (one policy per technique, the best over all the profile's shapes),
// their padded forms (…-padded-tuned), and each layer with the profile's best policy on its
// own shape (dense-padded-layer-tuned, simd-…, tile-…; the CSV's policy column names it).
// Tuned rows' shares are against the fastest dense of their layout, preset or tuned.
//
// The five VGG16-224 layers also run as the network runs them: 3×3 convolutions over padded
// activations (dense-padded, simd-padded, tile-padded at 0.75 and 0.9; their shares against
// dense-padded), beside the GEMM over the layer's im2col matrix (the other rows). Rows
// simd-padded-one-tile (layers) and simd-one-tile (whole network) run the same SIMD units
// with one work-group per column tile (gemm_options::tiles_per_group = 1), beside gemm_op's
// choice (several tiles per work-group on CPU devices, docs/kernels.md).
//
// --trained=DIR adds the conv layers and the whole network of the accuracy study's dense
// model (a gapp-vgg16 weights directory, e.g. build/accuracy/dense), batch 100, shapes
// fm_conv…/fm_vgg16, beside random He weights of the same shapes (fm-random_…): dense, tile,
// SIMD and balanced SIMD units at 0.75 and 0.9 on the CPU device's direct family.
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

#include <gapp/tune.hpp>

#include <algorithm>
#include <cstring>
#include <optional>

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

/// The padded layer buffers: the input C × (h+2)² with a zero border (the layer's X values
/// inside), the output M × (h+2)², zeroed once.
struct padded_data {
  cl::Buffer xb, yb;
};
std::map<std::string, padded_data> g_padded;

/// A VGG16-224 layer as the network runs it by default: a 3×3 convolution over padded
/// activations (batch 1, N = h²), the GEMM reading the input directly (gemm_options::padded).
/// Its FLOPs are the GEMM's, so its rows compare with the matrix rows; its X is the 12.8 MB
/// of activations (conv1_2), not the 115.6 MB column matrix.
template <class P, class Unit>
void bench_padded(benchmark::State& st, const layer& l, Unit unit, double s, std::size_t tiles_per_group = 0) {
  const std::size_t M = static_cast<std::size_t>(l.M), K = static_cast<std::size_t>(l.K), C = K / 9;
  const auto h = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(l.N))));
  if (K % 9 != 0 || h * h != static_cast<std::size_t>(l.N)) throw std::runtime_error(l.name + " is not a 3x3 convolution of a square image");
  data_t& d = data_for(l);
  padded_data& pd = g_padded[l.name];
  if (pd.xb() == nullptr) {
    std::vector<float> x = gapp::kernels::to_padded(d.x, C, h, h);
    pd.xb = cl::Buffer(g_env->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, x.size() * 4, x.data());
    std::vector<float> y(M * (h + 2) * (h + 2), 0.0f);
    pd.yb = cl::Buffer(g_env->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, y.size() * 4, y.data());
  }
  const gapp::matrix_view wv(d.w, M, K);
  gapp::opencl::gemm_options go;
  go.implicit_kh = go.implicit_kw = 3, go.padded = true, go.narrow = false;
  go.tiles_per_group = tiles_per_group;
  std::unique_ptr<gapp::opencl::gemm_op<P>> op;
  double achieved = 0;
  gapp::unit_shape us{1, 1};
  if constexpr (std::is_same_v<Unit, void*>) {
    op = std::make_unique<gapp::opencl::gemm_op<P>>(g_env->ctx, g_env->dev, g_env->cache, wv, go);
  } else {
    const auto m = gapp::prune<P>(wv, unit, s);
    achieved = m.sparsity();
    us = m.shape();
    op = std::make_unique<gapp::opencl::gemm_op<P>>(g_env->ctx, g_env->dev, g_env->cache, gapp::pack(wv, m), go);
  }
  if (!op->plan().padded()) throw std::runtime_error(l.name + ": the plan is not padded");
  st.SetLabel(op->variant() + " padded");
  time_device(st, l, achieved, [&] { return op->enqueue_conv(g_env->q, pd.xb, pd.yb, 1, h, h); });
  st.counters["unit_rows"] = us.rows;
  st.counters["unit_cols"] = us.cols;
}

/// How the network's convolutions run: as the library does by default (implicit GEMMs over
/// padded activations where the technique's plan can, the others the faster of implicit
/// GEMM and im2col + GEMM, measured at the first pass), always as implicit GEMMs over plain
/// activations (masked at the image edges), or always as im2col + GEMM.
enum class lowering_mode { chosen, implicit, im2col };

template <class P>
void bench_vgg16(benchmark::State& st, gapp::technique t, double s, const gapp::nn::vgg16_weights& w = vgg16_weights224(),
                 const gapp::nn::tensor4& input = vgg16_input(), lowering_mode lm = lowering_mode::chosen,
                 std::size_t tiles_per_group = 0) {
  typename gapp::nn::vgg16_net<P>::options opt;
  opt.tech = t, opt.sparsity = s, opt.batch = input.n;
  opt.tiles_per_group = tiles_per_group;
  opt.implicit_conv = lm != lowering_mode::im2col; // false: im2col into a scratch matrix, then the GEMM
  opt.choose_lowering = lm == lowering_mode::chosen;
  opt.padded = lm == lowering_mode::chosen;
  gapp::nn::vgg16_net<P> net(g_env->ctx, g_env->dev, g_env->cache, w, opt);
  net.forward(g_env->q, input); // and, when chosen, each conv layer measured both ways
  int implicit_layers = 0, padded_layers = 0;
  for (const auto& l : net.lowerings()) implicit_layers += l.implicit, padded_layers += l.padded;
  double wall = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(net.forward(g_env->q, input));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    wall += dt;
    st.SetIterationTime(dt);
  }
  st.SetLabel(gapp::to_string(t));
  set_vgg_counters(st, wall, net.sparsity(), network_flops(w, input.n));
  st.counters["implicit_layers"] = implicit_layers;
  st.counters["padded_layers"] = padded_layers;
  st.counters["kept_l2"] = net.kept_l2_fraction();
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

/// Rows of the device profile's best policies (gapp-tune) beside the preset's, each with the
/// profile's best candidate for that technique: over the im2col matrix (dense-tuned,
/// simd-tuned, tile-tuned) and as padded convolutions (dense-padded-tuned, simd-padded-tuned,
/// tile-padded-tuned), on the VGG16-224 layers.
template <class Direct>
inline void register_tuned(const gapp::tune::profile& prof, const std::vector<double>& sparsities) {
  for (const std::string tech : {"dense", "simd", "tile"}) {
    const gapp::tune::tuned_choice c = gapp::tune::choose_tuned(&prof, g_env->facts, std::string(Direct::name), tech);
    if (!c.tuned) continue;
    g_tuned_policies[tech] = c.policy;
    gapp::tune::candidates<Direct>::visit(c.policy, [&](auto cand) {
      using T = decltype(cand);
      for (const layer& l : layers224) {
        const layer* lp = &*std::find_if(all_layers.begin(), all_layers.end(), [&](const layer& x) { return x.name == l.name; });
        if (tech == "dense") {
          reg(key(*lp, "dense-tuned", 0), [lp](benchmark::State& st) { bench_gapp<T>(st, *lp, (void*)nullptr, 0, false); });
          reg(key(*lp, "dense-padded-tuned", 0), [lp](benchmark::State& st) { bench_padded<T>(st, *lp, (void*)nullptr, 0); });
          continue;
        }
        for (double s : sparsities) {
          if (tech == "simd") {
            reg(key(*lp, "simd-tuned", s), [lp, s](benchmark::State& st) { bench_gapp<T>(st, *lp, gapp::units::simd{}, s, false); });
            reg(key(*lp, "simd-padded-tuned", s), [lp, s](benchmark::State& st) { bench_padded<T>(st, *lp, gapp::units::simd{}, s); });
          } else {
            reg(key(*lp, "tile-tuned", s), [lp, s](benchmark::State& st) { bench_gapp<T>(st, *lp, gapp::units::tile{}, s, false); });
            reg(key(*lp, "tile-padded-tuned", s), [lp, s](benchmark::State& st) { bench_padded<T>(st, *lp, gapp::units::tile{}, s); });
          }
        }
      }
    });
    // each layer at each sparsity with the profile's best policy for that shape and sparsity
    // (tune::choose_tuned with both), as padded convolutions: rows dense-padded-layer-tuned,
    // simd-…, tile-…
    for (const layer& l : layers224) {
      const layer* lp = &*std::find_if(all_layers.begin(), all_layers.end(), [&](const layer& x) { return x.name == l.name; });
      const std::string row = tech + "-padded-layer-tuned";
      for (double s : tech == "dense" ? std::vector<double>{0} : sparsities) {
        const gapp::tune::shape_mkn shape{static_cast<std::size_t>(l.M), static_cast<std::size_t>(l.K),
                                          static_cast<std::size_t>(l.N), s};
        const gapp::tune::tuned_choice lc = gapp::tune::choose_tuned(&prof, g_env->facts, std::string(Direct::name), tech, shape);
        if (!lc.tuned) continue;
        gapp::tune::candidates<Direct>::visit(lc.policy, [&](auto cand) {
          using T = decltype(cand);
          const std::string k = key(*lp, row, s);
          g_row_policies[k] = lc.policy;
          if (tech == "dense") reg(k, [lp](benchmark::State& st) { bench_padded<T>(st, *lp, (void*)nullptr, 0); });
          else if (tech == "simd") reg(k, [lp, s](benchmark::State& st) { bench_padded<T>(st, *lp, gapp::units::simd{}, s); });
          else reg(k, [lp, s](benchmark::State& st) { bench_padded<T>(st, *lp, gapp::units::tile{}, s); });
        });
      }
    }
  }
}

template <class Direct, class Local>
inline void register_all(bool quick, const gapp::tune::profile* prof) {
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
    if (quick) { // the targets name 0.9 too: SIMD and tile units there, the other techniques in the full run
      reg(key(l, "tile", 0.9), [&l](benchmark::State& st) { bench_gapp<Direct>(st, l, gapp::units::tile{}, 0.9, false); });
      reg(key(l, "simd", 0.9), [&l](benchmark::State& st) { bench_gapp<Direct>(st, l, gapp::units::simd{}, 0.9, false); });
    }
    if (l.name.rfind("conv", 0) == 0) { // the 224 layers as convolutions over padded activations
      reg(key(l, "dense-padded", 0), [&l](benchmark::State& st) { bench_padded<Direct>(st, l, (void*)nullptr, 0); });
      for (double s : {0.75, 0.9}) {
        reg(key(l, "simd-padded", s), [&l, s](benchmark::State& st) { bench_padded<Direct>(st, l, gapp::units::simd{}, s); });
        // one work-group per column tile (gemm_options::tiles_per_group = 1), as before the choice
        reg(key(l, "simd-padded-one-tile", s), [&l, s](benchmark::State& st) { bench_padded<Direct>(st, l, gapp::units::simd{}, s, 1); });
        reg(key(l, "tile-padded", s), [&l, s](benchmark::State& st) { bench_padded<Direct>(st, l, gapp::units::tile{}, s); });
      }
    }
    if constexpr (!std::is_same_v<Direct, Local>)
      reg(key(l, "dense-local", 0), [&l](benchmark::State& st) { bench_gapp<Local>(st, l, (void*)nullptr, 0, false); });
  }
  if (prof) register_tuned<Direct>(*prof, quick ? std::vector<double>{0.75, 0.9} : sp);
  const layer& v = vgg16_layer;
  report_shapes.push_back(v);
  reg(key(v, "openblas", 0), [](benchmark::State& st) { bench_vgg16_openblas(st); });
  reg(key(v, dense_name<Direct>(), 0), [](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("dense"), 0); });
  // the same network with every convolution one way: im2col + GEMM, implicit GEMM
  reg(key(v, dense_name<Direct>() + "-im2col", 0), [](benchmark::State& st) {
    bench_vgg16<Direct>(st, gapp::parse_technique("dense"), 0, vgg16_weights224(), vgg16_input(), lowering_mode::im2col);
  });
  reg(key(v, dense_name<Direct>() + "-implicit", 0), [](benchmark::State& st) {
    bench_vgg16<Direct>(st, gapp::parse_technique("dense"), 0, vgg16_weights224(), vgg16_input(), lowering_mode::implicit);
  });
  for (double s : sp) {
    reg(key(v, "tile", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("tile"), s); });
    reg(key(v, "simd", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("simd"), s); });
    reg(key(v, "simd-one-tile", s), [s](benchmark::State& st) {
      bench_vgg16<Direct>(st, gapp::parse_technique("simd"), s, vgg16_weights224(), vgg16_input(), lowering_mode::chosen, 1);
    });
    reg(key(v, "multi", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("multi"), s); });
    reg(key(v, "simd-balanced", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("simd-balanced"), s); });
    // the same networks with every convolution one way
    for (const char* t : {"tile", "simd"}) {
      reg(key(v, std::string(t) + "-im2col", s), [s, t](benchmark::State& st) {
        bench_vgg16<Direct>(st, gapp::parse_technique(t), s, vgg16_weights224(), vgg16_input(), lowering_mode::im2col);
      });
      reg(key(v, std::string(t) + "-implicit", s), [s, t](benchmark::State& st) {
        bench_vgg16<Direct>(st, gapp::parse_technique(t), s, vgg16_weights224(), vgg16_input(), lowering_mode::implicit);
      });
    }
    if (!quick) {
      reg(key(v, "filter", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("filter"), s); });
      reg(key(v, "channel", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("channel"), s); });
      reg(key(v, "element", s), [s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique("element"), s); });
    }
  }
}

// ------------------------------------------------------------------ trained weights
// The accuracy study's dense model (bench/accuracy/run exports it as .npy files) beside
// random He weights of the same shapes: magnitude selection on trained weights keeps units
// unevenly across rows and layers, random weights spread them evenly.

inline void register_trained(const std::string& dir, std::size_t batch) {
  using Direct = gapp::presets::pocl_avx512;
  const gapp::nn::vgg16_config cfg = gapp::nn::infer_config(dir);
  static gapp::nn::vgg16_weights trained, random;
  static gapp::nn::tensor4 input;
  trained = gapp::nn::load_npy_dir(cfg, dir);
  random = gapp::nn::he_init(cfg, 2021);
  input = gapp::nn::tensor4(batch, cfg.in_channels, cfg.input, cfg.input);
  std::mt19937 g(5);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& v : input.data) v = u(g);
  const std::vector<double> sp{0.75, 0.9};
  static std::vector<layer> ls; // registered lambdas keep references to these
  ls.clear();
  ls.reserve(2 * trained.layers.size() + 2);
  for (const char* kind : {"fm", "fm-random"})
    for (std::size_t i = 1; i < trained.layers.size(); ++i) { // conv1_1 (K = 9) stays dense in the study
      const auto& tl = trained.layers[i];
      if (!tl.conv) continue;
      const std::string name = std::string(kind) + "_" + tl.display;
      ls.push_back({name, static_cast<int>(tl.shape.gemm_rows()), static_cast<int>(tl.shape.gemm_cols()),
                    static_cast<int>(tl.in_size * tl.in_size * batch)});
      if (kind[2] == 0) g_weights[name] = trained.params[i].weight;
      else g_weights[name] = random.params[i].weight;
    }
  for (const layer& l : ls) {
    reg(key(l, dense_name<Direct>(), 0), [&l](benchmark::State& st) { bench_gapp<Direct>(st, l, (void*)nullptr, 0, false); });
    for (double s : sp) {
      reg(key(l, "tile", s), [&l, s](benchmark::State& st) { bench_gapp<Direct>(st, l, gapp::units::tile{}, s, false); });
      reg(key(l, "simd", s), [&l, s](benchmark::State& st) { bench_gapp<Direct>(st, l, gapp::units::simd{}, s, false); });
      reg(key(l, "simd-balanced", s), [&l, s](benchmark::State& st) { bench_gapp<Direct>(st, l, gapp::units::simd{}, s, true); });
    }
    all_layers.push_back(l);
  }
  for (const auto* w : {&trained, &random}) {
    ls.push_back({w == &trained ? "fm_vgg16" : "fm-random_vgg16", 0, 0, 0, network_flops(*w, batch)});
    const layer& v = ls.back();
    report_shapes.push_back(v);
    reg(key(v, dense_name<Direct>(), 0), [w](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::technique{}, 0, *w, input); });
    for (double s : sp)
      for (const char* t : {"tile", "simd", "simd-balanced"})
        reg(key(v, t, s), [w, t, s](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::parse_technique(t), s, *w, input); });
    if (w != &trained) continue;
    // the trained network with an explicit im2col before every conv GEMM
    reg(key(v, dense_name<Direct>() + "-im2col", 0),
        [w](benchmark::State& st) { bench_vgg16<Direct>(st, gapp::technique{}, 0, *w, input, lowering_mode::im2col); });
    for (double s : sp)
      for (const char* t : {"tile", "simd"})
        reg(key(v, std::string(t) + "-im2col", s), [w, t, s](benchmark::State& st) {
          bench_vgg16<Direct>(st, gapp::parse_technique(t), s, *w, input, lowering_mode::im2col);
        });
  }
}

} // namespace gapp_bench

int main(int argc, char** argv) {
  using namespace gapp_bench;
  bool quick = false;
  int device = 0;
  std::string csv, trained, profile_path;
  bool trained_only = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strncmp(argv[i], "--device=", 9) == 0) device = std::atoi(argv[i] + 9);
    else if (std::strncmp(argv[i], "--csv=", 6) == 0) csv = argv[i] + 6;
    else if (std::strncmp(argv[i], "--trained=", 10) == 0) trained = argv[i] + 10;
    else if (std::strcmp(argv[i], "--trained-only") == 0) trained_only = true;
    else if (std::strncmp(argv[i], "--profile=", 10) == 0) profile_path = argv[i] + 10;
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
  env.facts = gapp::opencl::query(env.dev);
  g_env = &env;
  // the device profile: --profile=FILE, else the documented location (docs/tuning.md)
  std::optional<gapp::tune::profile> prof;
  try {
    if (!profile_path.empty()) prof = gapp::tune::load_profile(profile_path);
    else prof = gapp::opencl::find_device_profile(env.dev);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gapp_bench_gemm: %s\n", e.what());
    return 1;
  }
  if (prof) {
    const auto c = gapp::tune::choose_tuned(&*prof, env.facts, gapp::choose_policy(env.facts).name);
    std::fprintf(stderr, "gapp_bench_gemm: device profile of '%s': %s%s%s\n", prof->device.c_str(), c.reason.c_str(),
                 c.tuned ? ", " : "", c.tuned ? c.policy.c_str() : "");
  }

  cl_device_type type = 0;
  env.dev.getInfo(CL_DEVICE_TYPE, &type);
  std::string vendor;
  env.dev.getInfo(CL_DEVICE_VENDOR, &vendor);
  // CPUs: the sparse techniques on the direct family; NVIDIA GPUs: everything on the nvidia
  // preset (local family); other GPUs: the direct family of arm-mali-valhall beside nvidia's.
  if (trained_only && trained.empty()) {
    std::fprintf(stderr, "gapp_bench_gemm: --trained-only needs --trained=DIR\n");
    return 1;
  }
  if (!trained.empty()) {
    if (!(type & CL_DEVICE_TYPE_CPU)) {
      std::fprintf(stderr, "gapp_bench_gemm: --trained runs the CPU device's direct family only\n");
      return 1;
    }
    try {
      register_trained(trained, 100);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gapp_bench_gemm: --trained=%s: %s\n", trained.c_str(), e.what());
      return 1;
    }
  }
  const gapp::tune::profile* pp = prof ? &*prof : nullptr;
  if (!trained_only) { // the VGG16 layers and network (--trained-only: the study's model alone)
    if (type & CL_DEVICE_TYPE_CPU) register_all<gapp::presets::pocl_avx512, gapp::presets::nvidia>(quick, pp);
    else if (vendor.find("NVIDIA") != std::string::npos) register_all<gapp::presets::nvidia, gapp::presets::nvidia>(quick, pp);
    else register_all<gapp::presets::arm_mali_valhall, gapp::presets::nvidia>(quick, pp);
  }

  int ac = static_cast<int>(args.size());
  benchmark::Initialize(&ac, args.data());
  capture_reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  std::vector<layer> shapes = all_layers;
  shapes.insert(shapes.end(), report_shapes.begin(), report_shapes.end());
  const auto rows = rows_of(shapes);
  print_summary(rows);
  if (!csv.empty()) write_csv(rows, csv);
  benchmark::Shutdown();
  return 0;
}
