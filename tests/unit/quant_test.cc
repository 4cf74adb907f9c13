#include "kernels/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/half.h"
#include "kernels/ops.h"

namespace qasr {
namespace {

TEST(Quant, AllZerosBlock) {
  std::vector<float> x(32, 0.0f);
  BlockQ8_0 q8;
  BlockQ4_0 q4;
  quantize_q8_0(x.data(), &q8, 32);
  quantize_q4_0(x.data(), &q4, 32);
  EXPECT_EQ(q8.d, 0);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(q8.qs[j], 0);
  EXPECT_EQ(q4.d, 0x8000);                                 // d = 0 / −8 = −0.0f, as ggml stores it
  for (int j = 0; j < 16; ++j) EXPECT_EQ(q4.qs[j], 0x88);  // (int8)(0 + 8.5) = 8 in both nibbles
  std::vector<float> y(32, 1.0f);
  dequantize_q4_0(&q4, y.data(), 32);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(Quant, OneHugeValue) {
  std::vector<float> x(32, 0.01f);
  x[5] = 1000.0f;
  BlockQ8_0 q8;
  BlockQ4_0 q4;
  quantize_q8_0(x.data(), &q8, 32);
  quantize_q4_0(x.data(), &q4, 32);
  EXPECT_EQ(q8.d, f32_to_f16(1000.0f / 127.0f));
  EXPECT_EQ(q8.qs[5], 127);
  EXPECT_EQ(q8.qs[0], 0);
  EXPECT_EQ(q4.d, f32_to_f16(-125.0f));  // d = max / −8
  EXPECT_EQ(q4.qs[5] & 0x0F, 0);         // 1000 · (−1/125) + 8.5 = 0.5 → 0
  EXPECT_EQ(q4.qs[0] & 0x0F, 8);
  std::vector<float> y(32);
  dequantize_q4_0(&q4, y.data(), 32);
  EXPECT_EQ(y[5], 1000.0f);
}

TEST(Quant, NegativeMaxKeepsItsSign) {
  std::vector<float> x(32, 0.0f);
  x[0] = -4.0f;
  x[1] = 1.0f;
  x[17] = 3.0f;
  BlockQ4_0 q4;
  quantize_q4_0(x.data(), &q4, 32);
  EXPECT_EQ(f16_to_f32(q4.d), 0.5f);  // −4 / −8
  EXPECT_EQ(q4.qs[0] & 0x0F, 0);      // −4·2 + 8.5 = 0.5 → 0
  EXPECT_EQ(q4.qs[1] & 0x0F, 10);     // 1·2 + 8.5 = 10.5 → 10
  EXPECT_EQ(q4.qs[1] >> 4, 14);       // x[17] = 3: 6 + 8.5 = 14.5 → 14
  std::vector<float> y(32);
  dequantize_q4_0(&q4, y.data(), 32);
  EXPECT_EQ(y[0], -4.0f);
  EXPECT_EQ(y[17], 3.0f);
  // A positive max of the same magnitude maps to nibble 16 → clamped to 15.
  x[0] = 4.0f;
  quantize_q4_0(x.data(), &q4, 32);
  EXPECT_EQ(q4.qs[0] & 0x0F, 0);  // d = 4/−8 = −0.5: 4·(−2) + 8.5 = 0.5 → 0
}

TEST(Quant, Q8RoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // d = 1, id = 1
  x[1] = 2.5f;
  x[2] = -2.5f;
  BlockQ8_0 q8;
  quantize_q8_0(x.data(), &q8, 32);
  EXPECT_EQ(q8.qs[1], 3);
  EXPECT_EQ(q8.qs[2], -3);
}

TEST(Quant, RoundTripErrorBound) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> x(4096), y(4096);
  for (float& v : x) v = nd(rng);
  std::vector<BlockQ8_0> q8(128);
  std::vector<BlockQ4_0> q4(128);
  quantize_q8_0(x.data(), q8.data(), 4096);
  dequantize_q8_0(q8.data(), y.data(), 4096);
  // Half a step, plus the f16 rounding of d (≤ 2^-11 relative) times |q| ≤ 127.
  for (int b = 0; b < 128; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    for (int j = 0; j < 32; ++j) ASSERT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), amax / 127 * 0.57f + 1e-7f);
  }
  quantize_q4_0(x.data(), q4.data(), 4096);
  dequantize_q4_0(q4.data(), y.data(), 4096);
  for (int b = 0; b < 128; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    for (int j = 0; j < 32; ++j) ASSERT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), amax / 8 * 1.01f + 1e-7f);
  }
}

