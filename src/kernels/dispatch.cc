#include "kernels/dispatch.h"

#include <cpuid.h>
#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "kernels/half.h"
#include "kernels/simd_avx2.h"

namespace qasr {
namespace {

// ---- AVX2 (+FMA, F16C) ----

__attribute__((target("avx2,fma,f16c"))) inline __m256i unpack_q4(const uint8_t* qs) {
  // 16 bytes → 32 nibbles: weights 0..15 (low nibbles) then 16..31 (high nibbles).
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// d_w·d_a of two consecutive blocks in lanes 0 and 1 (lanes 2, 3 zero): the weights'
// f16 scales widened by F16C times the activation's two f32 scales da[0..1].
__attribute__((target("avx2,fma,f16c"))) inline __m128 block_scales2(uint16_t dw0, uint16_t dw1, const float* da) {
  const __m128i dw = _mm_insert_epi16(_mm_cvtsi32_si128(dw0), dw1, 1);
  return _mm_mul_ps(_mm_cvtph_ps(dw), _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(da))));
}

// Signed int8 × int8 dot of 32 lanes → 8 int32 partial sums (AVX2: sign trick + maddubs).
__attribute__((target("avx2,fma,f16c"))) inline __m256i dot_i8_avx2(__m256i x, __m256i y) {
  const __m256i ax = _mm256_sign_epi8(x, x);
  const __m256i sy = _mm256_sign_epi8(y, x);
  const __m256i p16 = _mm256_maddubs_epi16(ax, sy);
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

__attribute__((target("avx2,fma,f16c"))) float dot_q4_0_avx2(const BlockQ4_0* w, const BlockQ8_0* a, int64_t n) {
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  const __m256i eight = _mm256_set1_epi8(8);
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i q = _mm256_sub_epi8(unpack_q4(w[b].qs), eight);
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(a[b].d));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_avx2(q, y)), d, acc);
  }
  return hsum256(acc);
}

__attribute__((target("avx2,fma,f16c"))) float dot_q8_0_avx2(const BlockQ8_0* w, const BlockQ8_0* a, int64_t n) {
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(a[b].d));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_avx2(x, y)), d, acc);
  }
  return hsum256(acc);
}

// How far ahead the one-row-at-a-time GEMVs prefetch, by vendor, as measured. On the
// 2-core Intel Xeon VM (AVX-512, AMX; bench speed, 2 threads, medians of 3, alternated)
// the hardware prefetcher alone left 0.6B decode at 25 ms/token at q4_0 (AVX-512; 35
// through the AVX2 kernels) and 60 at bf16; 4 KiB ahead into L2 took them to 17 (18.7)
// and 42-45, f16 to 40 (1 KiB: q4_0 18.7; 2 KiB: bf16 50; 8 and 16 KiB as 4). On the
// Zen 4 VM, prefetch ahead made the same GEMVs slower from DRAM (q4_0 151936 x 1024 8
// KiB ahead 10.5 instead of 7.0 ms; bf16 4 KiB ahead 20 instead of 25 GB/s), so AMD
// (and anything else) keeps to the hardware prefetcher.
int64_t vendor_prefetch_bytes() {
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  return std::strcmp(vendor, "GenuineIntel") == 0 ? 4096 : 0;
}
const int64_t kStreamPrefetchBytes = vendor_prefetch_bytes();

