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
# The examples and benchmarks run nothing here: they are compiled (and so checked) once, in
# the sanitizer build below, whose -O0 compiles them in a third of the optimiser's time.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGAPP_BUILD_TESTS=ON -DGAPP_BUILD_EXAMPLES=OFF -DGAPP_BUILD_TOOLS=ON \
  -DGAPP_BUILD_BENCH=OFF
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" -j "$jobs" --no-tests=error --output-on-failure --timeout 600

# The accuracy study's smoke run: PyTorch and Fashion-MNIST from Debian, gapp-prune masks,
# gapp-vgg16 on the OpenCL device against PyTorch. Skipped, with a SKIPPED line, only when
# PyTorch cannot be installed from the Debian archive; any other failure fails the run.
rc=0
GAPP_BUILD_DIR="$build" bash bench/accuracy/run --smoke || rc=$?
if [ "$rc" -eq 77 ]; then
  echo "SKIPPED: accuracy smoke run (python3-torch cannot be installed from the Debian archive here)"
elif [ "$rc" -ne 0 ]; then
  echo "accuracy smoke run failed (exit status $rc)"
  exit "$rc"
fi

# The program cache and operations under 8 threads, again under ThreadSanitizer.
tsan="$build-tsan"
cmake -S . -B "$tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
  -DGAPP_BUILD_EXAMPLES=OFF -DGAPP_BUILD_TOOLS=OFF
cmake --build "$tsan" -j "$jobs" --target gapp_thread_tests
TSAN_OPTIONS="halt_on_error=1" ctest --test-dir "$tsan" -R "8 threads" --no-tests=error --output-on-failure --timeout 600

# The suite's programs again under AddressSanitizer + UndefinedBehaviorSanitizer (leaks included;
# tests/sanitizers/lsan.supp lists what the OpenCL loader and PoCL keep until exit), with the
# examples and benchmarks compiled too. gapp-tune (a few minutes to build) and its test are
# left to the main suite.
asan="$build-asan"
# -O0 -g1 (line tables for the reports): the host code is a small part of the suite's time
# (the kernels run in PoCL), and -O0 builds in about a third of the time of -O1.
cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAPP_BUILD_EXAMPLES=ON -DGAPP_BUILD_BENCH=ON \
  -DGAPP_BUILD_TUNE=OFF -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-maybe-uninitialized"
cmake --build "$asan" -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp" \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$asan" -j "$jobs" --no-tests=error --output-on-failure --timeout 900 \
  -E "^(consumer|compile-fail|header):" # these compile with the compiler's own flags: nothing instrumented runs

# 30 seconds of each libFuzzer target (clang), from the committed seeds, all at once.
fuzz="$build-fuzz"
CXX=clang++ cmake -S . -B "$fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAPP_BUILD_TESTS=OFF \
  -DGAPP_BUILD_EXAMPLES=OFF -DGAPP_BUILD_TOOLS=OFF -DGAPP_INSTALL=OFF -DGAPP_BUILD_FUZZ=ON
cmake --build "$fuzz" -j "$jobs"
targets=(npy pack packed json)
if [ -x "$fuzz/tests/fuzz/fuzz_onnx" ]; then targets+=(onnx); fi # built where OpenCV DNN is found
for t in "${targets[@]}"; do
  mkdir -p "$fuzz/corpus-$t"
  "$fuzz/tests/fuzz/fuzz_$t" -max_total_time=30 -print_final_stats=1 -artifact_prefix="$fuzz/crash-$t-" \
    "$fuzz/corpus-$t" "tests/fuzz/corpus/$t" > "$fuzz/fuzz-$t.log" 2>&1 &
done
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
for t in "${targets[@]}"; do
  echo "fuzz_$t: $(grep -E 'number_of_executed_units' "$fuzz/fuzz-$t.log" | tr -s ' ')"
done
if [ "$status" -ne 0 ]; then
  tail -n 40 "$fuzz"/fuzz-*.log
  echo "fuzzing found a failure (inputs in $fuzz/crash-*)"
  exit 1
fi
