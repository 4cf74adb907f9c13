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

const QuantKernels kScalar{Isa::kScalar, dot_q4_0_q8_0, dot_q8_0_q8_0};
const QuantKernels kAvx2{Isa::kAvx2, dot_q4_0_avx2, dot_q8_0_avx2};
const QuantKernels kAvx512{Isa::kAvx512, dot_q4_0_avx512, dot_q8_0_avx512};

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
