// The AVX2 row kernels (kernels/vmath.h) against their scalar references on odd
// lengths (tails through masked loads), extreme inputs included; ops::attention
// against a naive softmax(q·kᵀ)·v written out here.
#include "kernels/vmath.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/half.h"
#include "kernels/ops.h"
#include "kernels/quant.h"

namespace qasr {
namespace {

std::vector<float> randv(int64_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

bool have_avx2() {
  return quant_kernels(Isa::kAvx2).isa == Isa::kAvx2;
}

const int64_t kLengths[] = {1, 7, 8, 9, 31, 100, 1037};

TEST(Vmath, ExpMatchesStdExpToTwoUlp) {
  if (!have_avx2()) GTEST_FAIL() << "this CPU has no AVX2; the fast path is not built for it";
  std::vector<float> x = {-87.0f, -50.0f, -10.5f, -1.0f, -1e-7f, 0.0f, 1e-7f, 0.5f, 1.0f, 10.0f, 44.4f, 87.0f};
  for (float v = -80.0f; v < 80.0f; v += 0.37f) x.push_back(v);
  std::vector<float> y(x.size()), r(x.size());
  vmath::avx2::exp(x.data(), static_cast<int64_t>(x.size()), y.data());
  vmath::ref::exp(x.data(), static_cast<int64_t>(x.size()), r.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], r[i], 2.5e-7f * r[i]) << "x=" << x[i];
  // Far below the range: exactly zero, never a denormal-scaled garbage value.
  float lo = -200.0f, out = 1.0f;
  vmath::avx2::exp(&lo, 1, &out);
  EXPECT_EQ(out, 0.0f);
}

TEST(Vmath, ActivationsMatchReference) {
  if (!have_avx2()) GTEST_FAIL() << "no AVX2";
  for (int64_t n : kLengths) {
    auto x = randv(n, 1 + n, 3.0f);
    x[0] = -12.0f;  // deep in the tails of erf and the sigmoid
    if (n > 1) x[1] = 12.0f;
    auto a = x, b = x;
    vmath::avx2::gelu_erf(a.data(), n);
    vmath::ref::gelu_erf(b.data(), n);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(a[i], b[i], 3e-7f * (1.0f + std::fabs(b[i]))) << "gelu n=" << n << " i=" << i;
    const auto up = randv(n, 2 + n, 1.0f);
    std::vector<float> s1(n), s2(n);
    vmath::avx2::swiglu(x.data(), up.data(), n, s1.data());
    vmath::ref::swiglu(x.data(), up.data(), n, s2.data());
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(s1[i], s2[i], 3e-7f * (1.0f + std::fabs(s2[i]))) << "swiglu n=" << n;
  }
}

TEST(Vmath, SoftmaxNormsAndDotsMatchReference) {
  if (!have_avx2()) GTEST_FAIL() << "no AVX2";
  for (int64_t n : kLengths) {
    auto x = randv(n, 3 + n, 4.0f);
    auto a = x, b = x;
    vmath::avx2::softmax(a.data(), n);
    vmath::ref::softmax(b.data(), n);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(a[i], b[i], 1e-6f * b[i] + 1e-9f) << "softmax n=" << n;
      sum += a[i];
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
    const auto w = randv(n, 4 + n, 1.0f), g = randv(n, 5 + n, 1.0f);
    std::vector<float> y1(n), y2(n);
    vmath::avx2::rms_norm_row(x.data(), n, w.data(), 1e-6f, y1.data());
    vmath::ref::rms_norm_row(x.data(), n, w.data(), 1e-6f, y2.data());
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 2e-6f * (1.0f + std::fabs(y2[i]))) << "rms n=" << n;
    if (n > 1) {  // one element has zero variance: skip the degenerate row
      vmath::avx2::layer_norm_row(x.data(), n, w.data(), g.data(), 1e-5f, y1.data());
      vmath::ref::layer_norm_row(x.data(), n, w.data(), g.data(), 1e-5f, y2.data());
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 5e-6f * (1.0f + std::fabs(y2[i]))) << "ln n=" << n;
    }
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::fabs(x[i] * w[i]);
    EXPECT_NEAR(vmath::avx2::dot(x.data(), w.data(), n), vmath::ref::dot(x.data(), w.data(), n), 1e-6 * s + 1e-7);
    auto z1 = g, z2 = g;
    vmath::avx2::axpy(0.3f, x.data(), z1.data(), n);
    vmath::ref::axpy(0.3f, x.data(), z2.data(), n);
    // The fused multiply-add rounds once where the reference rounds twice.
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(z1[i], z2[i], 1.2e-7f * (std::fabs(0.3f * x[i]) + std::fabs(g[i])));
    vmath::avx2::add(z1.data(), x.data(), n);
    vmath::ref::add(z2.data(), x.data(), n);
    for (int64_t i = 0; i < n; ++i) EXPECT_FLOAT_EQ(z1[i], z2[i]);
  }
}

