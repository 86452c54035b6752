#!/usr/bin/env bash
# Installs what is missing, builds gapp with its tests, and runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh test bench
build=${GAPP_BUILD_DIR:-build}
# One PoCL kernel cache for every test process.
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$build/pocl-cache}
mkdir -p "$POCL_CACHE_DIR"

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGAPP_BUILD_TESTS=ON -DGAPP_BUILD_EXAMPLES=ON -DGAPP_BUILD_TOOLS=ON \
  -DGAPP_BUILD_BENCH=ON
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 600

# The program cache and operations under 8 threads, again under ThreadSanitizer.
tsan="$build-tsan"
cmake -S . -B "$tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
  -DGAPP_BUILD_EXAMPLES=OFF -DGAPP_BUILD_TOOLS=OFF
cmake --build "$tsan" -j "$jobs" --target gapp_opencl_tests
TSAN_OPTIONS="halt_on_error=1" ctest --test-dir "$tsan" -R "8 threads" --output-on-failure --timeout 600
