// Element-wise and row kernels (exp-based activations, softmax, norms, small dots),
// in two versions with the same signatures:
//   ref::   scalar, plain C++ (std::exp/std::erf, double accumulators): the reference;
//   avx2::  AVX2+FMA intrinsics (compiled with target attributes, chosen at run time).
// ops:: (kernels/ops.h) picks one per process from best_isa(); tests compare the two
// on odd lengths. The AVX2 exp is a Cephes-style polynomial (≤ 2 ulp on [-87, 88]);
// erf uses the Numerical Recipes erfc form (fractional error < 1.2e-7).
#pragma once

#include <cstdint>

namespace qasr::vmath {

namespace ref {
float dot(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);  // y += a·x
void softmax(float* x, int64_t n);
void gelu_erf(float* x, int64_t n);
void swiglu(const float* gate, const float* up, int64_t n, float* out);
void rms_norm_row(const float* x, int64_t n, const float* w, float eps, float* y);
void layer_norm_row(const float* x, int64_t n, const float* g, const float* b, float eps, float* y);
void add(float* x, const float* y, int64_t n);
void exp(const float* x, int64_t n, float* y);
// One query against n key/value rows (row stride `stride` floats, head size hd):
// out[hd] = Σ_j softmax_j(scale · q·k_j) · v_j. scores: n floats of scratch.
void attend_row(const float* q, const float* k, const float* v, int64_t stride, int64_t n, int64_t hd, float scale,
                float* scores, float* out);
// The same with keys and values stored as f16 (the decoder's KV cache).
void attend_row_f16(const float* q, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n, int64_t hd,
                    float scale, float* scores, float* out);
void f32_to_f16_row(const float* x, int64_t n, uint16_t* y);  // round to nearest even
// Decode matrix-vector with 16-bit weights: y[r] = Σ_i w[r·n + i]·x[i] for `rows`
// consecutive rows of n bf16 (or f16) values, each row exactly dot(x, to_f32(row)).
void gemv_bf16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y);
void gemv_f16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y);
}  // namespace ref

namespace avx2 {
float dot(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);
void softmax(float* x, int64_t n);
void gelu_erf(float* x, int64_t n);
void swiglu(const float* gate, const float* up, int64_t n, float* out);
void rms_norm_row(const float* x, int64_t n, const float* w, float eps, float* y);
void layer_norm_row(const float* x, int64_t n, const float* g, const float* b, float eps, float* y);
void add(float* x, const float* y, int64_t n);
void exp(const float* x, int64_t n, float* y);
// As ref::attend_row; four keys per step for the scores, the output accumulated in
// registers 64 dimensions at a time (hd a multiple of 8; otherwise the reference).
void attend_row(const float* q, const float* k, const float* v, int64_t stride, int64_t n, int64_t hd, float scale,
                float* scores, float* out);
void attend_row_f16(const float* q, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n, int64_t hd,
                    float scale, float* scores, float* out);
void f32_to_f16_row(const float* x, int64_t n, uint16_t* y);  // F16C, round to nearest even
// As ref::gemv_bf16/gemv_f16, the weights widened in registers (bf16: a 16-bit shift;
// f16: F16C) and never stored as f32. Each row's sum is bit-identical to
// avx2::dot(x, widened row): the same four 8-lane chains over 32-element steps, the
// same tail and the same final reduction, so the 16-bit path decodes exactly what the
// convert-then-dot path did. One row at a time, one sequential stream for the
// hardware prefetcher (why: vmath.cc).
void gemv_bf16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y);
void gemv_f16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y);
}  // namespace avx2

// 16-lane forms where the CPU has AVX-512F (best_isa() == kAvx512); each lane's result
// is the avx2 kernel's bit for bit.
namespace avx512 {
void gelu_erf(float* x, int64_t n);
}  // namespace avx512

}  // namespace qasr::vmath
