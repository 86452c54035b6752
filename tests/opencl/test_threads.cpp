// The runtime under concurrency: the program cache and one operation used from 8 threads.
// Its own executable, so that the ThreadSanitizer build compiles only this.
#include <catch2/catch.hpp>

#include "../host/reference.hpp"
#include "cl_env.hpp"

#include <atomic>
#include <thread>

using namespace gapp;

TEST_CASE("program cache: 8 threads share programs, build each once", "[opencl][cache][threads]") {
  cl_env& env = cl_env::get();
  opencl::program_cache cache; // a fresh one: counts only this test's builds
  using P = presets::pocl_avx512;
  std::vector<kernels::kernel_source> sources;
  for (int mode = 0; mode < 3; ++mode) {
    kernels::gemm_config c;
    c.mode = static_cast<kernels::walk>(mode);
    sources.push_back(kernels::gemm_source<P>(c));
    sources.back().options += opencl::device_options<P>(env.device, 96); // as gemm_op builds them for K = 96
  }
  std::mt19937 g(1);
  const auto w = ref::random_weights(g, 64 * 96, 0);
  const auto x = ref::random_weights(g, 96 * 40, 0);
  const matrix_view wv(w, 64, 96);
  const auto m = prune<P>(wv, units::simd{}, 0.5);
  const auto packed = pack(wv, m);
  const auto masked = m.apply(wv);
  std::vector<float> want(64 * 40, 0.0f);
  for (std::size_t r = 0; r < 64; ++r)
    for (std::size_t n = 0; n < 40; ++n)
      for (std::size_t k = 0; k < 96; ++k) want[r * 40 + n] += masked[r * 96 + k] * x[k * 40 + n];

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      try {
        for (int rep = 0; rep < 3; ++rep) {
          const auto& s = sources[static_cast<std::size_t>(t + rep) % sources.size()];
          cl::Program p = cache.get(env.context, env.device, s);
          cl_int err = CL_SUCCESS;
          cl::Kernel k(p, s.name.c_str(), &err);
          if (err != CL_SUCCESS) ++failures;
        }
        // an operation per thread on one shared queue-less path: own queue, shared cache
        cl::CommandQueue q(env.context, env.device);
        opencl::gemm_op<P> op(env.context, env.device, cache, packed);
        cl::Buffer xb(env.context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, x.size() * 4, const_cast<float*>(x.data()));
        cl::Buffer yb(env.context, CL_MEM_WRITE_ONLY, 64 * 40 * 4);
        op.enqueue(q, xb, yb, 40).wait();
        std::vector<float> y(64 * 40);
        q.enqueueReadBuffer(yb, CL_TRUE, 0, y.size() * 4, y.data());
        for (std::size_t i = 0; i < y.size(); ++i)
          if (std::fabs(y[i] - want[i]) > 1e-3f) {
            ++failures;
            break;
          }
      } catch (...) {
        ++failures;
      }
    });
  for (auto& th : threads) th.join();
  REQUIRE(failures == 0);
  // dense, tile, simd: each built once for all threads; and the SIMD operation's narrow
  // kernel (N of at most 4), which the operation builds beside its wide one
  const std::size_t programs = 3 + (kernels::plan_gemm<P>(packed).gemm->narrow ? 1 : 0);
  REQUIRE(programs == 4);
  REQUIRE(cache.builds() == programs);
  REQUIRE(cache.size() == programs);
  cache.clear();
  REQUIRE(cache.size() == 0);
}

TEST_CASE("one operation enqueued from 8 threads", "[opencl][threads]") {
  cl_env& env = cl_env::get();
  using P = presets::pocl_avx512;
  std::mt19937 g(2);
  const auto w = ref::random_weights(g, 32 * 64, 0);
  const matrix_view wv(w, 32, 64);
  opencl::gemm_op<P> op(env.context, env.device, env.cache, wv);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      try {
        std::mt19937 gt(static_cast<unsigned>(t));
        const auto x = ref::random_weights(gt, 64 * 16, 0);
        cl::CommandQueue q(env.context, env.device);
        cl::Buffer xb(env.context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, x.size() * 4, const_cast<float*>(x.data()));
        cl::Buffer yb(env.context, CL_MEM_WRITE_ONLY, 32 * 16 * 4);
        for (int rep = 0; rep < 4; ++rep) op.enqueue(q, xb, yb, 16);
        q.finish();
        std::vector<float> y(32 * 16);
        q.enqueueReadBuffer(yb, CL_TRUE, 0, y.size() * 4, y.data());
        for (std::size_t r = 0; r < 32; ++r)
          for (std::size_t n = 0; n < 16; ++n) {
            float s = 0;
            for (std::size_t k = 0; k < 64; ++k) s += w[r * 64 + k] * x[k * 16 + n];
            if (std::fabs(y[r * 16 + n] - s) > 1e-3f) ++failures;
          }
      } catch (...) {
        ++failures;
      }
    });
  for (auto& th : threads) th.join();
  REQUIRE(failures == 0);
}