// q4_0 rows against one q8_0 vector, one row at a time (a single forward stream
// through the weights; prefetched ahead where that measured faster, see above),
// two blocks per 256-bit register. Per call, the activation is laid out once for block pairs
// (b, b+1): ylo = [y_b[0..15] | y_b+1[0..15]], yhi = [y_b[16..31] | y_b+1[16..31]],
// and 8·Σy in the same lane layout, so per pair of weight blocks the 32 nibble
// bytes load as one register: low nibbles meet ylo, high nibbles meet yhi.
// Σ(q − 8)·y = Σ q·y − 8·Σ y with q unsigned, so maddubs takes the nibbles as they
// are; int16 pair sums stay below 2·2·15·127. Lanes 0..3 hold block b, 4..7 block b+1.
__attribute__((target("avx2,fma,f16c"))) void gemv_q4_0_avx2(const BlockQ4_0* w, int64_t rows, const BlockQ8_0* a,
                                                             int64_t n, float* y) {
  const int64_t nb = n / kQK, np = nb / 2;
  constexpr int64_t kMaxPairs = 256;  // K up to 16384 through the pair path
  if (np > kMaxPairs) {
    for (int64_t r = 0; r < rows; ++r) y[r] = dot_q4_0_avx2(w + r * nb, a, n);
    return;
  }
  const __m256i ones = _mm256_set1_epi16(1), eights = _mm256_set1_epi8(8), m4 = _mm256_set1_epi8(0x0F);
  alignas(32) __m256i ylo[kMaxPairs], yhi[kMaxPairs], ys[kMaxPairs];
  alignas(32) float da[2 * kMaxPairs];
  for (int64_t q = 0; q < np; ++q) {
    const BlockQ8_0& b0 = a[2 * q];
    const BlockQ8_0& b1 = a[2 * q + 1];
    ylo[q] = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(b1.qs), reinterpret_cast<const __m128i*>(b0.qs));
    yhi[q] =
        _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(b1.qs + 16), reinterpret_cast<const __m128i*>(b0.qs + 16));
    ys[q] = _mm256_madd_epi16(
        _mm256_add_epi16(_mm256_maddubs_epi16(eights, ylo[q]), _mm256_maddubs_epi16(eights, yhi[q])), ones);
    da[2 * q] = _cvtsh_ss(b0.d);
    da[2 * q + 1] = _cvtsh_ss(b1.d);
  }
  const __m256i lane_b0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const int64_t pf = kStreamPrefetchBytes;
  for (int64_t r = 0; r < rows; ++r) {
    const BlockQ4_0* wr = w + r * nb;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t q = 0;
    for (; q < np; ++q) {
      const BlockQ4_0& w0 = wr[2 * q];
      const BlockQ4_0& w1 = wr[2 * q + 1];
      if (pf) _mm_prefetch(reinterpret_cast<const char*>(&w0) + pf, _MM_HINT_T1);
      const __m256i v =
          _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(w1.qs), reinterpret_cast<const __m128i*>(w0.qs));
      const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
      const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, ylo[q]), _mm256_maddubs_epi16(hi, yhi[q]));
      const __m256i sum = _mm256_sub_epi32(_mm256_madd_epi16(p, ones), ys[q]);
      // Scales d_w·d_a of the two blocks, each over its four lanes.
      const __m256 ds =
          _mm256_permutevar8x32_ps(_mm256_castps128_ps256(block_scales2(w0.d, w1.d, da + 2 * q)), lane_b0);
      if (q & 1)
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), ds, acc1);
      else
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), ds, acc0);
    }
    float t = hsum256(_mm256_add_ps(acc0, acc1));
    if (nb & 1) t += dot_q4_0_avx2(wr + nb - 1, a + nb - 1, kQK);  // odd block count: the last block alone
    y[r] = t;
  }
}

__attribute__((target("avx2,fma,f16c"))) void gemv_q8_0_avx2(const BlockQ8_0* w, int64_t rows, const BlockQ8_0* a,
                                                             int64_t n, float* y) {
  const int64_t nb = n / kQK;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const BlockQ8_0* w0 = w + r * nb;
    const BlockQ8_0* w1 = w0 + nb;
    const BlockQ8_0* w2 = w1 + nb;
    const BlockQ8_0* w3 = w2 + nb;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
           acc3 = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      // Four streams 1 KiB apart, which the hardware prefetcher does not follow alone:
      // without these, 151936 × 1024 from DRAM ran at 6.5 instead of 21 GB/s (Zen 4 VM).
      _mm_prefetch(reinterpret_cast<const char*>(w0 + b + 16 * nb), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w1 + b + 16 * nb), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w2 + b + 16 * nb), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w3 + b + 16 * nb), _MM_HINT_T1);
      const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
      const float da = _cvtsh_ss(a[b].d);
#define QASR_ROW(i)                                                                                      \
  {                                                                                                      \
    const __m256i s = dot_i8_avx2(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w##i[b].qs)), yv); \
    acc##i = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(_cvtsh_ss(w##i[b].d) * da), acc##i);  \
  }
      QASR_ROW(0) QASR_ROW(1) QASR_ROW(2) QASR_ROW(3)
#undef QASR_ROW
    }
    y[r] = hsum256(acc0);
    y[r + 1] = hsum256(acc1);
    y[r + 2] = hsum256(acc2);
    y[r + 3] = hsum256(acc3);
  }
  for (; r < rows; ++r) y[r] = dot_q8_0_avx2(w + r * nb, a, n);
}

