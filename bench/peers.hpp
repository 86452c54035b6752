// bench/peers.hpp — the dense peers measured in the same process: OpenBLAS cblas_sgemm and
// CLBlast Gemm per layer, and OpenBLAS's whole VGG16-224 forward pass.
#pragma once

#include "common.hpp"

#include <cblas.h>
#include <clblast.h>

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

inline void bench_vgg16_openblas(benchmark::State& st) {
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

} // namespace gapp_bench
