#!/usr/bin/env bash
# Sets everything up and runs every test: a Release build (all tests, including
# those labelled release-only) and an AddressSanitizer+UBSan build (leak
# detection on; release-only tests excluded). Any failure fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=${JOBS:-$(nproc)}

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$JOBS"
(cd build && ctest --output-on-failure -j"$JOBS")

echo "== sanitizer build (address, undefined, leak)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQASR_SANITIZE=ON > /dev/null
cmake --build build-asan -j"$JOBS"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
# Only leaks inside third-party decoders, each documented in the file.
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$JOBS" -LE release-only)

echo "== fuzzing (clang-14 libFuzzer, ${FUZZ_SECONDS:-30} s per harness)"
FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh
echo "== all tests passed (release and sanitizer builds, fuzzers)"
