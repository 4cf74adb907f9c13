// f32 GEMM for many activation rows (encoder, conv stem, prefill), AVX2 + FMA.
//
//   y[M][N] = x[M][K] · W[N][K]ᵀ (+ bias[N]),  W in any stored dtype.
//
// Shape of the work: activations are packed once per call into panels of 16 rows,
// k-major ([K][16]), shared read-only by all threads. Each thread takes a range of
// weight rows and converts 48 of them at a time to f32 (dequantizing q4_0/q8_0, or
// f16/bf16), row-major, into its scratch. The micro-kernel computes a 16 × 6 tile:
// two 8-wide activation vectors per k against six broadcast weights, 12 accumulators,
// 12 FMAs per 2 vector loads + 6 broadcasts. Weight rows are used as stored (no
// transposition); only the small activation matrix is rearranged.
// The reference is the row-dot path of ops::matmul (QASR_NO_BLAS=1 or the scalar ISA).
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "kernels/tensor.h"

namespace qasr::gemm {

void matmul_avx2(ThreadPool& pool, const float* x, int64_t M, const Mat& W, const float* bias, float* y);

}  // namespace qasr::gemm