// Naive attention in double: out[i][h] = Σ_j softmax_j(q_i·k_j·scale) v_j over visible j.
std::vector<float> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v, int64_t L, int64_t n, int64_t H, int64_t KV, int64_t hd,
                                   float scale, int64_t causal) {
  std::vector<float> out(L * H * hd);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kh = h / (H / KV), len = causal >= 0 ? std::min(n, causal + i + 1) : n;
      std::vector<double> s(len);
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < len; ++j) {
        double acc = 0;
        for (int64_t c = 0; c < hd; ++c) acc += double(q[i * H * hd + h * hd + c]) * k[j * KV * hd + kh * hd + c];
        s[j] = acc * scale;
        mx = std::max(mx, s[j]);
      }
      for (auto& e : s) sum += (e = std::exp(e - mx));
      for (int64_t c = 0; c < hd; ++c) {
        double o = 0;
        for (int64_t j = 0; j < len; ++j) o += s[j] / sum * v[j * KV * hd + kh * hd + c];
        out[i * H * hd + h * hd + c] = static_cast<float>(o);
      }
    }
  return out;
}

TEST(Attention, MatchesNaiveForPrefillDecodeAndWindows) {
  ThreadPool pool(2);
  struct Case {
    int64_t L, n, H, KV, hd, causal;
  };
  // Decode (1 row over a cache), prefill blocks across the 32-row block edge with a
  // cached prefix, bidirectional windows (encoder), odd head sizes.
  for (const Case& c :
       {Case{1, 37, 4, 2, 24, 36}, Case{45, 45, 4, 2, 24, 0}, Case{40, 52, 6, 3, 16, 12}, Case{13, 13, 3, 3, 20, -1},
        Case{7, 7, 2, 1, 8, -1}, Case{1, 37, 4, 2, 128, 36}, Case{3, 70, 2, 1, 72, 67}}) {
    const auto q = randv(c.L * c.H * c.hd, 21, 1.0f), k = randv(c.n * c.KV * c.hd, 22, 1.0f),
               v = randv(c.n * c.KV * c.hd, 23, 1.0f);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
    std::vector<float> out(c.L * c.H * c.hd, 9.0f);
    ops::attention(pool, q.data(), c.H * c.hd, c.L, k.data(), v.data(), c.KV * c.hd, c.hd, c.n, c.H, c.KV, c.hd, scale,
                   c.causal, out.data(), c.H * c.hd);
    const auto ref = naive_attention(q, k, v, c.L, c.n, c.H, c.KV, c.hd, scale, c.causal);
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_NEAR(out[i], ref[i], 2e-5f) << "L=" << c.L << " n=" << c.n << " causal=" << c.causal << " i=" << i;
    // The f16-cache variant, in the cache's per-head layout [KV][n][hd], against the
    // naive attention over the same f16-rounded keys and values.
    std::vector<uint16_t> k16(k.size()), v16(v.size());
    std::vector<float> kr(k.size()), vr(v.size());
    for (int64_t j = 0; j < c.n; ++j)
      for (int64_t kh = 0; kh < c.KV; ++kh)
        for (int64_t d = 0; d < c.hd; ++d) {
          const size_t src = (j * c.KV + kh) * c.hd + d, dst = (kh * c.n + j) * c.hd + d;
          k16[dst] = f32_to_f16(k[src]), v16[dst] = f32_to_f16(v[src]);
          kr[src] = f16_to_f32(k16[dst]), vr[src] = f16_to_f32(v16[dst]);
        }
    std::vector<float> out16(c.L * c.H * c.hd, 9.0f);
    ops::attention_f16kv(pool, q.data(), c.H * c.hd, c.L, k16.data(), v16.data(), c.hd, c.n * c.hd, c.n, c.H, c.KV,
                         c.hd, scale, c.causal, out16.data(), c.H * c.hd);
    const auto ref16 = naive_attention(q, kr, vr, c.L, c.n, c.H, c.KV, c.hd, scale, c.causal);
    for (size_t i = 0; i < out16.size(); ++i)
      ASSERT_NEAR(out16[i], ref16[i], 2e-5f) << "f16 KV: L=" << c.L << " n=" << c.n << " i=" << i;
  }
}

