#include "kernels/vmath.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/dispatch.h"
#include "kernels/half.h"
#include "kernels/simd_avx2.h"

namespace qasr::vmath {

// ---------------------------------------------------------------- scalar reference

namespace ref {

float dot(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void softmax(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void gelu_erf(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void rms_norm_row(const float* x, int64_t n, const float* w, float eps, float* y) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = w[i] * (x[i] * inv);
}

void layer_norm_row(const float* x, int64_t n, const float* g, const float* b, float eps, float* y) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= n;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= n;
  const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - static_cast<float>(mean)) * inv * g[i] + b[i];
}

void add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void exp(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

void attend_row(const float* q, const float* k, const float* v, int64_t stride, int64_t n, int64_t hd, float scale,
                float* scores, float* out) {
  for (int64_t j = 0; j < n; ++j) scores[j] = dot(q, k + j * stride, hd) * scale;
  softmax(scores, n);
  std::fill(out, out + hd, 0.0f);
  for (int64_t j = 0; j < n; ++j) axpy(scores[j], v + j * stride, out, hd);
}

void attend_row_f16(const float* q, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n, int64_t hd,
                    float scale, float* scores, float* out) {
  for (int64_t j = 0; j < n; ++j) {
    double s = 0;
    for (int64_t c = 0; c < hd; ++c) s += static_cast<double>(q[c]) * f16_to_f32(k[j * stride + c]);
    scores[j] = static_cast<float>(s) * scale;
  }
  softmax(scores, n);
  std::fill(out, out + hd, 0.0f);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < hd; ++c) out[c] += scores[j] * f16_to_f32(v[j * stride + c]);
}

void f32_to_f16_row(const float* x, int64_t n, uint16_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

namespace {
template <float (*Widen)(uint16_t)>
void gemv_16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* wr = w + r * n;
    double s = 0;  // as ref::dot
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * Widen(wr[i]);
    y[r] = static_cast<float>(s);
  }
}
}  // namespace

void gemv_bf16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y) {
  gemv_16<bf16_to_f32>(w, rows, x, n, y);
}
void gemv_f16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y) {
  gemv_16<f16_to_f32>(w, rows, x, n, y);
}

}  // namespace ref

// ---------------------------------------------------------------- AVX2 + FMA

namespace avx2 {
namespace {

#define QASR_T __attribute__((target("avx2,fma")))
#define QASR_TH __attribute__((target("avx2,fma,f16c")))

QASR_T inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Mask of the first r (< 8) lanes, for loads/stores of a row's tail.
QASR_T inline __m256i tail_mask(int64_t r) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), idx);
}

// e^x, Cephes expf: x = k·ln2 + r (ln2 split in two for exactness), e^r by a
// degree-6 polynomial, 2^k through the exponent bits. Inputs above 88 give e^88
// (finite), below −87.33 give 0.
QASR_T inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.0f), lo = _mm256_set1_ps(-87.33654475f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// erf(x) = sign(x)·(1 − erfc(|x|)), erfc(z) = t·exp(−z² + P(t)), t = 1/(1 + z/2)
// (Numerical Recipes erfcc, fractional error < 1.2e-7).
QASR_T inline __m256 erf8(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 z = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.5f), z, one));
  __m256 p = _mm256_set1_ps(0.17087277f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
  const __m256 erfc = _mm256_mul_ps(t, exp8(_mm256_fnmadd_ps(z, z, p)));
  return _mm256_or_ps(sign, _mm256_sub_ps(one, erfc));
}

QASR_T inline __m256 gelu8(__m256 x) {
  const __m256 e = erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

QASR_T inline __m256 silu8(__m256 g) {
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

}  // namespace

QASR_T float dot(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
  }
  return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

QASR_T void axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

QASR_T void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float mx = hmax(vmax);
  for (int64_t j = i; j < n; ++j) mx = std::max(mx, x[j]);
  const __m256 vm = _mm256_set1_ps(mx);
  __m256 vs = _mm256_setzero_ps();
  i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    vs = _mm256_add_ps(vs, e);
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm)), _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(x + i, m, e);
    vs = _mm256_add_ps(vs, e);
  }
  const float inv = 1.0f / hsum256(vs);
  const __m256 vi = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
  for (; i < n; ++i) x[i] *= inv;
}

QASR_T void gelu_erf(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(x + i, m, gelu8(_mm256_maskload_ps(x + i, m)));
  }
}

QASR_T void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu8(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(out + i, m,
                        _mm256_mul_ps(silu8(_mm256_maskload_ps(gate + i, m)), _mm256_maskload_ps(up + i, m)));
  }
}

QASR_T void rms_norm_row(const float* x, int64_t n, const float* w, float eps, float* y) {
  const float inv = 1.0f / std::sqrt(dot(x, x, n) / static_cast<float>(n) + eps);
  const __m256 vi = _mm256_set1_ps(inv);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(_mm256_loadu_ps(x + i), vi)));
  for (; i < n; ++i) y[i] = w[i] * (x[i] * inv);
}