// q8_0 quantization, bit-identical to the scalar reference: d = amax/127 stored as
// f16, q = roundf(x · (1/d)) with round-half-away-from-zero done exactly
// (truncate, then step away from zero when the dropped part is ≥ 0.5).
__attribute__((target("avx2,fma,f16c"))) void quantize_q8_0_avx2(const float* x, BlockQ8_0* y, int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* xb = x + b * kQK;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(xb + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[i]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) {
      const __m256 s = _mm256_mul_ps(v[i], vid);
      __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(s, t)), half, _CMP_GE_OQ);
      t = _mm256_add_ps(t, _mm256_and_ps(away, _mm256_or_ps(one, _mm256_and_ps(sign, s))));
      q[i] = _mm256_cvttps_epi32(t);
    }
    // int32 → int8 (values within ±127): packs interleave 128-bit lanes; fix the order.
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    const __m256i ordered = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), ordered);
  }
}

// (q − 8)·d per weight: the same single f32 multiply as the reference.
__attribute__((target("avx2,fma,f16c"))) void dequantize_q4_0_avx2(const BlockQ4_0* x, float* y, int64_t n) {
  const __m256i eight = _mm256_set1_epi8(8);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[b].d));
    const __m256i q = _mm256_sub_epi8(unpack_q4(x[b].qs), eight);  // weights 0..31 in order
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    float* yb = y + b * kQK;
    _mm256_storeu_ps(yb, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
    _mm256_storeu_ps(yb + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
    _mm256_storeu_ps(yb + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
    _mm256_storeu_ps(yb + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
  }
}

// ---- AVX-512 VNNI (256-bit vpdpbusd) ----

#define QASR_AVX512 "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
// Lambdas inside a target function do not inherit its target: they carry it themselves.
#define QASR_AVX512_LAMBDA __attribute__((target(QASR_AVX512)))

__attribute__((target(QASR_AVX512))) float dot_q4_0_avx512(const BlockQ4_0* w, const BlockQ8_0* a, int64_t n) {
  // Σ (q − 8)·y = Σ q·y − 8·Σ y, with q unsigned: two vpdpbusd per block.
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  const __m256i eights = _mm256_set1_epi8(8);
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i q = unpack_q4(w[b].qs);
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256i qy = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, y);
    const __m256i sy = _mm256_dpbusd_epi32(_mm256_setzero_si256(), eights, y);
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(a[b].d));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(qy, sy)), d, acc);
  }
  return hsum256(acc);
}

__attribute__((target(QASR_AVX512))) float dot_q8_0_avx512(const BlockQ8_0* w, const BlockQ8_0* a, int64_t n) {
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(a[b].d));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), d, acc);
  }
  return hsum256(acc);
}

// Row-by-row GEMV from a dot kernel (the scalar reference; the fast GEMVs past their stack limit).
template <typename Block, float (*Dot)(const Block*, const BlockQ8_0*, int64_t)>
void gemv_rows(const Block* w, int64_t rows, const BlockQ8_0* a, int64_t n, float* y) {
  const int64_t nb = n / kQK;
  for (int64_t r = 0; r < rows; ++r) y[r] = Dot(w + r * nb, a, n);
}

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() (a self-initialized local) as the
// unused merge source of their unmasked forms; -Wmaybe-uninitialized flags every inlined
// use. The values are never read, so the warning is silenced for the 512-bit GEMV.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// The q4_0 GEMV below runs one row at a time: rows are contiguous, so the weights are a
// single forward stream (prefetched as in gemv_q4_0_avx2), and the activation, laid out
// once per call in the weights' lane order, is read from L1.