// The packed GEMM against plain dot products in double, on shapes that leave tails
// in both tile directions (M not a multiple of 16, N not a multiple of 6 or 48) and
// in K (1056 = two full 512-passes and a 32-wide one),
// for f32, f16 and q4_0 weights, with and without bias, on 1 and 2 threads.
// The 16-bit decode GEMV: each row bit for bit what the convert-then-dot path gives
// (avx2::gemv_* against avx2::dot on the widened row, ref::gemv_* against ref::dot),
// over row counts that exercise the two-row pass and its odd last row, lengths with
// every kind of tail, and extreme values (bf16's full exponent range, f16's largest).
TEST(Vmath, Gemv16MatchesConvertThenDotBitForBit) {
  if (!have_avx2()) GTEST_FAIL() << "no AVX2";
  for (int64_t n : {1, 7, 8, 9, 31, 32, 33, 100, 1024, 1037}) {
    for (int64_t rows : {1, 2, 3, 5}) {
      const auto x = randv(n, 40 + n, 1.0f), wf = randv(rows * n, 41 + n, 0.5f);
      for (bool bf : {true, false}) {
        std::vector<uint16_t> w(wf.size());
        for (size_t i = 0; i < wf.size(); ++i) w[i] = bf ? f32_to_bf16(wf[i]) : f32_to_f16(wf[i]);
        w[0] = bf ? f32_to_bf16(1.0e37f) : f32_to_f16(65504.0f);
        if (w.size() > 1) w[w.size() - 1] = bf ? f32_to_bf16(-1.0e-30f) : f32_to_f16(-6.0e-8f);
        std::vector<float> wide(w.size());
        to_f32(bf ? DType::BF16 : DType::F16, w.data(), 0, w.size(), wide.data());
        for (size_t i = 0; i < w.size(); ++i) {  // the vector conversion is the exact scalar one
          const float want = bf ? bf16_to_f32(w[i]) : f16_to_f32(w[i]);
          ASSERT_EQ(std::memcmp(&wide[i], &want, 4), 0) << "element " << i;
        }
        std::vector<float> fast(rows, 7.0f), ref(rows, 7.0f);
        (bf ? vmath::avx2::gemv_bf16 : vmath::avx2::gemv_f16)(w.data(), rows, x.data(), n, fast.data());
        (bf ? vmath::ref::gemv_bf16 : vmath::ref::gemv_f16)(w.data(), rows, x.data(), n, ref.data());
        for (int64_t r = 0; r < rows; ++r) {
          const float* wr = wide.data() + r * n;
          EXPECT_EQ(fast[r], vmath::avx2::dot(x.data(), wr, n)) << (bf ? "bf16" : "f16") << " n=" << n << " r=" << r;
          EXPECT_EQ(ref[r], vmath::ref::dot(x.data(), wr, n)) << (bf ? "bf16" : "f16") << " n=" << n << " r=" << r;
          double mag = 0;
          for (int64_t i = 0; i < n; ++i) mag += std::fabs(double(x[i]) * wr[i]);
          EXPECT_NEAR(fast[r], ref[r], 1e-6 * mag) << "n=" << n << " r=" << r;
        }
      }
    }
  }
}

