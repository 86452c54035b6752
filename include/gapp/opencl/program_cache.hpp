// gapp/opencl/program_cache.hpp — programs built once per (context, device, driver,
// source, options) and shared by operations and threads.
#pragma once

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "../kernels/gemm.hpp"
#include "cl.hpp"
#include "error.hpp"

namespace gapp::opencl {

/// A mutex-guarded map from (context, device, driver version, hash of the final source,
/// build options) to a built cl::Program. Each entry keeps its context and device
/// retained, so a raw handle in a key can never be reused by another object while the
/// entry lives; the full source is compared too, so a hash collision cannot return the
/// wrong program. A program is built once even when several threads ask at the same time
/// (the others wait for it); a failed build is not cached. Returns programs by value
/// (reference counted); make a fresh cl::Kernel from it per operation or per thread.
class program_cache {
public:
  program_cache() = default;
  program_cache(const program_cache&) = delete;
  program_cache& operator=(const program_cache&) = delete;

  cl::Program get(const cl::Context& ctx, const cl::Device& dev, const std::string& source, const std::string& options) {
    std::string driver;
    detail::check(dev.getInfo(CL_DRIVER_VERSION, &driver), "clGetDeviceInfo(CL_DRIVER_VERSION)");
    const key k{ctx(), dev(), driver, std::hash<std::string>{}(source), options};
    std::shared_ptr<slot> s;
    bool builder = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& bucket = map_[k];
      for (auto& e : bucket)
        if (e->source == source) s = e;
      if (!s) {
        s = std::make_shared<slot>();
        s->ctx = ctx, s->dev = dev, s->source = source;
        s->future = s->promise.get_future().share();
        bucket.push_back(s);
        builder = true;
        ++builds_;
      }
    }
    if (builder) {
      try {
        s->promise.set_value(build(ctx, dev, source, options));
      } catch (...) {
        s->promise.set_exception(std::current_exception());
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = map_.find(k);
        if (it != map_.end()) {
          auto& b = it->second;
          for (auto i = b.begin(); i != b.end(); ++i)
            if (*i == s) { b.erase(i); break; }
          if (b.empty()) map_.erase(it);
        }
      }
    }
    return s->future.get();
  }

  cl::Program get(const cl::Context& ctx, const cl::Device& dev, const kernels::kernel_source& k) {
    return get(ctx, dev, k.source, k.options);
  }

  /// Drops every cached program (operations keep the programs they hold).
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    map_.clear();
  }

  /// Programs cached now.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t n = 0;
    for (auto& kv : map_) n += kv.second.size();
    return n;
  }

  /// Builds started since construction (cache misses).
  std::size_t builds() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return builds_;
  }

  /// Builds `source` for `dev` without caching. Throws build_error with the log on failure.
  static cl::Program build(const cl::Context& ctx, const cl::Device& dev, const std::string& source,
                           const std::string& options) {
    cl_int err = CL_SUCCESS;
    cl::Program p(ctx, source, false, &err);
    detail::check(err, "clCreateProgramWithSource");
    const std::vector<cl::Device> devs{dev};
    err = p.build(devs, options.c_str());
    if (err != CL_SUCCESS) {
      std::string log;
      p.getBuildInfo(dev, CL_PROGRAM_BUILD_LOG, &log);
      throw build_error(err, log, source, options);
    }
    return p;
  }

private:
  struct key {
    cl_context ctx;
    cl_device_id dev;
    std::string driver;
    std::size_t hash;
    std::string options;
    bool operator<(const key& o) const {
      return std::tie(ctx, dev, driver, hash, options) < std::tie(o.ctx, o.dev, o.driver, o.hash, o.options);
    }
  };
  struct slot {
    cl::Context ctx; // retained: keeps the key's handles from being reused
    cl::Device dev;
    std::string source;
    std::promise<cl::Program> promise;
    std::shared_future<cl::Program> future;
  };
  mutable std::mutex mutex_;
  std::map<key, std::vector<std::shared_ptr<slot>>> map_;
  std::size_t builds_ = 0;
};

} // namespace gapp::opencl
