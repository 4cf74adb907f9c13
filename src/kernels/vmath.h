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
}  // namespace avx2

}  // namespace qasr::vmath