// ops::matmul and ops::matmul_group with bf16/f16 weights and few activation rows
// (decode) take the fused 16-bit GEMV: every output equals ops::dot of the activation
// row with the widened weight row (+ bias), on 1 and 2 threads, q/k/v-like groups of
// different row counts included.
TEST(Gemv, SixteenBitMatmulAndGroupsMatchRowDots) {
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    for (int64_t M : {1, 3}) {
      const int64_t K = 96;
      const int64_t Ns[3] = {70, 33, 33};
      const auto x = randv(M * K, 50, 1.0f);
      for (DType dt : {DType::BF16, DType::F16}) {
        std::vector<std::vector<uint16_t>> ws;
        std::vector<std::vector<float>> wide;
        std::vector<Mat> mats;
        for (int i = 0; i < 3; ++i) {
          const auto wf = randv(Ns[i] * K, 51 + i, 0.5f);
          std::vector<uint16_t> w(wf.size());
          for (size_t j = 0; j < wf.size(); ++j) w[j] = dt == DType::BF16 ? f32_to_bf16(wf[j]) : f32_to_f16(wf[j]);
          std::vector<float> d(w.size());
          to_f32(dt, w.data(), 0, w.size(), d.data());
          ws.push_back(std::move(w));
          wide.push_back(std::move(d));
        }
        for (int i = 0; i < 3; ++i) mats.push_back(Mat{dt, Ns[i], K, ws[i].data()});
        const auto bias = randv(Ns[0], 55, 1.0f);
        std::vector<float> y0(M * Ns[0], 9.0f), y1(M * Ns[1], 9.0f), y2(M * Ns[2], 9.0f), yb(M * Ns[0], 9.0f);
        ops::matmul_group(pool, x.data(), M, {{&mats[0], y0.data()}, {&mats[1], y1.data()}, {&mats[2], y2.data()}});
        ops::matmul(pool, x.data(), M, mats[0], bias.data(), yb.data());
        const std::vector<float>* ys[3] = {&y0, &y1, &y2};
        for (int i = 0; i < 3; ++i)
          for (int64_t m = 0; m < M; ++m)
            for (int64_t r = 0; r < Ns[i]; ++r) {
              const float want = ops::dot(x.data() + m * K, wide[i].data() + r * K, K);
              ASSERT_EQ((*ys[i])[m * Ns[i] + r], want) << dtype_name(dt) << " M=" << M << " mat " << i << " r=" << r;
              if (i == 0) {
                ASSERT_EQ(yb[m * Ns[0] + r], want + bias[r]) << "bias, r=" << r;
              }
            }
      }
    }
  }
}

TEST(Gemm, MatchesDotReferenceOnOddShapes) {
  if (!have_avx2()) GTEST_FAIL() << "no AVX2";
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    struct Shape {
      int64_t M, N, K;
    };
    for (const Shape& sh :
         {Shape{8, 5, 32}, Shape{17, 7, 64}, Shape{33, 50, 96}, Shape{40, 97, 160}, Shape{21, 13, 1056}}) {
      const auto x = randv(sh.M * sh.K, 31, 1.0f), wf = randv(sh.N * sh.K, 32, 0.5f), bias = randv(sh.N, 33, 1.0f);
      std::vector<uint16_t> w16(wf.size());
      for (size_t i = 0; i < wf.size(); ++i) w16[i] = f32_to_f16(wf[i]);
      std::vector<BlockQ4_0> w4(wf.size() / 32);
      quantize_q4_0(wf.data(), w4.data(), static_cast<int64_t>(wf.size()));
      for (DType dt : {DType::F32, DType::F16, DType::Q4_0}) {
        const void* data = dt == DType::F32   ? static_cast<const void*>(wf.data())
                           : dt == DType::F16 ? static_cast<const void*>(w16.data())
                                              : static_cast<const void*>(w4.data());
        const Mat W{dt, sh.N, sh.K, data};
        std::vector<float> wd(wf.size());
        to_f32(dt, data, 0, wf.size(), wd.data());  // what the kernel multiplies by
        for (bool with_bias : {false, true}) {
          std::vector<float> y(sh.M * sh.N, 7.0f);
          gemm::matmul_avx2(pool, x.data(), sh.M, W, with_bias ? bias.data() : nullptr, y.data());
          for (int64_t m = 0; m < sh.M; ++m)
            for (int64_t n = 0; n < sh.N; ++n) {
              double ref = with_bias ? bias[n] : 0.0, mag = std::fabs(ref);
              for (int64_t k = 0; k < sh.K; ++k) {
                ref += double(x[m * sh.K + k]) * wd[n * sh.K + k];
                mag += std::fabs(double(x[m * sh.K + k]) * wd[n * sh.K + k]);
              }
              ASSERT_NEAR(y[m * sh.N + n], ref, 1e-5 * mag + 1e-6)
                  << dtype_name(dt) << " M=" << sh.M << " N=" << sh.N << " K=" << sh.K << " m=" << m << " n=" << n;
            }
        }
      }
    }
  }
}