QASR_T void layer_norm_row(const float* x, int64_t n, const float* g, const float* b, float eps, float* y) {
  __m256 vs = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vs = _mm256_add_ps(vs, _mm256_loadu_ps(x + i));
  float sum = hsum256(vs);
  for (int64_t j = i; j < n; ++j) sum += x[j];
  const float mean = sum / static_cast<float>(n);
  const __m256 vm = _mm256_set1_ps(mean);
  __m256 vv = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
    vv = _mm256_fmadd_ps(d, d, vv);
  }
  float var = hsum256(vv);
  for (int64_t j = i; j < n; ++j) var += (x[j] - mean) * (x[j] - mean);
  const float inv = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
  const __m256 vi = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vi);
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(d, _mm256_loadu_ps(g + i), _mm256_loadu_ps(b + i)));
  }
  for (; i < n; ++i) y[i] = (x[i] - mean) * inv * g[i] + b[i];
}

QASR_T void add(float* x, const float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) x[i] += y[i];
}

QASR_T void exp(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) {
    alignas(32) float t[8] = {x[i]};
    _mm256_store_ps(t, exp8(_mm256_load_ps(t)));
    y[i] = t[0];
  }
}

// 8 keys/values as f32, from f32 or f16 storage.
QASR_TH inline __m256 load8(const float* p) {
  return _mm256_loadu_ps(p);
}
QASR_TH inline __m256 load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// One query against n key/value rows stored as T (float or f16); hd % 8 == 0.
template <typename T>
QASR_TH void attend_row_impl(const float* q, const T* k, const T* v, int64_t stride, int64_t n, int64_t hd, float scale,
                             float* scores, float* out) {
  // Scores, four keys at a time: four lane-wise accumulators, then one hadd tree.
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const T* k0 = k + j * stride;
    const T* k1 = k0 + stride;
    const T* k2 = k1 + stride;
    const T* k3 = k2 + stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (int64_t c = 0; c < hd; c += 8) {
      const __m256 qc = _mm256_loadu_ps(q + c);
      a0 = _mm256_fmadd_ps(qc, load8(k0 + c), a0);
      a1 = _mm256_fmadd_ps(qc, load8(k1 + c), a1);
      a2 = _mm256_fmadd_ps(qc, load8(k2 + c), a2);
      a3 = _mm256_fmadd_ps(qc, load8(k3 + c), a3);
    }
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    _mm_storeu_ps(scores + j, _mm_mul_ps(s4, _mm_set1_ps(scale)));
  }
  for (; j < n; ++j) {
    __m256 a = _mm256_setzero_ps();
    for (int64_t c = 0; c < hd; c += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), load8(k + j * stride + c), a);
    scores[j] = hsum256(a) * scale;
  }
  softmax(scores, n);
  // Output: 64 dimensions (eight registers) per pass over the values.
  int64_t c0 = 0;
  for (; c0 + 64 <= hd; c0 += 64) {
    __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0, o4 = o0, o5 = o0, o6 = o0, o7 = o0;
    for (int64_t jj = 0; jj < n; ++jj) {
      const __m256 p = _mm256_broadcast_ss(scores + jj);
      const T* vr = v + jj * stride + c0;
      o0 = _mm256_fmadd_ps(p, load8(vr), o0);
      o1 = _mm256_fmadd_ps(p, load8(vr + 8), o1);
      o2 = _mm256_fmadd_ps(p, load8(vr + 16), o2);
      o3 = _mm256_fmadd_ps(p, load8(vr + 24), o3);
      o4 = _mm256_fmadd_ps(p, load8(vr + 32), o4);
      o5 = _mm256_fmadd_ps(p, load8(vr + 40), o5);
      o6 = _mm256_fmadd_ps(p, load8(vr + 48), o6);
      o7 = _mm256_fmadd_ps(p, load8(vr + 56), o7);
    }
    float* oc = out + c0;
    _mm256_storeu_ps(oc, o0), _mm256_storeu_ps(oc + 8, o1), _mm256_storeu_ps(oc + 16, o2),
        _mm256_storeu_ps(oc + 24, o3);
    _mm256_storeu_ps(oc + 32, o4), _mm256_storeu_ps(oc + 40, o5), _mm256_storeu_ps(oc + 48, o6),
        _mm256_storeu_ps(oc + 56, o7);
  }
  for (; c0 < hd; c0 += 8) {
    __m256 o = _mm256_setzero_ps();
    for (int64_t jj = 0; jj < n; ++jj)
      o = _mm256_fmadd_ps(_mm256_broadcast_ss(scores + jj), load8(v + jj * stride + c0), o);
    _mm256_storeu_ps(out + c0, o);
  }
}

QASR_TH void attend_row(const float* q, const float* k, const float* v, int64_t stride, int64_t n, int64_t hd,
                        float scale, float* scores, float* out) {
  if (hd % 8 != 0) return ref::attend_row(q, k, v, stride, n, hd, scale, scores, out);
  attend_row_impl(q, k, v, stride, n, hd, scale, scores, out);
}

