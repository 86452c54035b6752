// bench/peers.hpp — the dense peers measured in the same process: OpenBLAS cblas_sgemm and
// CLBlast Gemm per layer, and OpenBLAS's whole VGG16-224 forward pass.
#pragma once

#include "common.hpp"

#include <cblas.h>
#include <clblast.h>

#include <algorithm>
#include <cstring>
#include <thread>

extern "C" {
void openblas_set_num_threads(int);
char* openblas_get_corename(void);
}

namespace gapp_bench {

inline void bench_openblas(benchmark::State& st, const layer& l) {
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

inline void bench_clblast(benchmark::State& st, const layer& l) {
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
/// Runs f(begin, end) over [0, n) split between `threads` threads (the caller runs the last
/// part), for the host-side layers of the OpenBLAS pass.
template <class F>
void parallel_rows(std::size_t n, int threads, F&& f) {
  std::vector<std::thread> pool;
  const std::size_t parts = static_cast<std::size_t>(std::max(1, threads));
  for (std::size_t t = 0; t + 1 < parts; ++t)
    pool.emplace_back([&, t] { f(n * t / parts, n * (t + 1) / parts); });
  f(n * (parts - 1) / parts, n);
  for (auto& th : pool) th.join();
}

// OpenBLAS forward pass as a competent user writes it: im2col by row copies (each output
// row of the column matrix is the input row shifted, with zeros at the padded edges),
// split over the same threads as OpenBLAS; cblas_sgemm; bias + ReLU and 2x2 max-pool over
// the same threads; cblas_sgemv for the classifier. The work is gapp's pass's work:
// the same im2col K order (CNHW, channel-major), the same pools and FC layers.
struct blas_vgg16 {
  const gapp::nn::vgg16_weights* w;
  int threads = 2;
  std::vector<float> col, a, b;

  void im2col(std::size_t C, std::size_t size) {
    const std::size_t N = size * size;
    col.resize(C * 9 * N);
    parallel_rows(C * 9, threads, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t row = r0; row < r1; ++row) {
        const std::size_t c = row / 9, r = row / 3 % 3, q = row % 3;
        float* out = &col[row * N];
        for (std::size_t y = 0; y < size; ++y) {
          float* o = out + y * size;
          const long yy = static_cast<long>(y + r) - 1;
          if (yy < 0 || yy >= static_cast<long>(size)) {
            std::memset(o, 0, size * sizeof(float));
            continue;
          }
          const float* in = &a[(c * size + static_cast<std::size_t>(yy)) * size];
          // x + q - 1 inside [0, size): x in [1 - q, size + 1 - q)
          if (q == 0) o[0] = 0.0f, std::memcpy(o + 1, in, (size - 1) * sizeof(float));
          else if (q == 1) std::memcpy(o, in, size * sizeof(float));
          else std::memcpy(o, in + 1, (size - 1) * sizeof(float)), o[size - 1] = 0.0f;
        }
      }
    });
  }

  std::vector<float> forward(const gapp::nn::tensor4& in) {
    const std::size_t S = w->config.input;
    a.assign(in.data.begin(), in.data.end()); // batch 1: NCHW == CNHW
    std::size_t size = S;
    for (std::size_t i = 0; i < w->layers.size(); ++i) {
      const auto& l = w->layers[i];
      const auto& p = w->params[i];
      const int M = static_cast<int>(l.shape.gemm_rows()), K = static_cast<int>(l.shape.gemm_cols());
      if (l.conv) {
        const std::size_t N = size * size;
        im2col(l.shape.in_channels, size);
        b.resize(static_cast<std::size_t>(M) * N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, static_cast<int>(N), K, 1.0f, p.weight.data(), K,
                    col.data(), static_cast<int>(N), 0.0f, b.data(), static_cast<int>(N));
        if (l.pool) { // bias + ReLU fused into the pool: max commutes with the monotone act
          const std::size_t h = size / 2;
          a.resize(static_cast<std::size_t>(M) * h * h);
          parallel_rows(static_cast<std::size_t>(M), threads, [&](std::size_t m0, std::size_t m1) {
            for (std::size_t m = m0; m < m1; ++m)
              for (std::size_t y = 0; y < h; ++y)
                for (std::size_t x = 0; x < h; ++x) {
                  const float* r0 = &b[(m * size + 2 * y) * size + 2 * x];
                  const float v = std::max(std::max(r0[0], r0[1]), std::max(r0[size], r0[size + 1]));
                  a[(m * h + y) * h + x] = std::max(v + p.bias[m], 0.0f);
                }
          });
          size = h;
        } else {
          parallel_rows(static_cast<std::size_t>(M), threads, [&](std::size_t m0, std::size_t m1) {
            for (std::size_t m = m0; m < m1; ++m)
              for (std::size_t n = 0; n < N; ++n) b[m * N + n] = std::max(b[m * N + n] + p.bias[m], 0.0f);
          });
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

/// The OpenBLAS pass against gapp's host reference on a small VGG16 (every im2col edge
/// case, pools down to 1x1): the largest |difference| relative to the largest |logit|.
inline double blas_vgg16_error() {
  gapp::nn::vgg16_config cfg;
  cfg.input = 32, cfg.width = 0.25, cfg.hidden = 64, cfg.classes = 10;
  gapp::nn::vgg16_weights w = gapp::nn::he_init(cfg, 7);
  gapp::nn::tensor4 x(1, 3, 32, 32);
  std::mt19937 g(3);
  std::normal_distribution<float> d;
  for (auto& v : x.data) v = d(g);
  for (auto& p : w.params) // non-zero biases, so that the epilogue and the pool order count
    for (auto& b : p.bias) b = 0.1f * d(g);
  blas_vgg16 net{&w, 2, {}, {}, {}};
  const std::vector<float> got = net.forward(x), want = gapp::nn::forward_host(w, x);
  double scale = 1e-12, diff = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    scale = std::max(scale, double(std::fabs(want[i]))), diff = std::max(diff, double(std::fabs(got[i] - want[i])));
  return diff / scale;
}

inline void bench_vgg16_openblas(benchmark::State& st) {
  openblas_set_num_threads(2);
  if (const double e = blas_vgg16_error(); !(e < 1e-4)) {
    st.SkipWithError(("the OpenBLAS forward pass differs from the host reference by " + std::to_string(e)).c_str());
    return;
  }
  blas_vgg16 net{&vgg16_weights224(), 2, {}, {}, {}};
  net.forward(vgg16_input());
  double wall = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(net.forward(vgg16_input()));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    wall += dt;
    st.SetIterationTime(dt);
  }
  st.SetLabel("threaded row-copy im2col + cblas_sgemm");
  set_vgg_counters(st, wall, 0);
}

} // namespace gapp_bench