// The GELU the model runs (ops::gelu_erf: 16 lanes where the CPU has AVX-512, else 8) is
// the 8-lane kernel's bit for bit, tails and extremes included, so the encoder's output
// does not depend on the CPU's width.
TEST(Vmath, GeluDispatchedBitIdenticalToAvx2) {
  if (!have_avx2()) GTEST_FAIL() << "no AVX2";
  for (int64_t n : {1, 7, 15, 16, 17, 31, 33, 100, 4099}) {
    auto x = randv(n, 7 + n, 4.0f);
    x[0] = -12.0f;
    if (n > 2) x[1] = 12.0f, x[2] = -0.0f;
    if (n > 4) x[3] = -100.0f, x[4] = 1e-30f;
    auto a = x, b = x;
    vmath::avx2::gelu_erf(a.data(), n);
    ops::gelu_erf(b.data(), n);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), n * sizeof(float))) << "n=" << n;
    if (best_isa() == Isa::kAvx512) {
      auto c = x;
      vmath::avx512::gelu_erf(c.data(), n);
      EXPECT_EQ(0, std::memcmp(a.data(), c.data(), n * sizeof(float))) << "avx512 n=" << n;
    }
  }
}

// The 512-bit f32 micro-kernel (tiles of 12 weight rows, taken where the CPU has the
// AVX-512 level) runs each output's FMA chain over k exactly as the 256-bit one (tiles of
// 6, QASR_ISA=avx2) does, so the two give the same floats: on shapes with tile tails in
// both directions and K past one 512-wide pass, 1 and 2 threads. (On a CPU without
// AVX-512 both runs take the 256-bit kernel.)
TEST(Gemm, WideKernelBitIdenticalToAvx2Kernel) {
  if (!have_avx2()) GTEST_FAIL() << "no AVX2";
  const char* prev = std::getenv("QASR_ISA");
  const std::string saved = prev ? prev : "";
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    struct Shape {
      int64_t M, N, K;
    };
    for (const Shape& sh : {Shape{17, 13, 64}, Shape{40, 97, 1056}, Shape{5, 30, 600}}) {
      const auto x = randv(sh.M * sh.K, 41, 1.0f), wf = randv(sh.N * sh.K, 42, 0.5f), bias = randv(sh.N, 43, 1.0f);
      std::vector<uint16_t> w16(wf.size());
      for (size_t i = 0; i < wf.size(); ++i) w16[i] = f32_to_bf16(wf[i]);
      for (DType dt : {DType::F32, DType::BF16}) {
        const Mat W{dt, sh.N, sh.K, dt == DType::F32 ? static_cast<const void*>(wf.data()) : w16.data()};
        std::vector<float> y256(sh.M * sh.N), yw(sh.M * sh.N);
        setenv("QASR_ISA", "avx2", 1);
        gemm::matmul_avx2(pool, x.data(), sh.M, W, bias.data(), y256.data());
        if (prev)
          setenv("QASR_ISA", saved.c_str(), 1);
        else
          unsetenv("QASR_ISA");
        gemm::matmul_avx2(pool, x.data(), sh.M, W, bias.data(), yw.data());
        for (size_t i = 0; i < yw.size(); ++i)
          ASSERT_EQ(yw[i], y256[i]) << dtype_name(dt) << " M=" << sh.M << " N=" << sh.N << " K=" << sh.K << " i=" << i;
      }
    }
  }
}

