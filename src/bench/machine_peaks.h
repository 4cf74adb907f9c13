// What this machine can do, measured here and now (never taken from a data sheet),
// so speed figures can be shown against it:
//   read bandwidth: each pool thread sums its own contiguous part of a 256 MiB buffer
//     (AVX2 loads, 4 independent accumulators), best of 5 passes after one warm pass;
//   f32 FMA peak: each pool thread runs 12 independent 8-wide FMA chains, best of 3;
//   int8 peak: the integer GEMM's instruction pair (maddubs: 32 u8 × s8 multiply-adds,
//     then a 16-bit add), or its one instruction where it runs the AVX-512 VNNI kernels
//     (512-bit vpdpbusd), in 12 distinct independent chains per thread (distinct so the
//     compiler cannot merge them), best of 3; an int8
//     multiply-add counts as 2 ops, as an FMA lane counts as 2 FLOP.
// Both use all threads of the pool at once, the way the engine runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/thread_pool.h"

namespace qasr {

struct MachinePeaks {
  int threads = 1;
  double read_gb_s = 0;    // GB/s (1e9 bytes), all threads
  double fma_gflop_s = 0;  // GFLOP/s f32 (FMA = 2 FLOP), all threads; 0 without AVX2
  double int8_gop_s = 0;   // G int8 ops/s (multiply-add = 2), all threads; 0 without AVX2
  std::string method;      // one line, for the JSON and the table
};

MachinePeaks measure_machine_peaks(ThreadPool& pool);

// The read kernel behind read_gb_s: sums n bytes (a multiple of 128) as 64-bit lanes
// with AVX2 loads (scalar loads without AVX2). Also used by the microbenchmarks.
int64_t sum_bytes(const char* p, size_t n);

}  // namespace qasr