QASR_TH void attend_row_f16(const float* q, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n, int64_t hd,
                            float scale, float* scores, float* out) {
  if (hd % 8 != 0) return ref::attend_row_f16(q, k, v, stride, n, hd, scale, scores, out);
  attend_row_impl(q, k, v, stride, n, hd, scale, scores, out);
}

QASR_TH void f32_to_f16_row(const float* x, int64_t n, uint16_t* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

namespace {

// Eight 16-bit weights → eight f32 (loads 16 bytes).
struct WidenBf16 {
  QASR_TH static __m256 load(const uint16_t* p) { return load_bf16x8(p); }
  static float one(uint16_t h) { return bf16_to_f32(h); }
};
struct WidenF16 {
  QASR_TH static __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float one(uint16_t h) { return f16_to_f32(h); }
};

// One row's tail (n − i < 8 elements) as avx2::dot does it: masked lanes are 0 · 0.
template <typename W>
QASR_TH inline __m256 tail_fma(const float* x, const uint16_t* wr, int64_t i, int64_t n, __m256 s1) {
  alignas(32) float t[8] = {};
  for (int64_t k = i; k < n; ++k) t[k - i] = W::one(wr[k]);
  const __m256i m = tail_mask(n - i);
  return _mm256_fmadd_ps(_mm256_maskload_ps(x + i, m), _mm256_load_ps(t), s1);
}

QASR_T inline float reduce4(__m256 s0, __m256 s1, __m256 s2, __m256 s3) {
  return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

// One row at a time: a single sequential stream through the rows (they are contiguous),
// which the hardware prefetcher follows, helped by software prefetch where that measured
// faster (Intel: stream_prefetch_bytes()). Measured on the 2-core AMD EPYC (Zen 4) VM
// (qasr_kernels_bench BM_Gemv16, 151936 × 1024 bf16 from DRAM): 25 GB/s one row at a
// time without software prefetch, 20 GB/s with prefetch 4 KiB ahead, 9.3 GB/s with two
// rows per pass (two streams 2 KiB apart, which the prefetcher does not follow), and in
// L3 (1024 × 3072) 33 vs 27 GB/s. The activation loads two rows could share are L1 hits.
template <typename W>
QASR_TH void gemv_16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y) {
  const int64_t pf = stream_prefetch_bytes();
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* w0 = w + r * n;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      if (pf) _mm_prefetch(reinterpret_cast<const char*>(w0 + i) + pf, _MM_HINT_T1);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), W::load(w0 + i), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), W::load(w0 + i + 8), a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), W::load(w0 + i + 16), a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), W::load(w0 + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), W::load(w0 + i), a0);
    if (i < n) a1 = tail_fma<W>(x, w0, i, n, a1);
    y[r] = reduce4(a0, a1, a2, a3);
  }
}

}  // namespace

QASR_TH void gemv_bf16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y) {
  gemv_16<WidenBf16>(w, rows, x, n, y);
}
QASR_TH void gemv_f16(const uint16_t* w, int64_t rows, const float* x, int64_t n, float* y) {
  gemv_16<WidenF16>(w, rows, x, n, y);
}

#undef QASR_TH
#undef QASR_T

}  // namespace avx2

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge source of
// their unmasked forms, which -Wmaybe-uninitialized flags (as in dispatch.cc's GEMVs).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace avx512 {
namespace {

#define QASR_T5 __attribute__((target("avx512f,avx512dq,avx2,fma")))

// exp8 and gelu8 of the avx2 namespace at 16 lanes, operation for operation, so each
// lane's result is the 8-wide kernel's bit for bit. Zen 4 VM, one thread (bench_kernels
// BM_GeluErf512): 0.72 -> 1.23 G elements/s, the divide and the two polynomials' FMAs
// at half the instruction count.
QASR_T5 inline __m512 exp16(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.0f), lo = _mm512_set1_ps(-87.33654475f);
  const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  x = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), x);
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, z, _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
  return _mm512_maskz_mul_ps(static_cast<__mmask16>(~under), p, _mm512_castsi512_ps(e));
}

QASR_T5 inline __m512 gelu16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f), neg0 = _mm512_set1_ps(-0.0f);
  const __m512 h = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  const __m512 sign = _mm512_and_ps(h, neg0);
  const __m512 z = _mm512_andnot_ps(neg0, h);
  const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.5f), z, one));
  __m512 p = _mm512_set1_ps(0.17087277f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.82215223f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.48851587f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.13520398f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.27886807f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.18628806f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.09678418f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.37409196f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.00002368f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.26551223f));
  const __m512 erfc = _mm512_mul_ps(t, exp16(_mm512_fnmadd_ps(z, z, p)));
  const __m512 e = _mm512_or_ps(sign, _mm512_sub_ps(one, erfc));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(one, e));
}

}  // namespace

QASR_T5 void gelu_erf(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

#undef QASR_T5

}  // namespace avx512
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}  // namespace qasr::vmath
