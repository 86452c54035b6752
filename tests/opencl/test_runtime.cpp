// The runtime: program cache under concurrency, device query and dispatch, rejection of
// policies the device cannot run, build failures and bad buffers.
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
    sources.back().options += opencl::device_options<P>(env.device); // as gemm_op builds them
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
  REQUIRE(cache.builds() == 3); // dense, tile, simd: each built once for all threads
  REQUIRE(cache.size() == 3);
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

TEST_CASE("device query picks a preset that can run", "[opencl][device]") {
  cl_env& env = cl_env::get();
  const opencl::device_info info = opencl::query(env.device);
  REQUIRE(!info.name.empty());
  REQUIRE(info.max_work_group > 0);
  const std::string name = opencl::pick_preset(info);
  REQUIRE(presets::all::contains(name));
  if (info.type & CL_DEVICE_TYPE_CPU) REQUIRE(name.rfind("pocl-", 0) == 0);
  policy_choice choice;
  const std::string got = opencl::dispatch(env.device, [](auto p) { return std::string(decltype(p)::name); }, &choice);
  REQUIRE(got == name);
  REQUIRE(choice.name == name);
  if (info.cpu) REQUIRE(!choice.fallback); // a CPU device always has a rule
  REQUIRE(!choice.reason.empty());
}

TEST_CASE("a policy the device cannot run is rejected before launch", "[opencl][errors]") {
  cl_env& env = cl_env::get();
  const opencl::device_info info = opencl::query(env.device);
  // 8192 work-items per work-group: valid for a device that allows it, not for PoCL (4096)
  using too_wide = policy<device_traits<32, 16384, 1 << 20, 1, lane_mapping::work_items>,
                          tiling<256, 128, 8, 2, 2, 1, staging::local>>;
  // 2 MiB of staged local memory
  using too_deep = policy<device_traits<32, 4096, 4 << 20, 1, lane_mapping::work_items>,
                          tiling<512, 512, 512, 8, 8, 1, staging::local>>;
  const std::vector<float> w(16, 1.0f);
  if (info.max_work_group < 8192) {
    REQUIRE(opencl::why_not<too_wide>(info).has_value());
    REQUIRE_THROWS_WITH((opencl::gemm_op<too_wide>(env.context, env.device, env.cache, matrix_view(w, 4, 4))),
                        Catch::Contains("work-group of 8192 work-items exceeds the device's maximum"));
    REQUIRE_THROWS_AS((opencl::gemm_op<too_wide>(env.context, env.device, env.cache, matrix_view(w, 4, 4))),
                      gapp::policy_error);
  }
  if (info.local_mem < (2u << 20)) {
    // the first reason found: a work-group too large for the device is checked first
    REQUIRE_THROWS_WITH((opencl::gemm_op<too_deep>(env.context, env.device, env.cache, matrix_view(w, 4, 4))),
                        Catch::Contains(info.max_work_group < 4096 ? "work-group of 4096 work-items exceeds"
                                                                   : "stages 2097152 bytes of local memory"));
  }
  REQUIRE_FALSE(opencl::why_not<presets::pocl_avx512>(info).has_value());
}

TEST_CASE("build failures carry the log, the source and the options", "[opencl][errors]") {
  cl_env& env = cl_env::get();
  const std::string bad = "__kernel void broken(__global float* x) { x[0] = undefined_name; }";
  try {
    env.cache.get(env.context, env.device, bad, "-cl-mad-enable");
    FAIL("a broken program built");
  } catch (const opencl::build_error& e) {
    REQUIRE(e.code() == CL_BUILD_PROGRAM_FAILURE);
    REQUIRE(e.log().find("undefined_name") != std::string::npos);
    REQUIRE(e.source() == bad);
    REQUIRE(e.options() == "-cl-mad-enable");
    REQUIRE(std::string(e.what()).find("CL_BUILD_PROGRAM_FAILURE") != std::string::npos);
  }
  // not cached: a second request fails again the same way
  REQUIRE_THROWS_AS(env.cache.get(env.context, env.device, bad, "-cl-mad-enable"), opencl::build_error);
}

