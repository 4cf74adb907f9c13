#include "kernels/dispatch.h"

#include <cpuid.h>
#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "kernels/half.h"

namespace qasr {
namespace {

// ---- AVX2 (+FMA, F16C) ----

__attribute__((target("avx2,fma,f16c"))) inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma,f16c"))) inline __m256i unpack_q4(const uint8_t* qs) {
  // 16 bytes → 32 nibbles: weights 0..15 (low nibbles) then 16..31 (high nibbles).
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
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

// Four q4_0 rows against one q8_0 vector, two rows per 256-bit register.
// Per block, the 16 nibble bytes of rows i and i+1 share one register: the low
// nibbles (weights 0..15 of both rows) meet y[0..15] broadcast to both halves, the
// high nibbles (weights 16..31) meet y[16..31]. Σ(q − 8)·y = Σ q·y − 8·Σ y with q
// unsigned, so maddubs takes the nibbles as they are, and 8·Σ y (same lane layout)
// is computed once per block for all rows. int16 pair sums stay below 2·2·15·127.
// Result lanes 0..3 belong to row i, 4..7 to row i+1. About half the vector
// operations per weight byte of a row-at-a-time kernel.
__attribute__((target("avx2,fma,f16c"))) void gemv_q4_0_avx2(const BlockQ4_0* w, int64_t rows, const BlockQ8_0* a,
                                                             int64_t n, float* y) {
  const int64_t nb = n / kQK;
  const int64_t pd = 16 * nb;  // prefetch distance: 16 rows (9 KiB at K = 1024)
  const __m256i ones = _mm256_set1_epi16(1), eights = _mm256_set1_epi8(8), m4 = _mm256_set1_epi8(0x0F);
  const __m256i pair01 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), pair23 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const BlockQ4_0* w0 = w + r * nb;
    const BlockQ4_0* w1 = w0 + nb;
    const BlockQ4_0* w2 = w1 + nb;
    const BlockQ4_0* w3 = w2 + nb;
    __m256 acc01 = _mm256_setzero_ps(), acc23 = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      // Weights stream from DRAM once per token: software prefetch into L2, 16 rows
      // ahead (without it this loop read 2.3 GB/s where a plain read does 11; with it
      // about 6-7, one thread, kernels_bench BM_Gemv vs BM_Read).
      _mm_prefetch(reinterpret_cast<const char*>(w0 + b + pd), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w1 + b + pd), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w2 + b + pd), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w3 + b + pd), _MM_HINT_T1);
      const __m128i y16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[b].qs));
      const __m128i y16h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[b].qs + 16));
      const __m256i ylo = _mm256_set_m128i(y16, y16), yhi = _mm256_set_m128i(y16h, y16h);
      const __m256i ys = _mm256_madd_epi16(
          _mm256_add_epi16(_mm256_maddubs_epi16(eights, ylo), _mm256_maddubs_epi16(eights, yhi)), ones);
      // The four rows' scales d_w·d_a in one vector; each pair takes its two lanes.
      __m128i dw = _mm_cvtsi32_si128(w0[b].d);
      dw = _mm_insert_epi16(dw, w1[b].d, 1);
      dw = _mm_insert_epi16(dw, w2[b].d, 2);
      dw = _mm_insert_epi16(dw, w3[b].d, 3);
      const __m256 ds = _mm256_castps128_ps256(_mm_mul_ps(_mm_cvtph_ps(dw), _mm_set1_ps(_cvtsh_ss(a[b].d))));
#define QASR_PAIR(i, j, acc, idx)                                                                                  \
  {                                                                                                                \
    const __m256i q = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(w##j[b].qs),                             \
                                          reinterpret_cast<const __m128i*>(w##i[b].qs));                           \
    const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);               \
    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, ylo), _mm256_maddubs_epi16(hi, yhi));              \
    const __m256i s = _mm256_sub_epi32(_mm256_madd_epi16(p, ones), ys);                                            \
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_permutevar8x32_ps(ds, idx), acc);                          \
  }
      QASR_PAIR(0, 1, acc01, pair01)
      QASR_PAIR(2, 3, acc23, pair23)
#undef QASR_PAIR
    }
    const __m128 s01 = _mm_hadd_ps(_mm256_castps256_ps128(acc01), _mm256_extractf128_ps(acc01, 1));
    const __m128 s23 = _mm_hadd_ps(_mm256_castps256_ps128(acc23), _mm256_extractf128_ps(acc23, 1));
    // s01 = (r0a, r0b, r1a, r1b), s23 likewise → (r0, r1, r2, r3).
    _mm_storeu_ps(y + r, _mm_hadd_ps(s01, s23));
  }
  for (; r < rows; ++r) y[r] = dot_q4_0_avx2(w + r * nb, a, n);
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
      _mm_prefetch(reinterpret_cast<const char*>(w0 + b + 16 * nb), _MM_HINT_T1);  // as in gemv_q4_0_avx2
      _mm_prefetch(reinterpret_cast<const char*>(w1 + b + 16 * nb), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w2 + b + 16 * nb), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(w3 + b + 16 * nb), _MM_HINT_T1);
      const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
      const float da = _cvtsh_ss(a[b].d);
#define QASR_ROW(i)                                                                                  \
  {                                                                                                  \
    const __m256i s = dot_i8_avx2(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w##i[b].qs)), yv); \
    acc##i = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(_cvtsh_ss(w##i[b].d) * da), acc##i); \
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

// ---- AVX-512 VNNI (256-bit vpdpbusd) ----

#define QASR_AVX512 "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"

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

// Row-by-row GEMV from a dot kernel (scalar reference and the AVX-512 level).
template <typename Block, float (*Dot)(const Block*, const BlockQ8_0*, int64_t)>
void gemv_rows(const Block* w, int64_t rows, const BlockQ8_0* a, int64_t n, float* y) {
  const int64_t nb = n / kQK;
  for (int64_t r = 0; r < rows; ++r) y[r] = Dot(w + r * nb, a, n);
}

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

const QuantKernels kScalar{Isa::kScalar, dot_q4_0_q8_0, dot_q8_0_q8_0, gemv_rows<BlockQ4_0, dot_q4_0_q8_0>,
                           gemv_rows<BlockQ8_0, dot_q8_0_q8_0>};
const QuantKernels kAvx2{Isa::kAvx2, dot_q4_0_avx2, dot_q8_0_avx2, gemv_q4_0_avx2, gemv_q8_0_avx2};
const QuantKernels kAvx512{Isa::kAvx512, dot_q4_0_avx512, dot_q8_0_avx512, gemv_rows<BlockQ4_0, dot_q4_0_avx512>,
                           gemv_rows<BlockQ8_0, dot_q8_0_avx512>};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512-vnni";
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

}  // namespace qasr