TEST(Quant, QuantizedMatmulMatchesDequantizedWithinBound) {
  // y = x·Wᵀ with q4_0/q8_0 W against f32 math on the dequantized W: the only
  // difference is the q8_0 rounding of the activations (≤ amax/254 per element).
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t M = 3, N = 37, K = 96;  // odd row count, 3 blocks per row
  std::vector<float> x(M * K), w(N * K), wd(N * K), y(M * N), yr(M * N);
  for (float& v : x) v = nd(rng);
  for (float& v : w) v = 0.05f * nd(rng);
  ThreadPool pool(2);
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    std::vector<uint8_t> buf(row_bytes(t, N * K));
    if (t == DType::Q8_0)
      quantize_q8_0(w.data(), reinterpret_cast<BlockQ8_0*>(buf.data()), N * K);
    else
      quantize_q4_0(w.data(), reinterpret_cast<BlockQ4_0*>(buf.data()), N * K);
    to_f32(t, buf.data(), 0, N * K, wd.data());
    ops::matmul(pool, x.data(), M, Mat{t, N, K, buf.data()}, nullptr, y.data());
    ops::matmul(pool, x.data(), M, Mat{DType::F32, N, K, wd.data()}, nullptr, yr.data());
    for (int64_t i = 0; i < M * N; ++i) {
      float bound = 0;
      for (int64_t k = 0; k < K; ++k) bound += std::fabs(wd[(i % N) * K + k]);
      bound *= 3.5f / 254.0f;  // |x| ≤ ~3.5 here, per-element activation error ≤ amax/254
      ASSERT_NEAR(y[i], yr[i], bound + 1e-5f) << dtype_name(t) << " " << i;
    }
  }
}

TEST(Half, F16RoundTripsAndRounds) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f})
    EXPECT_EQ(f16_to_f32(f32_to_f16(v)), v) << v;
  EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), f32_to_f16(1.0f));  // tie → even
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(1e6f))));
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.00390625f)), 1.0f);  // tie → even
}

// Every fast dot kernel against the scalar reference, on odd block counts.
TEST(QuantKernels, FastDotsMatchScalarReference) {
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    const QuantKernels& k = quant_kernels(isa);
    std::printf("testing %s (requested %s)\n", isa_name(k.isa), isa_name(isa));
    for (int64_t nb : {1, 3, 7, 37, 240}) {
      const int64_t n = nb * 32;
      std::vector<float> w(n), a(n);
      for (float& v : w) v = nd(rng);
      for (float& v : a) v = nd(rng);
      w[5] = 40.0f;  // an outlier block
      std::vector<BlockQ4_0> w4(nb);
      std::vector<BlockQ8_0> w8(nb), a8(nb);
      quantize_q4_0(w.data(), w4.data(), n);
      quantize_q8_0(w.data(), w8.data(), n);
      quantize_q8_0(a.data(), a8.data(), n);
      const float r4 = dot_q4_0_q8_0(w4.data(), a8.data(), n), f4 = k.dot_q4_0(w4.data(), a8.data(), n);
      const float r8 = dot_q8_0_q8_0(w8.data(), a8.data(), n), f8 = k.dot_q8_0(w8.data(), a8.data(), n);
      // Integer block sums are exact; only the f32 accumulation order differs.
      float scale4 = 0, scale8 = 0;
      std::vector<float> wd(n), ad(n);
      dequantize_q4_0(w4.data(), wd.data(), n);
      dequantize_q8_0(a8.data(), ad.data(), n);
      for (int64_t i = 0; i < n; ++i) scale4 += std::fabs(wd[i] * ad[i]);
      dequantize_q8_0(w8.data(), wd.data(), n);
      for (int64_t i = 0; i < n; ++i) scale8 += std::fabs(wd[i] * ad[i]);
      EXPECT_NEAR(f4, r4, 1e-5f * scale4) << isa_name(k.isa) << " q4_0 nb=" << nb;
      EXPECT_NEAR(f8, r8, 1e-5f * scale8) << isa_name(k.isa) << " q8_0 nb=" << nb;
    }
  }
}

