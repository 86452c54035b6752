// gapp/opencl/error.hpp — OpenCL failures as gapp exceptions carrying the error's name,
// and for build failures the log, the source and the options.
#pragma once

#include <string>

#include "../error.hpp"
#include "cl.hpp"

namespace gapp::opencl {

inline const char* error_name(cl_int e) {
  switch (e) {
#define GAPP_CL_ERR(x) case x: return #x;
    GAPP_CL_ERR(CL_SUCCESS) GAPP_CL_ERR(CL_DEVICE_NOT_FOUND) GAPP_CL_ERR(CL_DEVICE_NOT_AVAILABLE)
    GAPP_CL_ERR(CL_COMPILER_NOT_AVAILABLE) GAPP_CL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    GAPP_CL_ERR(CL_OUT_OF_RESOURCES) GAPP_CL_ERR(CL_OUT_OF_HOST_MEMORY) GAPP_CL_ERR(CL_PROFILING_INFO_NOT_AVAILABLE)
    GAPP_CL_ERR(CL_MEM_COPY_OVERLAP) GAPP_CL_ERR(CL_BUILD_PROGRAM_FAILURE) GAPP_CL_ERR(CL_MAP_FAILURE)
    GAPP_CL_ERR(CL_INVALID_VALUE) GAPP_CL_ERR(CL_INVALID_DEVICE_TYPE) GAPP_CL_ERR(CL_INVALID_PLATFORM)
    GAPP_CL_ERR(CL_INVALID_DEVICE) GAPP_CL_ERR(CL_INVALID_CONTEXT) GAPP_CL_ERR(CL_INVALID_QUEUE_PROPERTIES)
    GAPP_CL_ERR(CL_INVALID_COMMAND_QUEUE) GAPP_CL_ERR(CL_INVALID_HOST_PTR) GAPP_CL_ERR(CL_INVALID_MEM_OBJECT)
    GAPP_CL_ERR(CL_INVALID_BINARY) GAPP_CL_ERR(CL_INVALID_BUILD_OPTIONS) GAPP_CL_ERR(CL_INVALID_PROGRAM)
    GAPP_CL_ERR(CL_INVALID_PROGRAM_EXECUTABLE) GAPP_CL_ERR(CL_INVALID_KERNEL_NAME)
    GAPP_CL_ERR(CL_INVALID_KERNEL_DEFINITION) GAPP_CL_ERR(CL_INVALID_KERNEL) GAPP_CL_ERR(CL_INVALID_ARG_INDEX)
    GAPP_CL_ERR(CL_INVALID_ARG_VALUE) GAPP_CL_ERR(CL_INVALID_ARG_SIZE) GAPP_CL_ERR(CL_INVALID_KERNEL_ARGS)
    GAPP_CL_ERR(CL_INVALID_WORK_DIMENSION) GAPP_CL_ERR(CL_INVALID_WORK_GROUP_SIZE)
    GAPP_CL_ERR(CL_INVALID_WORK_ITEM_SIZE) GAPP_CL_ERR(CL_INVALID_GLOBAL_OFFSET)
    GAPP_CL_ERR(CL_INVALID_EVENT_WAIT_LIST) GAPP_CL_ERR(CL_INVALID_EVENT) GAPP_CL_ERR(CL_INVALID_OPERATION)
    GAPP_CL_ERR(CL_INVALID_BUFFER_SIZE) GAPP_CL_ERR(CL_INVALID_GLOBAL_WORK_SIZE)
#undef GAPP_CL_ERR
  default: return "CL_UNKNOWN_ERROR";
  }
}

/// An OpenCL call failed: what() names the call and the error, code() gives the value.
class opencl_error : public gapp::error {
public:
  opencl_error(cl_int code, const std::string& what)
      : gapp::error(what + ": " + error_name(code) + " (" + std::to_string(code) + ")"), code_(code) {}
  cl_int code() const { return code_; }

private:
  cl_int code_;
};

/// A program failed to build; carries the build log, the full source and the options.
class build_error : public opencl_error {
public:
  build_error(cl_int code, std::string log, std::string source, std::string options)
      : opencl_error(code, "OpenCL program build failed (options '" + options + "'); build log:\n" + log),
        log_(std::move(log)), source_(std::move(source)), options_(std::move(options)) {}
  const std::string& log() const { return log_; }
  const std::string& source() const { return source_; }
  const std::string& options() const { return options_; }

private:
  std::string log_, source_, options_;
};

namespace detail {
inline void check(cl_int e, const char* what) {
  if (e != CL_SUCCESS) throw opencl_error(e, what);
}
} // namespace detail

} // namespace gapp::opencl
