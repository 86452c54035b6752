#!/usr/bin/env bash
# Installs what is missing, builds gapp with its tests, and runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh test
build=${GAPP_BUILD_DIR:-build}
# One PoCL kernel cache for every test process.
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$build/pocl-cache}
mkdir -p "$POCL_CACHE_DIR"

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGAPP_BUILD_TESTS=ON -DGAPP_BUILD_EXAMPLES=ON -DGAPP_BUILD_TOOLS=ON
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 600
