// Small AVX2 helpers shared by the kernel files (compiled into target("avx2")
// functions; callers must have checked the CPU).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace qasr {

// Sum of the eight lanes.
__attribute__((target("avx2"))) inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Eight bf16 values (16 bytes at p) → eight f32: a bf16 is the top half of its f32.
__attribute__((target("avx2"))) inline __m256 load_bf16x8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

}  // namespace qasr
