#!/usr/bin/env bash
# Installs the Debian 12 packages qasr needs to build, test and benchmark.
# Idempotent: installs only what is missing. Run as root (CI does) or with sudo.
set -euo pipefail

PKGS=(
  # toolchain
  g++ cmake ninja-build pkg-config git ca-certificates
  # libraries (see README "Dependencies")
  libsndfile1-dev libsoxr-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libboost1.81-dev zlib1g-dev libpcre2-dev libutf8proc-dev libopencc-dev libopenblas-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-numpy ffmpeg binutils
  # the Python package's tests (pytest, psutil for the switching harness, venv for the install check)
  python3-pytest python3-psutil python3-venv python3-pip
  # fuzzing (clang + libFuzzer) and leak tools
  clang-14 libfuzzer-14-dev libclang-rt-14-dev valgrind
  # habits enforced by tools
  clang-format-14 clang-format clang-tidy-14
  # benchmark: alternative allocators, the HTML report's browser check
  libjemalloc2 libmimalloc2.0 chromium
  # the server's scale-out tests: a load balancer (Node for the openai client: scripts/setup_node.sh)
  haproxy
)
if [ "${QASR_SETUP_EXTRA:-}" != "" ]; then
  # shellcheck disable=SC2206
  PKGS+=(${QASR_SETUP_EXTRA})
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
