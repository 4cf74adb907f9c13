#include "kernels/gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "base/status.h"
#include "kernels/dispatch.h"
#include "kernels/half.h"
#include "kernels/quant.h"

namespace qasr::gemm {
namespace {

constexpr int64_t kMR = 16;  // activation rows per panel (two 8-wide vectors)
constexpr int64_t kNR = 6;   // weight rows per tile (broadcast)
constexpr int64_t kNS = 48;  // weight rows converted to f32 at a time per thread

constexpr int64_t kKC = 512;  // k per pass: a panel slice (32 KiB) stays in L1, 48 converted rows (96 KiB) in L2

#define QASR_T __attribute__((target("avx2,fma")))

// Panel p of the activations, k-major: dst[k][i] = x[16p + i][k], zero past M.
// Full panels go 8 rows × 8 k at a time through an 8 × 8 register transpose.
QASR_T void pack_panel(const float* x, int64_t M, int64_t K, int64_t p, float* dst) {
  const int64_t m0 = p * kMR, rows = std::min(kMR, M - m0);
  int64_t k0 = 0;
  if (rows == kMR) {
    for (; k0 + 8 <= K; k0 += 8)
      for (int64_t h = 0; h < kMR; h += 8) {
        const float* xr = x + (m0 + h) * K + k0;
        const __m256 r0 = _mm256_loadu_ps(xr), r1 = _mm256_loadu_ps(xr + K), r2 = _mm256_loadu_ps(xr + 2 * K),
                     r3 = _mm256_loadu_ps(xr + 3 * K), r4 = _mm256_loadu_ps(xr + 4 * K),
                     r5 = _mm256_loadu_ps(xr + 5 * K), r6 = _mm256_loadu_ps(xr + 6 * K),
                     r7 = _mm256_loadu_ps(xr + 7 * K);
        const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
                     t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                     t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
        const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                     u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                     u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                     u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
        float* d = dst + k0 * kMR + h;
        _mm256_storeu_ps(d + 0 * kMR, _mm256_permute2f128_ps(u0, u4, 0x20));
        _mm256_storeu_ps(d + 1 * kMR, _mm256_permute2f128_ps(u1, u5, 0x20));
        _mm256_storeu_ps(d + 2 * kMR, _mm256_permute2f128_ps(u2, u6, 0x20));
        _mm256_storeu_ps(d + 3 * kMR, _mm256_permute2f128_ps(u3, u7, 0x20));
        _mm256_storeu_ps(d + 4 * kMR, _mm256_permute2f128_ps(u0, u4, 0x31));
        _mm256_storeu_ps(d + 5 * kMR, _mm256_permute2f128_ps(u1, u5, 0x31));
        _mm256_storeu_ps(d + 6 * kMR, _mm256_permute2f128_ps(u2, u6, 0x31));
        _mm256_storeu_ps(d + 7 * kMR, _mm256_permute2f128_ps(u3, u7, 0x31));
      }
  }
  for (int64_t i = 0; i < kMR; ++i) {
    const float* xr = x + (m0 + i) * K;
    for (int64_t k = k0; k < K; ++k) dst[k * kMR + i] = i < rows ? xr[k] : 0.0f;
  }
}

// c[j][i] = Σ_k a[k][i] · w_j[k] for i < 16, j < 6.
QASR_T void kernel_16x6(const float* a, const float* w0, const float* w1, const float* w2, const float* w3,
                        const float* w4, const float* w5, int64_t K, float* c) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(),
         c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(),
         c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m256 a0 = _mm256_loadu_ps(a + k * kMR), a1 = _mm256_loadu_ps(a + k * kMR + 8);
    __m256 b = _mm256_broadcast_ss(w0 + k);
    c00 = _mm256_fmadd_ps(a0, b, c00), c01 = _mm256_fmadd_ps(a1, b, c01);
    b = _mm256_broadcast_ss(w1 + k);
    c10 = _mm256_fmadd_ps(a0, b, c10), c11 = _mm256_fmadd_ps(a1, b, c11);
    b = _mm256_broadcast_ss(w2 + k);
    c20 = _mm256_fmadd_ps(a0, b, c20), c21 = _mm256_fmadd_ps(a1, b, c21);
    b = _mm256_broadcast_ss(w3 + k);
    c30 = _mm256_fmadd_ps(a0, b, c30), c31 = _mm256_fmadd_ps(a1, b, c31);
    b = _mm256_broadcast_ss(w4 + k);
    c40 = _mm256_fmadd_ps(a0, b, c40), c41 = _mm256_fmadd_ps(a1, b, c41);
    b = _mm256_broadcast_ss(w5 + k);
    c50 = _mm256_fmadd_ps(a0, b, c50), c51 = _mm256_fmadd_ps(a1, b, c51);
  }
  _mm256_storeu_ps(c + 0, c00), _mm256_storeu_ps(c + 8, c01);
  _mm256_storeu_ps(c + 16, c10), _mm256_storeu_ps(c + 24, c11);
  _mm256_storeu_ps(c + 32, c20), _mm256_storeu_ps(c + 40, c21);
  _mm256_storeu_ps(c + 48, c30), _mm256_storeu_ps(c + 56, c31);
  _mm256_storeu_ps(c + 64, c40), _mm256_storeu_ps(c + 72, c41);
  _mm256_storeu_ps(c + 80, c50), _mm256_storeu_ps(c + 88, c51);
}