// The q4_0 × q8_0 integer GEMM against the scalar reference (quantize_q8_0 of each
// activation row, dot_q4_0_q8_0 per output): bit for bit, on shapes with tails in both
// tile directions (M not a multiple of 6, N not a multiple of 8 or 32), with and
// without bias, on 1 and 2 threads. Weights with extreme nibbles (0 and 15) and
// activations with ±amax rows exercise the 16-bit sums' bound.
// Both integer GEMMs (q4_0 and q8_0 weights) at every kernel level this CPU has (AVX2;
// AVX-512 VNNI where present), against the scalar block dots, bit for bit.
TEST(Gemm, IntegerMatchesScalarReferenceBitForBit) {
  if (!have_avx2()) GTEST_FAIL() << "no AVX2";
  std::vector<bool> levels = {false};
  if (quant_kernels(Isa::kAvx512).isa == Isa::kAvx512) levels.push_back(true);  // the CPU has AVX-512 VNNI
  for (bool vnni : levels)
    for (DType dt : {DType::Q4_0, DType::Q8_0})
      for (int threads : {1, 2}) {
        ThreadPool pool(threads);
        struct Shape {
          int64_t M, N, K;
        };
        for (const Shape& sh :
             {Shape{8, 5, 32}, Shape{13, 9, 64}, Shape{33, 50, 96}, Shape{40, 97, 160}, Shape{7, 33, 1024}}) {
          auto x = randv(sh.M * sh.K, 41, 1.0f);
          const auto wf = randv(sh.N * sh.K, 42, 0.5f), bias = randv(sh.N, 43, 1.0f);
          for (int64_t k = 0; k < sh.K; ++k) x[k] = (k % 2 ? 1.0f : -1.0f);  // row 0: every q = ±127
          const int64_t nb = sh.K / 32;
          std::vector<BlockQ4_0> w4(wf.size() / 32);
          std::vector<BlockQ8_0> w8(wf.size() / 32);
          quantize_q4_0(wf.data(), w4.data(), static_cast<int64_t>(wf.size()));
          quantize_q8_0(wf.data(), w8.data(), static_cast<int64_t>(wf.size()));
          for (int64_t b = 0; b < nb; ++b) {
            std::memset(w4[b].qs, 0xF0 | 0x00, 16);  // row 0: nibbles 0 and 15
            for (int j = 0; j < 32; ++j)             // row 0: the extremes −128 and 127 a file may hold
              w8[b].qs[j] = static_cast<int8_t>(j % 2 ? 127 : -128);
          }
          const Mat W = dt == DType::Q4_0 ? Mat{dt, sh.N, sh.K, w4.data()} : Mat{dt, sh.N, sh.K, w8.data()};
          std::vector<BlockQ8_0> xq(sh.M * nb);
          for (int64_t m = 0; m < sh.M; ++m) quantize_q8_0(x.data() + m * sh.K, xq.data() + m * nb, sh.K);
          for (bool with_bias : {false, true}) {
            std::vector<float> y(sh.M * sh.N, 7.0f);
            gemm::matmul_int8(pool, x.data(), sh.M, W, with_bias ? bias.data() : nullptr, y.data(), vnni);
            for (int64_t m = 0; m < sh.M; ++m)
              for (int64_t n = 0; n < sh.N; ++n) {
                float ref = dt == DType::Q4_0 ? dot_q4_0_q8_0(w4.data() + n * nb, xq.data() + m * nb, sh.K)
                                              : dot_q8_0_q8_0(w8.data() + n * nb, xq.data() + m * nb, sh.K);
                if (with_bias) ref += bias[n];
                ASSERT_EQ(y[m * sh.N + n], ref)
                    << (dt == DType::Q4_0 ? "q4_0" : "q8_0") << " vnni=" << vnni << " M=" << sh.M << " N=" << sh.N
                    << " K=" << sh.K << " m=" << m << " n=" << n;
              }
          }
        }
      }
}

}  // namespace
}  // namespace qasr