// q4_0 rows against one q8_0 vector, four blocks per 512-bit register: lane j·4..j·4+3
// of `lo` holds the low nibbles of block j (weights 0..15), `hi` the high nibbles
// (16..31); ylo/yhi hold the matching activation bytes. Σ (q − 8)·y = Σ q·y − 8·Σ y with
// q unsigned, so vpdpbusd takes the nibbles as they are, starting from −8·Σy per lane.
// About half the instructions per weight byte of the AVX2 GEMV.
__attribute__((target(QASR_AVX512))) void gemv_q4_0_avx512(const BlockQ4_0* w, int64_t rows, const BlockQ8_0* a,
                                                           int64_t n, float* y) {
  const int64_t nb = n / kQK, ng = nb / 4, nt = nb - 4 * ng;
  constexpr int64_t kMaxGroups = 128;  // K up to 16384 through the grouped path
  if (ng > kMaxGroups) return gemv_rows<BlockQ4_0, dot_q4_0_avx512>(w, rows, a, n, y);
  alignas(64) __m512i ylo[kMaxGroups], yhi[kMaxGroups], yneg[kMaxGroups];
  alignas(16) __m128 da[kMaxGroups];
  const __m512i m4 = _mm512_set1_epi8(0x0F), eights = _mm512_set1_epi8(8), zero = _mm512_setzero_si512();
  for (int64_t g = 0; g < ng; ++g) {
    const BlockQ8_0* b = a + 4 * g;
    __m512i lo = _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs)));
    __m512i hi = _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs + 16)));
    lo = _mm512_inserti32x4(lo, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs)), 1);
    hi = _mm512_inserti32x4(hi, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs + 16)), 1);
    lo = _mm512_inserti32x4(lo, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[2].qs)), 2);
    hi = _mm512_inserti32x4(hi, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[2].qs + 16)), 2);
    lo = _mm512_inserti32x4(lo, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[3].qs)), 3);
    hi = _mm512_inserti32x4(hi, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[3].qs + 16)), 3);
    ylo[g] = lo;
    yhi[g] = hi;
    yneg[g] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, eights, lo), eights, hi));
    da[g] = _mm_setr_ps(_cvtsh_ss(b[0].d), _cvtsh_ss(b[1].d), _cvtsh_ss(b[2].d), _cvtsh_ss(b[3].d));
  }
  const __m512i lane_block = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const int64_t pf = kStreamPrefetchBytes;
  for (int64_t r = 0; r < rows; ++r) {
    const BlockQ4_0* wr = w + r * nb;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t g = 0; g < ng; ++g) {
      const BlockQ4_0* b = wr + 4 * g;
      if (pf) _mm_prefetch(reinterpret_cast<const char*>(b) + pf, _MM_HINT_T1);
      __m512i v = _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs)));
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs)), 1);
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[2].qs)), 2);
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[3].qs)), 3);
      const __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(yneg[g], lo, ylo[g]), hi, yhi[g]);
      // Scales d_w·d_a of the four blocks, each over its four lanes.
      __m128i dw = _mm_cvtsi32_si128(b[0].d);
      dw = _mm_insert_epi16(dw, b[1].d, 1);
      dw = _mm_insert_epi16(dw, b[2].d, 2);
      dw = _mm_insert_epi16(dw, b[3].d, 3);
      const __m512 ds = _mm512_permutexvar_ps(lane_block, _mm512_zextps128_ps512(_mm_mul_ps(_mm_cvtph_ps(dw), da[g])));
      if (g & 1)
        acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), ds, acc1);
      else
        acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), ds, acc0);
    }
    float t = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    if (nt) t += dot_q4_0_avx512(wr + 4 * ng, a + 4 * ng, nt * kQK);  // the last 1-3 blocks
    y[r] = t;
  }
}

