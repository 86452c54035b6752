# Configures gapp with OpenCL hidden from find_package (as on a machine without the OpenCL
# packages), checks that the OpenCL tier turned itself off, builds gapp-prune and runs it.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})

include(${CMAKE_CURRENT_LIST_DIR}/step.cmake)

step(${CMAKE_COMMAND} -S ${GAPP_SOURCE_DIR} -B ${WORK_DIR} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release
     -DCMAKE_DISABLE_FIND_PACKAGE_OpenCL=ON -DGAPP_BUILD_TESTS=OFF -DGAPP_BUILD_EXAMPLES=ON -DGAPP_BUILD_TOOLS=ON
     -DGAPP_INSTALL=OFF)
if(NOT step_out MATCHES "host tier only")
  message(FATAL_ERROR "GAPP_OPENCL did not turn off without OpenCL:\n${step_out}")
endif()
file(STRINGS ${WORK_DIR}/CMakeCache.txt opencl_flag REGEX "^GAPP_OPENCL:")
if(NOT opencl_flag STREQUAL "GAPP_OPENCL:BOOL=OFF")
  message(FATAL_ERROR "expected GAPP_OPENCL:BOOL=OFF in the cache, got '${opencl_flag}'")
endif()
step(${CMAKE_COMMAND} --build ${WORK_DIR} --target gapp-prune 00_prune_and_pack)
step(${WORK_DIR}/gapp-prune --list-policies)
if(NOT step_out MATCHES "pocl-avx512")
  message(FATAL_ERROR "gapp-prune --list-policies printed:\n${step_out}")
endif()
step(${WORK_DIR}/examples/00_prune_and_pack)
