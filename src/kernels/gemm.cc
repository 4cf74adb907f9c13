#include "kernels/gemm.h"

#include <immintrin.h>

#include <algorithm>

namespace qasr::gemm {
namespace {

constexpr int64_t kMR = 16;  // activation rows per panel (two 8-wide vectors)
constexpr int64_t kNR = 6;   // weight rows per tile (broadcast)
constexpr int64_t kNS = 48;  // weight rows converted to f32 at a time per thread

#define QASR_T __attribute__((target("avx2,fma")))

// Panel p of the activations, k-major: dst[k][i] = x[16p + i][k], zero past M.
void pack_panel(const float* x, int64_t M, int64_t K, int64_t p, float* dst) {
  const int64_t m0 = p * kMR, rows = std::min(kMR, M - m0);
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + (m0 + i) * K;
    for (int64_t k = 0; k < K; ++k) dst[k * kMR + i] = xr[k];
  }
  for (int64_t i = rows; i < kMR; ++i)
    for (int64_t k = 0; k < K; ++k) dst[k * kMR + i] = 0.0f;
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

#undef QASR_T

}  // namespace

void matmul_avx2(ThreadPool& pool, const float* x, int64_t M, const Mat& W, const float* bias, float* y) {
  const int64_t N = W.rows, K = W.cols, panels = (M + kMR - 1) / kMR;
  // Packed activations: slot 1 of thread 0, read by every thread.
  float* ap = static_cast<float*>(pool.scratch(0, 1, static_cast<size_t>(panels * kMR * K) * sizeof(float)));
  pool.parallel_for(panels, 1, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) pack_panel(x, M, K, p, ap + p * kMR * K);
  });
  const bool f32 = W.dtype == DType::F32;
  pool.parallel_for(N, kNR, [&](int64_t n0, int64_t n1, int t) {
    // kNS converted rows (+ one zero row for tile tails) in the thread's scratch.
    float* wb = static_cast<float*>(pool.scratch(t, 0, static_cast<size_t>((kNS + 1) * K) * sizeof(float)));
    float* zero = wb + kNS * K;
    std::fill(zero, zero + K, 0.0f);
    alignas(32) float c[kMR * kNR];
    for (int64_t s0 = n0; s0 < n1; s0 += kNS) {
      const int64_t ns = std::min(kNS, n1 - s0);
      const float* rows;
      if (f32) {
        rows = static_cast<const float*>(W.data) + s0 * K;
      } else {
        to_f32(W.dtype, W.data, static_cast<size_t>(s0 * K), static_cast<size_t>(ns * K), wb);
        rows = wb;
      }
      for (int64_t p = 0; p < panels; ++p) {
        const float* a = ap + p * kMR * K;
        const int64_t m0 = p * kMR, mr = std::min(kMR, M - m0);
        for (int64_t g = 0; g < ns; g += kNR) {
          const int64_t nr = std::min(kNR, ns - g);
          const float* w[kNR];
          for (int64_t j = 0; j < kNR; ++j) w[j] = j < nr ? rows + (g + j) * K : zero;
          kernel_16x6(a, w[0], w[1], w[2], w[3], w[4], w[5], K, c);
          for (int64_t i = 0; i < mr; ++i) {
            float* yr = y + (m0 + i) * N + s0 + g;
            for (int64_t j = 0; j < nr; ++j) yr[j] = c[j * kMR + i] + (bias ? bias[s0 + g + j] : 0.0f);
          }
        }
      }
    }
  });
}

}  // namespace qasr::gemm