// q8_0 rows against one q8_0 vector, one block per 256-bit vpdpbusd. vpdpbusd wants
// one unsigned operand: w + 128 (an xor of the sign bit) is, and Σ (w + 128)·y − 128·Σy
// = Σ w·y, so each lane starts from −128·Σy (exact in int32, as the sign trick of
// dot_q8_0_avx512 is: both give the same integers, so the same floats).
//
// Four rows per pass, each its own accumulator chain, the activation block loaded once
// for the four. Four streams 1 KiB apart are more than the hardware prefetcher follows
// alone, so each row is prefetched 16 rows ahead, as in gemv_q8_0_avx2. Measured on the
// 151936 x 1024 lm_head from DRAM (bench_kernels BM_Gemv, one Zen 4 thread, alternated):
// one row at a time with 512-bit pairs 19-22 GB/s, four rows with 512-bit pairs 15-16
// (the pair's permute and scale shuffles cost more than the wider multiply saves), this
// 24-25; two threads 29-34 GB/s, the machine's plain read. On the Intel VM one row at a
// time with 512-bit pairs gave 10 GB/s (half the AVX2 kernel), this 20-22.
__attribute__((target(QASR_AVX512))) void gemv_q8_0_avx512(const BlockQ8_0* w, int64_t rows, const BlockQ8_0* a,
                                                           int64_t n, float* y) {
  const int64_t nb = n / kQK;
  constexpr int64_t kMaxBlocks = 512;  // K up to 16384 through the blocked path
  if (nb > kMaxBlocks) return gemv_rows<BlockQ8_0, dot_q8_0_avx512>(w, rows, a, n, y);
  alignas(32) __m256i yv[kMaxBlocks], yneg[kMaxBlocks];
  alignas(32) float da[kMaxBlocks];
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80)), zero = _mm256_setzero_si256();
  for (int64_t b = 0; b < nb; ++b) {
    yv[b] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    yneg[b] = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, bias, yv[b]));
    da[b] = _cvtsh_ss(a[b].d);
  }
  // Block b of one row into its accumulator: the lane sums times d_w·d_a.
  const auto block = [&](const BlockQ8_0* wb, int64_t b, __m256 acc) QASR_AVX512_LAMBDA {
    const __m256i x = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb->qs)), bias);
    const __m256i s = _mm256_dpbusd_epi32(yneg[b], x, yv[b]);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(_cvtsh_ss(wb->d) * da[b]), acc);
  };
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const BlockQ8_0* w0 = w + r * nb;
    const BlockQ8_0 *w1 = w0 + nb, *w2 = w1 + nb, *w3 = w2 + nb;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int64_t b = 0; b < nb; ++b) {
      _mm_prefetch(reinterpret_cast<const char*>(w0 + b + 16 * nb), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w1 + b + 16 * nb), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w2 + b + 16 * nb), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w3 + b + 16 * nb), _MM_HINT_T1);
      acc0 = block(w0 + b, b, acc0);
      acc1 = block(w1 + b, b, acc1);
      acc2 = block(w2 + b, b, acc2);
      acc3 = block(w3 + b, b, acc3);
    }
    y[r] = hsum256(acc0);
    y[r + 1] = hsum256(acc1);
    y[r + 2] = hsum256(acc2);
    y[r + 3] = hsum256(acc3);
  }
  // The rest one at a time, in the same order of operations (one chain per row), so a
  // row's result does not depend on where a thread's range put it.
  for (; r < rows; ++r) {
    const BlockQ8_0* wr = w + r * nb;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) acc = block(wr + b, b, acc);
    y[r] = hsum256(acc);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

bool cpu_has_f16c() {
  // CPUID leaf 1, ECX bit 29 (clang-14's __builtin_cpu_supports lacks "f16c").
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

bool cpu_has_avx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
}
bool cpu_has_avx512() {
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

const QuantKernels kScalar{Isa::kScalar,
                           dot_q4_0_q8_0,
                           dot_q8_0_q8_0,
                           gemv_rows<BlockQ4_0, dot_q4_0_q8_0>,
                           gemv_rows<BlockQ8_0, dot_q8_0_q8_0>,
                           quantize_q8_0,
                           dequantize_q4_0};
const QuantKernels kAvx2{Isa::kAvx2,     dot_q4_0_avx2,      dot_q8_0_avx2,       gemv_q4_0_avx2,
                         gemv_q8_0_avx2, quantize_q8_0_avx2, dequantize_q4_0_avx2};
// The AVX-512 level uses the AVX2 quantizer (a superset CPU runs it).
const QuantKernels kAvx512{Isa::kAvx512,     dot_q4_0_avx512,    dot_q8_0_avx512,     gemv_q4_0_avx512,
                           gemv_q8_0_avx512, quantize_q8_0_avx2, dequantize_q4_0_avx2};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512-vnni";
  }
  return "?";
}

Isa best_isa() {
  Isa best = cpu_has_avx512() ? Isa::kAvx512 : cpu_has_avx2() ? Isa::kAvx2 : Isa::kScalar;
  if (const char* e = std::getenv("QASR_ISA")) {
    Isa want = !std::strcmp(e, "scalar") ? Isa::kScalar : !std::strcmp(e, "avx2") ? Isa::kAvx2 : Isa::kAvx512;
    if (static_cast<int>(want) < static_cast<int>(best)) best = want;
  }
  return best;
}

const QuantKernels& quant_kernels(Isa isa) {
  if (isa == Isa::kAvx512 && cpu_has_avx512()) return kAvx512;
  if (isa != Isa::kScalar && cpu_has_avx2()) return kAvx2;
  return kScalar;
}

const QuantKernels& quant_kernels() {
  static const QuantKernels& k = quant_kernels(best_isa());
  return k;
}

int64_t stream_prefetch_bytes() {
  return kStreamPrefetchBytes;
}

}  // namespace qasr
