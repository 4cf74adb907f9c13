// Compute operations of the model (f32 activations; weights f32/f16/bf16/q8_0/q4_0
// used in place). Each picks its kernel once per process from best_isa(): the AVX2
// kernels (gemm.h, vmath.h, dispatch.h) or their scalar references (QASR_ISA=scalar,
// or a CPU without AVX2). Work is split over the caller's ThreadPool.
// Shapes: row-major, innermost last.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "base/thread_pool.h"
#include "kernels/tensor.h"

namespace qasr::ops {

// y[M][N] = x[M][K] · W[N][K]ᵀ (+ bias[N]).  W.cols must equal K.
void matmul(ThreadPool& pool, const float* x, int64_t M, const Mat& W, const float* bias, float* y);
// True when matmul(x with M rows, W) takes the integer GEMM: q4_0 or q8_0 weights, K a multiple
// of 32, at least 8 rows, AVX2, unless QASR_GEMM=f32 or QASR_NO_BLAS=1. The speed
// benchmark counts that work against the int8 peak rather than the f32 FMA peak.
bool uses_int8_gemm(const Mat& W, int64_t M);
// Several matrices applied to the same activations (no bias): y_i = x · W_iᵀ. With few
// rows and quantized weights (decode) the activations are quantized once and one
// parallel_for covers all matrices' rows; otherwise the same as separate matmul calls.
void matmul_group(ThreadPool& pool, const float* x, int64_t M,
                  std::initializer_list<std::pair<const Mat*, float*>> outs);

// One-time process state: runs a small GEMM on every pool thread so OpenBLAS
// touches its per-thread packing buffers (about 3 MiB, kept for the process lifetime)
// now rather than during the first transcription. Benchmarks call it before
// taking their baseline.
void warm_up(ThreadPool& pool);

// LayerNorm over the last dim (n), eps as given: y = (x − mean)/sqrt(var + eps)·g + b.
void layer_norm(const float* x, int64_t rows, int64_t n, const float* g, const float* b, float eps, float* y);
// RMSNorm: y = w ⊙ x / sqrt(mean(x²) + eps).
void rms_norm(const float* x, int64_t rows, int64_t n, const float* w, float eps, float* y);

void gelu_erf(float* x, int64_t n);  // exact erf form (never the tanh approximation)
// out[i] = silu(gate[i]) · up[i]
void swiglu(const float* gate, const float* up, int64_t n, float* out);
void add_inplace(float* x, const float* y, int64_t n);
// The same, split over the pool's threads (large activations: conv stem, FFN).
void gelu_erf(ThreadPool& pool, float* x, int64_t n);
void swiglu(ThreadPool& pool, const float* gate, const float* up, int64_t n, float* out);
float dot(const float* a, const float* b, int64_t n);
void softmax_inplace(float* x, int64_t n);

// NeoX rotate-half RoPE on one head vector of `head_dim`, from a table: cos/sin of
// pos·inv_freq (fp32 angle, as the reference) computed once per position by
// rope_table (head_dim/2 entries each) and reused by every head and layer.
void rope_table(int head_dim, int64_t pos, const float* inv_freq, float* cos_out, float* sin_out);
void rope_neox_table(float* x, int head_dim, const float* cos, const float* sin);

// Scaled dot-product attention (GQA: query head h uses KV head h / (H / KV)).
// q: L rows of H·hd (row stride q_stride); k, v: n positions, position j of KV head
// kh at k + kh·kv_head_stride + j·kv_stride (heads side by side: kv_head_stride = hd;
// a per-head cache: kv_stride = hd); out: L rows (stride out_stride). Query row i sees
// keys [0, n), or [0, causal_base + i] when causal_base ≥ 0 (decoder with a cache).
// Work is split over (head, block of query rows); blocks of ≥ 8 rows run as two
// sgemm calls around the softmax, single rows (decode) as vector dots.
// max_keys: the most keys any call will see (the session's positions), so the
// per-thread score buffer is sized once.
void attention(ThreadPool& pool, const float* q, int64_t q_stride, int64_t L, const float* k, const float* v,
               int64_t kv_stride, int64_t kv_head_stride, int64_t n, int64_t H, int64_t KV, int64_t hd, float scale,
               int64_t causal_base, float* out, int64_t out_stride, int64_t max_keys = 0);
// The same with keys and values stored as f16 (the decoder's KV cache: half the
// memory and half the bytes read per decoded token).
void attention_f16kv(ThreadPool& pool, const float* q, int64_t q_stride, int64_t L, const uint16_t* k,
                     const uint16_t* v, int64_t kv_stride, int64_t kv_head_stride, int64_t n, int64_t H, int64_t KV,
                     int64_t hd, float scale, int64_t causal_base, float* out, int64_t out_stride,
                     int64_t max_keys = 0);
// f32 → f16 (round to nearest even), for writing the KV cache.
void to_f16_row(const float* x, int64_t n, uint16_t* y);

}  // namespace qasr::ops
