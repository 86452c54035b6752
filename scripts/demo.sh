#!/usr/bin/env bash
# Installs what is missing, builds gapp and runs the main demo (examples/vgg16_demo).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh demo
build=${GAPP_BUILD_DIR:-build}
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$build/pocl-cache}
mkdir -p "$POCL_CACHE_DIR"

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGAPP_BUILD_TESTS=OFF -DGAPP_BUILD_EXAMPLES=ON -DGAPP_BUILD_TOOLS=ON
cmake --build "$build" -j "$jobs" --target vgg16_demo gapp-prune
# VGG16 at 224x224 on the first OpenCL device (PoCL's CPU device here); pass options through,
# e.g. bash scripts/demo.sh --device 1 --sparsity 0.9
"$build/examples/vgg16_demo" "$@"
