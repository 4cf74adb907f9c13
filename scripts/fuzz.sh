#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang-14 and runs each for FUZZ_SECONDS
# (default 30) on a copy of the regression corpus (leaks inside third-party
# decoders are suppressed by tests/fuzz/lsan.supp, each with its reason). A crash, leak, sanitizer report
# or timeout fails the script; the crashing input is left in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${FUZZ_SECONDS:-30}
JOBS=${JOBS:-$(nproc)}
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DQASR_BUILD_FUZZERS=ON -DQASR_BUILD_TESTS=OFF > /dev/null
cmake --build build-fuzz -j"$JOBS" --target fuzz_gguf fuzz_chatllm fuzz_safetensors fuzz_audio fuzz_multipart fuzz_results
mkdir -p build-fuzz/artifacts
for h in gguf chatllm safetensors audio multipart results; do
  work=build-fuzz/corpus-$h
  rm -rf "$work" && mkdir -p "$work" && cp tests/fuzz/corpus/$h/* "$work"/
  echo "== fuzz_$h for ${SECONDS_PER}s"
  rc=0
  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp \
    ./build-fuzz/fuzz_$h "$work" -max_total_time="$SECONDS_PER" -max_len=65536 \
    -rss_limit_mb=2048 -timeout=20 -artifact_prefix=build-fuzz/artifacts/$h- -print_final_stats=1 \
    > build-fuzz/fuzz_$h.log 2>&1 || rc=$?
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)" build-fuzz/fuzz_$h.log || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz_$h found a problem (exit $rc); log: build-fuzz/fuzz_$h.log, input in build-fuzz/artifacts/"
    grep -E "#[0-9]+ 0x" build-fuzz/fuzz_$h.log | head -20
    exit 1
  fi
done
echo "== fuzzing: no crash, leak or sanitizer report in ${SECONDS_PER}s per harness"