// The same tile product 12 weight rows wide on 512-bit registers: one 16-wide panel
// load per k against 12 broadcast weights (folded into the FMAs), 12 accumulators, so
// both of a core's FMA ports stay busy through the 4-cycle latency. Cores with two
// 512-bit FMA units (Intel Xeon since Skylake-SP) do twice the 256-bit FLOPs per cycle:
// on the Intel VM this GEMM went 104 -> 156 GFLOP/s on one thread, 204 -> 291 on two
// (bench_kernels BM_Gemm 158 x 3072 x 1024 bf16). Zen 4 runs 512-bit FMAs at the 256-bit
// rate, with half the instructions (not measured there yet). Each output is the same FMA
// chain over k as in kernel_16x6 (lane i of accumulator j), so the two kernels give
// bit-identical results.
//
// The 12 rows are `stride` floats apart (a full tile; tails take kernel_16x6), addressed
// from four row pointers and one stride register: with twelve separate pointers GCC ran
// out of general registers and moved two of them back from vector registers every k, on
// the port the FMAs need.
__attribute__((target("avx512f,avx2,fma"))) void kernel_16x12_avx512(const float* a, const float* w, int64_t stride,
                                                                     int64_t K, float* c) {
  const float *r0 = w, *r3 = w + 3 * stride, *r6 = w + 6 * stride, *r9 = w + 9 * stride;
  const int64_t s = stride, s2 = 2 * stride;
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0,
         c10 = c0, c11 = c0;
  for (int64_t k = 0; k < K; ++k, a += kMR, ++r0, ++r3, ++r6, ++r9) {
    const __m512 a0 = _mm512_loadu_ps(a);
    c0 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r0[0]), c0);
    c1 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r0[s]), c1);
    c2 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r0[s2]), c2);
    c3 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r3[0]), c3);
    c4 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r3[s]), c4);
    c5 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r3[s2]), c5);
    c6 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r6[0]), c6);
    c7 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r6[s]), c7);
    c8 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r6[s2]), c8);
    c9 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r9[0]), c9);
    c10 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r9[s]), c10);
    c11 = _mm512_fmadd_ps(a0, _mm512_set1_ps(r9[s2]), c11);
  }
  _mm512_storeu_ps(c + 0 * kMR, c0), _mm512_storeu_ps(c + 1 * kMR, c1), _mm512_storeu_ps(c + 2 * kMR, c2);
  _mm512_storeu_ps(c + 3 * kMR, c3), _mm512_storeu_ps(c + 4 * kMR, c4), _mm512_storeu_ps(c + 5 * kMR, c5);
  _mm512_storeu_ps(c + 6 * kMR, c6), _mm512_storeu_ps(c + 7 * kMR, c7), _mm512_storeu_ps(c + 8 * kMR, c8);
  _mm512_storeu_ps(c + 9 * kMR, c9), _mm512_storeu_ps(c + 10 * kMR, c10), _mm512_storeu_ps(c + 11 * kMR, c11);
}

// ---- integer GEMM: q4_0 or q8_0 weights × q8_0 activations -------------------------

constexpr int64_t kIR = 6;      // activation rows per group (broadcast operand)
constexpr int64_t kITiles = 4;  // weight tiles repacked at a time per thread