// The GEMV kernels (AVX2 q8_0 four rows at a time with tails row by row; the others
// one row at a time in groups of two or four blocks) against the scalar dot, on row
// counts that are not multiples of four and block counts that leave group tails.
TEST(QuantKernels, FastGemvMatchesScalarDots) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    const QuantKernels& k = quant_kernels(isa);
    for (int64_t rows : {1, 3, 4, 7, 13}) {
      // Block counts: odd, a 4-block group plus tails, multiples of 4, and past the
      // stack-held activation layout of the grouped kernels (> 512 blocks, K > 16384).
      for (int64_t nb : {1, 5, 33, 8, 130, 514}) {
        const int64_t n = nb * 32;
        std::vector<float> w(rows * n), a(n);
        for (float& v : w) v = nd(rng);
        for (float& v : a) v = nd(rng);
        w[3] = -30.0f;
        std::vector<BlockQ4_0> w4(rows * nb);
        std::vector<BlockQ8_0> w8(rows * nb), a8(nb);
        quantize_q4_0(w.data(), w4.data(), rows * n);
        quantize_q8_0(w.data(), w8.data(), rows * n);
        quantize_q8_0(a.data(), a8.data(), n);
        std::vector<float> y4(rows + 1, 123.0f), y8(rows + 1, 123.0f);
        k.gemv_q4_0(w4.data(), rows, a8.data(), n, y4.data());
        k.gemv_q8_0(w8.data(), rows, a8.data(), n, y8.data());
        EXPECT_EQ(y4[rows], 123.0f) << "wrote past the rows";
        EXPECT_EQ(y8[rows], 123.0f) << "wrote past the rows";
        for (int64_t r = 0; r < rows; ++r) {
          const float r4 = dot_q4_0_q8_0(w4.data() + r * nb, a8.data(), n);
          const float r8 = dot_q8_0_q8_0(w8.data() + r * nb, a8.data(), n);
          // Integer block sums are exact; the f32 sum order differs: bound by Σ|w·a|.
          double s = 0;
          for (int64_t i = 0; i < n; ++i) s += std::fabs(w[r * n + i] * a[i]);
          EXPECT_NEAR(y4[r], r4, 2e-5 * s) << isa_name(k.isa) << " rows=" << rows << " nb=" << nb << " r=" << r;
          EXPECT_NEAR(y8[r], r8, 2e-5 * s) << isa_name(k.isa) << " rows=" << rows << " nb=" << nb << " r=" << r;
        }
      }
    }
  }
}

// A row's GEMV result does not depend on which range of rows it was computed in: the
// thread pool splits the rows wherever the count falls, so a row handled in a four-row
// pass and the same row handled alone must give the same float, or a decode's logits
// would change with the thread count.
TEST(QuantKernels, GemvRowResultIndependentOfRange) {
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    const QuantKernels& k = quant_kernels(isa);
    const int64_t rows = 11, nb = 33, n = nb * 32;
    std::vector<float> w(rows * n), a(n);
    for (float& v : w) v = nd(rng);
    for (float& v : a) v = nd(rng);
    std::vector<BlockQ4_0> w4(rows * nb);
    std::vector<BlockQ8_0> w8(rows * nb), a8(nb);
    quantize_q4_0(w.data(), w4.data(), rows * n);
    quantize_q8_0(w.data(), w8.data(), rows * n);
    quantize_q8_0(a.data(), a8.data(), n);
    std::vector<float> all4(rows), all8(rows);
    k.gemv_q4_0(w4.data(), rows, a8.data(), n, all4.data());
    k.gemv_q8_0(w8.data(), rows, a8.data(), n, all8.data());
    for (int64_t first = 0; first < rows; ++first) {
      float one4 = 0, one8 = 0;
      k.gemv_q4_0(w4.data() + first * nb, 1, a8.data(), n, &one4);
      k.gemv_q8_0(w8.data() + first * nb, 1, a8.data(), n, &one8);
      EXPECT_EQ(one4, all4[first]) << isa_name(isa) << " q4_0 row " << first;
      EXPECT_EQ(one8, all8[first]) << isa_name(isa) << " q8_0 row " << first;
    }
  }
}

// The fast activation quantizer is bit-identical to the reference, halves included.
TEST(QuantKernels, FastQuantizeQ8IsBitIdentical) {
  std::mt19937 rng(12);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  const QuantKernels& k = quant_kernels(Isa::kAvx2);
  const int64_t n = 32 * 41;
  std::vector<float> x(n);
  for (float& v : x) v = nd(rng);
  // A block whose scaled values land exactly on .5 (amax 127 → id 1): ±0.5, ±1.5, ±126.5.
  for (int j = 0; j < 32; ++j) x[j] = (j % 2 ? -1.0f : 1.0f) * (0.5f + j);
  x[31] = 127.0f;
  for (int j = 32; j < 64; ++j) x[j] = 0.0f;  // an all-zero block
  std::vector<BlockQ8_0> a(n / 32), b(n / 32);
  quantize_q8_0(x.data(), a.data(), n);
  k.quantize_q8_0(x.data(), b.data(), n);
  for (int64_t i = 0; i < n / 32; ++i) {
    EXPECT_EQ(a[i].d, b[i].d) << "block " << i;
    for (int j = 0; j < 32; ++j)
      ASSERT_EQ(a[i].qs[j], b[i].qs[j]) << "block " << i << " j " << j << " x " << x[i * 32 + j];
  }
  // And the fast q4_0 dequantizer, bit for bit.
  std::vector<BlockQ4_0> w4(n / 32);
  quantize_q4_0(x.data(), w4.data(), n);
  std::vector<float> d1(n), d2(n);
  dequantize_q4_0(w4.data(), d1.data(), n);
  k.dequantize_q4_0(w4.data(), d2.data(), n);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(d1[i], d2[i]) << "weight " << i;
}

}  // namespace
}  // namespace qasr
