#!/usr/bin/env bash
# Installs the Debian packages gapp needs that are missing. Idempotent, non-interactive.
#   scripts/deps.sh [build|test|demo|bench|accuracy|opencv]...   (default: test)
set -euo pipefail

pkgs=(cmake g++ make)
for group in "${@:-test}"; do
  case "$group" in
    build) ;;
    test) pkgs+=(catch2 clang opencl-clhpp-headers opencl-c-headers ocl-icd-opencl-dev pocl-opencl-icd clinfo
                 libopencv-dnn-dev) ;;
    demo) pkgs+=(opencl-clhpp-headers opencl-c-headers ocl-icd-opencl-dev pocl-opencl-icd clinfo) ;;
    bench) pkgs+=(libbenchmark-dev libclblast-dev libopenblas-dev opencl-clhpp-headers opencl-c-headers
                  ocl-icd-opencl-dev pocl-opencl-icd clinfo) ;;
    accuracy) pkgs+=(python3-torch python3-torchvision python3-numpy dataset-fashion-mnist) ;;
    opencv) pkgs+=(libopencv-dnn-dev opencl-clhpp-headers opencl-c-headers ocl-icd-opencl-dev pocl-opencl-icd) ;;
    *) echo "deps.sh: unknown group '$group' (build, test, demo, bench, accuracy, opencv)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps.sh: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
