// f32 GEMM for many activation rows (encoder, conv stem, prefill), AVX2 + FMA.
//
//   y[M][N] = x[M][K] · W[N][K]ᵀ (+ bias[N]),  W in any stored dtype.
//
// Shape of the work: activations are packed once per call into panels of 16 rows,
// k-major ([K][16], an 8 × 8 register transpose per 8 rows × 8 k), shared read-only by
// all threads. Each thread takes a range of weight rows, 48 at a time, and walks K in
// passes of 512: it converts the 48 rows' slice to f32 (dequantizing q4_0/q8_0, or
// f16/bf16) into its scratch (96 KiB, L2) and runs every panel's slice (32 KiB, L1)
// against it; the first pass writes y (+ bias), later ones add. The micro-kernel
// computes a 16 × 6 tile: two 8-wide activation vectors per k against six broadcast
// weights, 12 accumulators, 12 FMAs per 2 vector loads + 6 broadcasts; where the CPU has
// AVX-512, a 16 × 12 tile instead: one 16-wide vector per k against twelve broadcast
// weights, 12 FMAs per vector load, the same FMA chain per output (bit-identical). Weight rows are
// used as stored (no transposition); only the small activation matrix is rearranged.
// (Without the K passes, the conv stem's K = 4320 put 830 KiB of converted rows and
// 276 KiB panels past L2.)
// The reference is the row-dot path of ops::matmul (QASR_NO_BLAS=1 or the scalar ISA).
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "kernels/tensor.h"

namespace qasr::gemm {

void matmul_avx2(ThreadPool& pool, const float* x, int64_t M, const Mat& W, const float* bias, float* y);

// q4_0 or q8_0 weights against q8_0-quantized activations, integer block dots (what
// ggml does for these files, here blocked as a GEMM):
//
//   y[m][n] = Σ_b d_w[n][b] · d_x[m][b] · Σ_{j<32} w · q_x   (+ bias[n]),
//
// w = q − 8 for q4_0, q for q8_0; the activations quantized to q8_0 by quantize_q8_0.
// Bit-identical to dot_q4_0_q8_0 / dot_q8_0_q8_0 (the scalar references) per output:
// each block's integer sum is exact and is scaled and accumulated in the reference's
// order.
//
// Shape of the work: activation rows are quantized and packed once per call in groups
// of 6 ([block][row][32 × int8] + scales and −8·Σq, −128·Σq), shared by all threads.
// Each thread repacks tiles of weight rows to bytes laid out [block][step][row][4] (an
// 8 × 8 transpose of 4-byte groups; q4_0 nibbles become bytes 0..15) so that one load
// holds 4 k-values of every row of the tile. The micro-kernel (a tile × 6 activation
// rows) broadcasts 4 bytes of an activation row against the tile: with AVX2, tiles of 8
// rows and `maddubs` (q8_0 through the sign trick, maddubs(|w|, sign(q_x, w))); with
// AVX-512 VNNI, tiles of 16 rows and one 512-bit `vpdpbusd` per 64 multiply-adds (q8_0
// read unsigned, xor 0x80, its offset taken out by the −128·Σq start), two such tiles
// per call where a thread has two (12 accumulator chains); per block the f32 scaling. K must be a multiple of 32. vnni
// = true needs AVX-512 VNNI (quant_kernels(Isa::kAvx512) is that level).
void matmul_int8(ThreadPool& pool, const float* x, int64_t M, const Mat& W, const float* bias, float* y, bool vnni);
// The VNNI kernels when the dispatched ISA level is AVX-512 (QASR_ISA can force avx2).
bool int8_vnni_default();
// matmul_avx2 takes its 512-bit f32 kernel: the dispatched ISA level is AVX-512 (read per
// call, so QASR_ISA=avx2 selects the 256-bit kernel). bench speed measures the FMA peak at
// the width this says.
bool f32_avx512_default();

}  // namespace qasr::gemm
