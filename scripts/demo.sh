#!/usr/bin/env bash
# Installs what is missing, builds gapp and runs the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh demo
build=${GAPP_BUILD_DIR:-build}
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$build/pocl-cache}
mkdir -p "$POCL_CACHE_DIR"

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGAPP_BUILD_TESTS=OFF -DGAPP_BUILD_EXAMPLES=ON -DGAPP_BUILD_TOOLS=ON
cmake --build "$build" -j "$jobs" --target 00_prune_and_pack gapp-prune
"$build/examples/00_prune_and_pack"
