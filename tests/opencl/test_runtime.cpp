// The runtime: device query and dispatch, rejection of policies the device cannot run,
// build failures and bad buffers (concurrency: test_threads.cpp).
#include <catch2/catch.hpp>

#include "../host/reference.hpp"
#include "cl_env.hpp"


using namespace gapp;

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