// One block (32 k-values) of a group of 6 activation rows; rows past M are zero.
struct ActBlock {
  int8_t q[kIR][kQK];
  float d[kIR];         // d_x as f32 (from the block's f16)
  int32_t neg8[kIR];    // −8 · Σ q_x, the correction for the q4_0 nibbles' offset of 8
  int32_t neg128[kIR];  // −128 · Σ q_x, the same for q8_0 values read unsigned (xor 0x80)
};
// One block of a tile of kRows weight rows (8: one 8 × int32 vector, AVX2; 16: one
// 16 × int32 vector, AVX-512), 4 k-values per row per step, so step s is one vector
// [row0 k4s..4s+3 | row1 ... | row kRows−1 ...]: q4_0 nibbles as bytes 0..15, q8_0
// values as they are (int8 bit patterns) or xor 0x80 (unsigned, for vpdpbusd).
template <int64_t kRows>
struct WTileBlock {
  uint8_t q[kQK / 4][kRows][4];
  float d[kRows];  // d_w as f32; 0 for rows past N
};

// Quantizes activation rows 6g .. 6g+5 (bit-identical to quantize_q8_0) into dst[nb].
void pack_act_group(const float* x, int64_t M, int64_t K, int64_t g, BlockQ8_0* tmp, ActBlock* dst) {
  const int64_t nb = K / kQK;
  const QuantKernels& qk = quant_kernels();
  for (int64_t i = 0; i < kIR; ++i) {
    const int64_t m = g * kIR + i;
    if (m >= M) {
      for (int64_t b = 0; b < nb; ++b) {
        std::memset(dst[b].q[i], 0, kQK);
        dst[b].d[i] = 0.0f;
        dst[b].neg8[i] = 0;
        dst[b].neg128[i] = 0;
      }
      continue;
    }
    qk.quantize_q8_0(x + m * K, tmp, K);
    for (int64_t b = 0; b < nb; ++b) {
      std::memcpy(dst[b].q[i], tmp[b].qs, kQK);
      dst[b].d[i] = f16_to_f32(tmp[b].d);
      int32_t sum = 0;
      for (int j = 0; j < kQK; ++j) sum += tmp[b].qs[j];
      dst[b].neg8[i] = -8 * sum;
      dst[b].neg128[i] = -128 * sum;
    }
  }
}

#define QASR_TI __attribute__((target("avx2,fma,f16c")))

// 8 × 8 transpose of 4-byte groups: v[r] holds steps 0..7 of row r; o[stride · s] gets
// step s of rows 0..7 (stride 2 in a 16-row tile: its two halves side by side).
QASR_TI void store_tile_block(const __m256i* v, __m256i* o, int stride) {
  const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]),
                t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]),
                t4 = _mm256_unpacklo_epi32(v[4], v[5]), t5 = _mm256_unpackhi_epi32(v[4], v[5]),
                t6 = _mm256_unpacklo_epi32(v[6], v[7]), t7 = _mm256_unpackhi_epi32(v[6], v[7]);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2),
                u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3),
                u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6),
                u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  _mm256_storeu_si256(o + 0 * stride, _mm256_permute2x128_si256(u0, u4, 0x20));
  _mm256_storeu_si256(o + 1 * stride, _mm256_permute2x128_si256(u1, u5, 0x20));
  _mm256_storeu_si256(o + 2 * stride, _mm256_permute2x128_si256(u2, u6, 0x20));
  _mm256_storeu_si256(o + 3 * stride, _mm256_permute2x128_si256(u3, u7, 0x20));
  _mm256_storeu_si256(o + 4 * stride, _mm256_permute2x128_si256(u0, u4, 0x31));
  _mm256_storeu_si256(o + 5 * stride, _mm256_permute2x128_si256(u1, u5, 0x31));
  _mm256_storeu_si256(o + 6 * stride, _mm256_permute2x128_si256(u2, u6, 0x31));
  _mm256_storeu_si256(o + 7 * stride, _mm256_permute2x128_si256(u3, u7, 0x31));
}

// Row `blk` as 32 bytes in k order: q4_0 nibbles (k = 0..15 the low ones, 16..31 the
// high ones), q8_0 values as they are or xor 0x80 (`unsigned_q8`).
QASR_TI __m256i block_bytes(const BlockQ4_0& blk, bool) {
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs));
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
}
QASR_TI __m256i block_bytes(const BlockQ8_0& blk, bool unsigned_q8) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs));
  return unsigned_q8 ? _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))) : v;
}