TEST_CASE("bad operands are refused before launch", "[opencl][errors]") {
  cl_env& env = cl_env::get();
  using P = presets::pocl_avx512;
  std::vector<float> w(8 * 16, 0.5f);
  opencl::gemm_op<P> op(env.context, env.device, env.cache, matrix_view(w, 8, 16));
  cl::Buffer small(env.context, CL_MEM_READ_WRITE, 16 * 4 * 4);
  cl::Buffer y(env.context, CL_MEM_READ_WRITE, 8 * 8 * 4);
  REQUIRE_THROWS_WITH(op.enqueue(env.queue, small, y, 8), Catch::Contains("buffer X holds 64 floats, the product needs 128"));
  REQUIRE_THROWS_AS(op.enqueue(env.queue, small, y, 0), gapp::invalid_argument);
  opencl::gemm_options opt;
  opt.epi.bias = true;
  opt.bias = {1, 2, 3};
  REQUIRE_THROWS_WITH((opencl::gemm_op<P>(env.context, env.device, env.cache, matrix_view(w, 8, 16), opt)),
                      Catch::Contains("3 bias values for 8 output rows"));
  w[3] = std::nanf("");
  REQUIRE_THROWS_AS((opencl::gemm_op<P>(env.context, env.device, env.cache, matrix_view(w, 8, 16))), gapp::value_error);
  // a request every driver refuses (size 0) becomes a typed error naming the call
  cl_int err = CL_SUCCESS;
  cl::Buffer none(env.context, CL_MEM_READ_WRITE, 0, nullptr, &err);
  REQUIRE(err == CL_INVALID_BUFFER_SIZE);
  REQUIRE_THROWS_WITH(opencl::detail::check(err, "clCreateBuffer"), Catch::Contains("clCreateBuffer: CL_INVALID_BUFFER_SIZE"));
}

TEST_CASE("kernel source is deterministic and needs no runtime", "[kernels]") {
  using P = presets::nvidia;
  kernels::gemm_config c;
  c.mode = kernels::walk::multi;
  c.epi.relu = true;
  const auto a = kernels::gemm_source<P>(c), b = kernels::gemm_source<P>(c);
  REQUIRE(a.source == b.source);
  REQUIRE(a.source.find("#define GAPP_TM 64\n") != std::string::npos);
  REQUIRE(a.source.find("#define GAPP_UR 8\n") != std::string::npos);
  REQUIRE(a.source.find("#define GAPP_RELU 1\n") != std::string::npos);
  const auto geo = kernels::gemm_geometry<P>(100, 70);
  REQUIRE(geo.local[0] == 16);
  REQUIRE(geo.local[1] == 16);
  REQUIRE(geo.global[0] == 2 * 16);
  REQUIRE(geo.global[1] == 2 * 16);
  c.mode = kernels::walk::nm;
  c.nm_n = 2, c.nm_m = 3;
  REQUIRE_THROWS_WITH(kernels::gemm_source<P>(c), Catch::Contains("M = 3 to divide the K step TK = 16"));
}

TEST_CASE("a launch the device refuses and an allocation beyond the device are OpenCL errors", "[opencl][errors]") {
  cl_env& env = cl_env::get();
  using P = presets::pocl_avx512;
  std::vector<float> w(8 * 16, 0.5f);
  opencl::gemm_op<P> op(env.context, env.device, env.cache, matrix_view(w, 8, 16));
  // a launch on a queue that does not exist fails in clEnqueueNDRangeKernel
  cl::Buffer x(env.context, CL_MEM_READ_WRITE, 16 * 8 * 4), y(env.context, CL_MEM_READ_WRITE, 8 * 8 * 4);
  const cl::CommandQueue no_queue;
  try {
    op.enqueue(no_queue, x, y, 8);
    FAIL("a launch on a null queue was accepted");
  } catch (const opencl::opencl_error& e) {
    REQUIRE(e.code() == CL_INVALID_COMMAND_QUEUE);
    REQUIRE(std::string(e.what()).find("clEnqueueNDRangeKernel(gapp_gemm): CL_INVALID_COMMAND_QUEUE") != std::string::npos);
  }
  // X and Y the same buffer: the kernels read X while writing Y (restrict)
  cl::CommandQueue q(env.context, env.device);
  cl::Buffer both(env.context, CL_MEM_READ_WRITE, 16 * 16 * 4);
  REQUIRE_THROWS_WITH(op.enqueue(q, both, both, 8), Catch::Contains("X and Y are the same buffer"));
  // a network whose scratch buffers exceed what the device can allocate
  nn::vgg16_config cfg;
  cfg.input = 32, cfg.width = 0.0625, cfg.hidden = 8, cfg.classes = 4;
  const auto vw = nn::he_init(cfg, 3);
  gapp::nn::vgg16_net<P>::options opt;
  opt.batch = 4000000; // about 0.6 TB of im2col scratch
  REQUIRE_THROWS_WITH((gapp::nn::vgg16_net<P>(env.context, env.device, env.cache, vw, opt)),
                      Catch::Contains("clCreateBuffer") && Catch::Contains("CL_"));
}
