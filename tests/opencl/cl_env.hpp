// The OpenCL device the [opencl] tests run on: GAPP_TEST_DEVICE=i picks the i-th device
// over all platforms, default 0 (PoCL's CPU device in CI).
#pragma once

#include <gapp/nn.hpp>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

struct cl_env {
  cl::Context context;
  cl::Device device;
  cl::CommandQueue queue;
  gapp::opencl::program_cache cache;

  static cl_env& get() {
    static cl_env env;
    return env;
  }

private:
  cl_env() {
    const char* pick = std::getenv("GAPP_TEST_DEVICE");
    device = gapp::opencl::device_at(pick ? static_cast<std::size_t>(std::atoi(pick)) : 0);
    context = cl::Context(device);
    queue = cl::CommandQueue(context, device, CL_QUEUE_PROFILING_ENABLE);
  }
};

inline cl::Buffer to_device(const std::vector<float>& v) {
  cl_env& e = cl_env::get();
  return cl::Buffer(e.context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, v.size() * sizeof(float),
                    const_cast<float*>(v.data()));
}

inline std::vector<float> from_device(const cl::Buffer& b, std::size_t n) {
  std::vector<float> out(n);
  cl_env::get().queue.enqueueReadBuffer(b, CL_TRUE, 0, n * sizeof(float), out.data());
  return out;
}