// Repacks `nr` ≤ kRows consecutive weight rows of nb blocks (w = first row) into dst[nb].
template <int64_t kRows, typename Block>
QASR_TI void pack_w_tile(const Block* w, int64_t nb, int64_t nr, bool unsigned_q8, WTileBlock<kRows>* dst) {
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < kRows / 8; ++h) {
      __m256i v[8];
      for (int64_t r = 0; r < 8; ++r) {
        const int64_t row = 8 * h + r;
        if (row < nr) {
          const Block& blk = w[row * nb + b];
          v[r] = block_bytes(blk, unsigned_q8);
          dst[b].d[row] = _cvtsh_ss(blk.d);
        } else {
          v[r] = _mm256_setzero_si256();
          dst[b].d[row] = 0.0f;
        }
      }
      store_tile_block(v, reinterpret_cast<__m256i*>(dst[b].q) + h, kRows / 8);
    }
}

// The micro-kernels: c[i][r] = Σ_b d_w[r]·d_x[i] · S_b[i][r] for a tile's weight rows r
// (8 or 16) and 6 activation rows i, S_b the block's exact integer sum Σ_k w·q_x (q4_0: w = q − 8).
// They differ only in how S_b is formed, so each one's output is bit-identical to the
// scalar reference (dot_q4_0_q8_0 / dot_q8_0_q8_0): S_b is exact in any order, and the
// scaling is the reference's multiply, then add (not an FMA).
// GCC may fuse the intrinsics' multiply and add under -ffp-contract=fast; clang's default
// ("on") only fuses within one source expression, which intrinsics never are.
#if defined(__clang__)
#define QASR_NO_FP_CONTRACT
#else
#define QASR_NO_FP_CONTRACT __attribute__((optimize("fp-contract=off")))
#endif
#define QASR_BC(i, s) _mm256_set1_epi32(*reinterpret_cast<const int32_t*>(aq + (i)*kQK + (s)*4))
// f_i += f32(S_i) · (d_w · d_x[i]); S_i = madd(s_i) − corr_i (int16 pairs summed) or as given.
#define QASR_SCALE(i, sum) \
  f##i = _mm256_add_ps(f##i, _mm256_mul_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(dw, _mm256_set1_ps(dx[i]))))
#define QASR_FOR6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define QASR_STORE6                                                                       \
  _mm256_storeu_ps(c + 0, f0), _mm256_storeu_ps(c + 8, f1), _mm256_storeu_ps(c + 16, f2); \
  _mm256_storeu_ps(c + 24, f3), _mm256_storeu_ps(c + 32, f4), _mm256_storeu_ps(c + 40, f5)

// q4_0, AVX2: nibbles (unsigned) × q_x by `maddubs`. The 16-bit partial sums of a whole
// block stay exact (|Σ| ≤ 8 · 2 · 15 · 127 = 30480), so one `maddubs` + one 16-bit add per
// 32 multiply-adds, then per block one widening add and the −8·Σq_x correction. The
// saturating add never saturates here (bound above), and unlike the plain add the
// compiler does not reassociate it into a tree that spills.
__attribute__((target("avx2,fma,f16c"))) QASR_NO_FP_CONTRACT void kernel_q4_8x6(const WTileBlock<8>* w,
                                                                                const ActBlock* a, int64_t nb,
                                                                                float* c) {
  __m256 f0 = _mm256_setzero_ps(), f1 = f0, f2 = f0, f3 = f0, f4 = f0, f5 = f0;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i* wq = reinterpret_cast<const __m256i*>(w[b].q);
    const int8_t* aq = a[b].q[0];
    __m256i wv = _mm256_loadu_si256(wq);
    __m256i s0 = _mm256_maddubs_epi16(wv, QASR_BC(0, 0)), s1 = _mm256_maddubs_epi16(wv, QASR_BC(1, 0)),
            s2 = _mm256_maddubs_epi16(wv, QASR_BC(2, 0)), s3 = _mm256_maddubs_epi16(wv, QASR_BC(3, 0)),
            s4 = _mm256_maddubs_epi16(wv, QASR_BC(4, 0)), s5 = _mm256_maddubs_epi16(wv, QASR_BC(5, 0));
#pragma GCC unroll 8
    for (int s = 1; s < kQK / 4; ++s) {
      wv = _mm256_loadu_si256(wq + s);
#define QASR_STEP(i) s##i = _mm256_adds_epi16(s##i, _mm256_maddubs_epi16(wv, QASR_BC(i, s)));
      QASR_FOR6(QASR_STEP)
#undef QASR_STEP
    }
    const __m256 dw = _mm256_loadu_ps(w[b].d);
    const float* dx = a[b].d;
    const int32_t* neg8 = a[b].neg8;
#define QASR_FIN(i) QASR_SCALE(i, _mm256_add_epi32(_mm256_madd_epi16(s##i, ones), _mm256_set1_epi32(neg8[i])));
    QASR_FOR6(QASR_FIN)
#undef QASR_FIN
  }
  QASR_STORE6;
}

// q8_0, AVX2: signed × signed by the sign trick, maddubs(|w|, sign(q_x, w)) = w·q_x per
// pair (|w| ≤ 128 read unsigned, q_x within ±127 as quantize_q8_0 makes it; a pair sum is
// at most 2 · 128 · 127 = 32512, so it is exact), widened to int32 at every step (two
// steps could overflow int16). Four instructions per 32 multiply-adds per row (the f32
// kernel: one FMA per 8), |w| once per step for all six rows.
__attribute__((target("avx2,fma,f16c"))) QASR_NO_FP_CONTRACT void kernel_q8_8x6(const WTileBlock<8>* w,
                                                                                const ActBlock* a, int64_t nb,
                                                                                float* c) {
  __m256 f0 = _mm256_setzero_ps(), f1 = f0, f2 = f0, f3 = f0, f4 = f0, f5 = f0;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i* wq = reinterpret_cast<const __m256i*>(w[b].q);
    const int8_t* aq = a[b].q[0];
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0;
#pragma GCC unroll 8
    for (int s = 0; s < kQK / 4; ++s) {
      const __m256i wv = _mm256_loadu_si256(wq + s), aw = _mm256_abs_epi8(wv);
#define QASR_STEP(i) \
  s##i = _mm256_add_epi32(s##i, _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(QASR_BC(i, s), wv)), ones));
      QASR_FOR6(QASR_STEP)
#undef QASR_STEP
    }
    const __m256 dw = _mm256_loadu_ps(w[b].d);
    const float* dx = a[b].d;
#define QASR_FIN(i) QASR_SCALE(i, s##i);
    QASR_FOR6(QASR_FIN)
#undef QASR_FIN
  }
  QASR_STORE6;
}

// AVX-512 VNNI, 512-bit: 16 weight rows per vector, vpdpbusd (u8 × s8, four products
// summed into each int32 lane, no saturation) one instruction per 64 multiply-adds per
// row, against the 256-bit kernels' 32: per step one tile load and six activation
// broadcasts feed six of them, so the loads no longer bound it. Both formats as
// unsigned weights: q4_0 nibbles 0..15, q8_0 values xor 0x80 (w + 128), their offset
// taken out exactly by starting each block's sums at −8·Σq_x or −128·Σq_x.
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge source of
// their unmasked forms, which -Wmaybe-uninitialized flags (as in dispatch.cc's GEMVs).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <bool kQ8>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))) QASR_NO_FP_CONTRACT void kernel_16x6_vnni(
    const WTileBlock<16>* w, const ActBlock* a, int64_t nb, float* c) {
  __m512 f0 = _mm512_setzero_ps(), f1 = f0, f2 = f0, f3 = f0, f4 = f0, f5 = f0;
  for (int64_t b = 0; b < nb; ++b) {
    const __m512i* wq = reinterpret_cast<const __m512i*>(w[b].q);
    const int8_t* aq = a[b].q[0];
    const int32_t* init = kQ8 ? a[b].neg128 : a[b].neg8;
#define QASR_INIT(i) __m512i s##i = _mm512_set1_epi32(init[i]);
    QASR_FOR6(QASR_INIT)
#undef QASR_INIT
#pragma GCC unroll 8
    for (int s = 0; s < kQK / 4; ++s) {
      const __m512i wv = _mm512_loadu_si512(wq + s);
#define QASR_STEP(i) \
  s##i = _mm512_dpbusd_epi32(s##i, wv, _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(aq + (i)*kQK + s * 4)));
      QASR_FOR6(QASR_STEP)
#undef QASR_STEP
    }
    const __m512 dw = _mm512_loadu_ps(w[b].d);
    const float* dx = a[b].d;
#define QASR_FIN(i) \
  f##i = _mm512_add_ps(f##i, _mm512_mul_ps(_mm512_cvtepi32_ps(s##i), _mm512_mul_ps(dw, _mm512_set1_ps(dx[i]))));
    QASR_FOR6(QASR_FIN)
#undef QASR_FIN
  }
  _mm512_storeu_ps(c + 0, f0), _mm512_storeu_ps(c + 16, f1), _mm512_storeu_ps(c + 32, f2);
  _mm512_storeu_ps(c + 48, f3), _mm512_storeu_ps(c + 64, f4), _mm512_storeu_ps(c + 80, f5);
}

// Two 16-row tiles at once (32 weight rows × 6 activation rows): per step two tile loads
// and six broadcasts feed twelve vpdpbusd. Six int32 chains, each 8 dependent vpdpbusd
// per block, leave a core with 5-cycle vpdpbusd latency and two ports (Intel) at 6 per 5
// cycles; twelve keep both ports busy (Intel VM, bench_kernels BM_GemmInt8 158 × 3072 ×
// 1024 on 2 threads: 1.26-1.34 -> 1.08-1.14 ms, 0.6B q8_0 prefill 314-322 -> 281-288
// ms). Each output's integer sum and f32 scaling are those of kernel_16x6_vnni, so the
// two give the same floats; c gets tile A's 6 × 16 outputs, then tile B's.
template <bool kQ8>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))) QASR_NO_FP_CONTRACT void kernel_32x6_vnni(
    const WTileBlock<16>* wa, const WTileBlock<16>* wb, const ActBlock* a, int64_t nb, float* c) {
  __m512 f0 = _mm512_setzero_ps(), f1 = f0, f2 = f0, f3 = f0, f4 = f0, f5 = f0;
  __m512 g0 = f0, g1 = f0, g2 = f0, g3 = f0, g4 = f0, g5 = f0;
  for (int64_t b = 0; b < nb; ++b) {
    const __m512i* qa = reinterpret_cast<const __m512i*>(wa[b].q);
    const __m512i* qb = reinterpret_cast<const __m512i*>(wb[b].q);
    const int8_t* aq = a[b].q[0];
    const int32_t* init = kQ8 ? a[b].neg128 : a[b].neg8;
#define QASR_INIT(i) __m512i s##i = _mm512_set1_epi32(init[i]), t##i = s##i;
    QASR_FOR6(QASR_INIT)
#undef QASR_INIT
#pragma GCC unroll 8
    for (int st = 0; st < kQK / 4; ++st) {
      const __m512i va = _mm512_loadu_si512(qa + st), vb = _mm512_loadu_si512(qb + st);
#define QASR_STEP(i)                                                                               \
  {                                                                                                \
    const __m512i x = _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(aq + (i)*kQK + st * 4)); \
    s##i = _mm512_dpbusd_epi32(s##i, va, x);                                                       \
    t##i = _mm512_dpbusd_epi32(t##i, vb, x);                                                       \
  }
      QASR_FOR6(QASR_STEP)
#undef QASR_STEP
    }
    const __m512 da = _mm512_loadu_ps(wa[b].d), db = _mm512_loadu_ps(wb[b].d);
    const float* dx = a[b].d;
#define QASR_FIN(i)                                                                            \
  {                                                                                            \
    const __m512 x = _mm512_set1_ps(dx[i]);                                                    \
    f##i = _mm512_add_ps(f##i, _mm512_mul_ps(_mm512_cvtepi32_ps(s##i), _mm512_mul_ps(da, x))); \
    g##i = _mm512_add_ps(g##i, _mm512_mul_ps(_mm512_cvtepi32_ps(t##i), _mm512_mul_ps(db, x))); \
  }
    QASR_FOR6(QASR_FIN)
#undef QASR_FIN
  }
  _mm512_storeu_ps(c + 0, f0), _mm512_storeu_ps(c + 16, f1), _mm512_storeu_ps(c + 32, f2);
  _mm512_storeu_ps(c + 48, f3), _mm512_storeu_ps(c + 64, f4), _mm512_storeu_ps(c + 80, f5);
  float* d = c + kIR * 16;
  _mm512_storeu_ps(d + 0, g0), _mm512_storeu_ps(d + 16, g1), _mm512_storeu_ps(d + 32, g2);
  _mm512_storeu_ps(d + 48, g3), _mm512_storeu_ps(d + 64, g4), _mm512_storeu_ps(d + 80, g5);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#undef QASR_STORE6
#undef QASR_FOR6
#undef QASR_SCALE
#undef QASR_BC

#undef QASR_NO_FP_CONTRACT

template <int64_t kRows>
using IntKernel = void (*)(const WTileBlock<kRows>*, const ActBlock*, int64_t, float*);

template <int64_t kRows>
using IntKernel2 = void (*)(const WTileBlock<kRows>*, const WTileBlock<kRows>*, const ActBlock*, int64_t, float*);

// `kernel2`, where given, takes pairs of tiles (kernel_32x6_vnni); odd tiles take `kernel`.
template <int64_t kRows, typename Block>
void matmul_int8_impl(ThreadPool& pool, const float* x, int64_t M, const Mat& W, const float* bias, float* y,
                      IntKernel<kRows> kernel, bool unsigned_q8, IntKernel2<kRows> kernel2 = nullptr) {
  const int64_t N = W.rows, K = W.cols, nb = K / kQK, groups = (M + kIR - 1) / kIR, tiles = (N + kRows - 1) / kRows;
  const auto* wq = static_cast<const Block*>(W.data);
  // Quantized, packed activations (thread 0's kPackedActivations), read by every thread.
  auto* ap = static_cast<ActBlock*>(
      pool.scratch(0, ThreadPool::Scratch::kPackedActivations, static_cast<size_t>(groups * nb) * sizeof(ActBlock)));
  pool.parallel_for(groups, 1, [&](int64_t g0, int64_t g1, int t) {
    auto* tmp = static_cast<BlockQ8_0*>(
        pool.scratch(t, ThreadPool::Scratch::kWeightRows, static_cast<size_t>(nb) * sizeof(BlockQ8_0)));
    for (int64_t g = g0; g < g1; ++g) pack_act_group(x, M, K, g, tmp, ap + g * nb);
  });
  pool.parallel_for(tiles, 1, [&](int64_t t0, int64_t t1, int t) {
    auto* wb = static_cast<WTileBlock<kRows>*>(pool.scratch(
        t, ThreadPool::Scratch::kWeightRows, static_cast<size_t>(kITiles * nb) * sizeof(WTileBlock<kRows>)));
    alignas(64) float c[2 * kIR * kRows];
    for (int64_t s0 = t0; s0 < t1; s0 += kITiles) {
      const int64_t ns = std::min(kITiles, t1 - s0);
      for (int64_t i = 0; i < ns; ++i) {
        const int64_t n0 = (s0 + i) * kRows;
        pack_w_tile<kRows>(wq + n0 * nb, nb, std::min(kRows, N - n0), unsigned_q8, wb + i * nb);
      }
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t mr = std::min(kIR, M - g * kIR);
        for (int64_t i = 0; i < ns;) {
          const int64_t pair = kernel2 && i + 1 < ns ? 2 : 1;
          if (pair == 2)
            kernel2(wb + i * nb, wb + (i + 1) * nb, ap + g * nb, nb, c);
          else
            kernel(wb + i * nb, ap + g * nb, nb, c);
          for (int64_t h = 0; h < pair; ++h) {
            const int64_t n0 = (s0 + i + h) * kRows, nr = std::min(kRows, N - n0);
            const float* ch = c + h * kIR * kRows;
            for (int64_t r = 0; r < mr; ++r) {
              float* yr = y + (g * kIR + r) * N + n0;
              if (bias)
                for (int64_t j = 0; j < nr; ++j) yr[j] = ch[r * kRows + j] + bias[n0 + j];
              else
                std::memcpy(yr, ch + r * kRows, static_cast<size_t>(nr) * sizeof(float));
            }
          }
          i += pair;
        }
      }
    }
  });
}

#undef QASR_TI
#undef QASR_T

}  // namespace

void matmul_avx2(ThreadPool& pool, const float* x, int64_t M, const Mat& W, const float* bias, float* y) {
  const int64_t N = W.rows, K = W.cols, panels = (M + kMR - 1) / kMR;
  // Packed activations (thread 0's kPackedActivations), read by every thread.
  float* ap = static_cast<float*>(
      pool.scratch(0, ThreadPool::Scratch::kPackedActivations, static_cast<size_t>(panels * kMR * K) * sizeof(float)));
  pool.parallel_for(panels, 1, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) pack_panel(x, M, K, p, ap + p * kMR * K);
  });
  const bool f32 = W.dtype == DType::F32;
  // Full tiles of 12 weight rows through the 512-bit kernel where the CPU has AVX-512
  // (the kAvx512 level, so QASR_ISA=avx2 selects the 256-bit kernel for A/B runs); the
  // tails of a thread's rows, and every tile elsewhere, 6 at a time through kernel_16x6.
  const bool wide = f32_avx512_default();
  pool.parallel_for(N, kNR, [&](int64_t n0, int64_t n1, int t) {
    // kNS rows × kKC converted weights (+ one zero row for tile tails) in the thread's scratch.
    float* wb = static_cast<float*>(
        pool.scratch(t, ThreadPool::Scratch::kWeightRows, static_cast<size_t>((kNS + 1) * kKC) * sizeof(float)));
    float* zero = wb + kNS * kKC;
    std::fill(zero, zero + kKC, 0.0f);
    alignas(64) float c[kMR * 2 * kNR];
    for (int64_t s0 = n0; s0 < n1; s0 += kNS) {
      const int64_t ns = std::min(kNS, n1 - s0);
      // K in passes of kKC: the first pass writes y (+ bias), later ones add to it.
      for (int64_t k0 = 0; k0 < K; k0 += kKC) {
        const int64_t kc = std::min(kKC, K - k0);
        const float* rows;
        int64_t stride;
        if (f32) {
          rows = static_cast<const float*>(W.data) + s0 * K + k0;
          stride = K;
        } else {
          for (int64_t j = 0; j < ns; ++j)
            to_f32(W.dtype, W.data, static_cast<size_t>((s0 + j) * K + k0), static_cast<size_t>(kc), wb + j * kc);
          rows = wb;
          stride = kc;
        }
        for (int64_t p = 0; p < panels; ++p) {
          const float* a = ap + p * kMR * K + k0 * kMR;
          const int64_t m0 = p * kMR, mr = std::min(kMR, M - m0);
          for (int64_t g = 0; g < ns;) {
            int64_t nr;
            if (wide && ns - g >= 2 * kNR) {
              nr = 2 * kNR;
              kernel_16x12_avx512(a, rows + g * stride, stride, kc, c);
            } else {
              nr = std::min(kNR, ns - g);
              const float* w[kNR];
              for (int64_t j = 0; j < kNR; ++j) w[j] = j < nr ? rows + (g + j) * stride : zero;
              kernel_16x6(a, w[0], w[1], w[2], w[3], w[4], w[5], kc, c);
            }
            for (int64_t i = 0; i < mr; ++i) {
              float* yr = y + (m0 + i) * N + s0 + g;
              if (k0 > 0)
                for (int64_t j = 0; j < nr; ++j) yr[j] += c[j * kMR + i];
              else
                for (int64_t j = 0; j < nr; ++j) yr[j] = c[j * kMR + i] + (bias ? bias[s0 + g + j] : 0.0f);
            }
            g += nr;
          }
        }
      }
    }
  });
}

bool f32_avx512_default() {
  return best_isa() == Isa::kAvx512;
}

bool int8_vnni_default() {
  return quant_kernels().isa == Isa::kAvx512;
}

void matmul_int8(ThreadPool& pool, const float* x, int64_t M, const Mat& W, const float* bias, float* y, bool vnni) {
  QASR_CHECK(W.cols % kQK == 0 && (W.dtype == DType::Q4_0 || W.dtype == DType::Q8_0)) << W.cols;
  const bool q4 = W.dtype == DType::Q4_0;
  if (vnni && q4)
    matmul_int8_impl<16, BlockQ4_0>(pool, x, M, W, bias, y, kernel_16x6_vnni<false>, false, kernel_32x6_vnni<false>);
  else if (vnni)
    matmul_int8_impl<16, BlockQ8_0>(pool, x, M, W, bias, y, kernel_16x6_vnni<true>, true, kernel_32x6_vnni<true>);
  else if (q4)
    matmul_int8_impl<8, BlockQ4_0>(pool, x, M, W, bias, y, kernel_q4_8x6, false);
  else
    matmul_int8_impl<8, BlockQ8_0>(pool, x, M, W, bias, y, kernel_q8_8x6, false);
}

}  // namespace qasr::gemm
