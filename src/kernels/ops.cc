#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <string>
#include <type_traits>
#include "base/status.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/half.h"
#include "kernels/quant.h"
#include "kernels/simd_avx2.h"
#include "kernels/vmath.h"

#include <immintrin.h>
#include <cctype>

#include <cblas.h>

namespace qasr {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::Q8_0:
      return "Q8_0";
    case DType::Q4_0:
      return "Q4_0";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType* out) {
  std::string l;
  for (char c : s) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (l == "f32")
    *out = DType::F32;
  else if (l == "f16")
    *out = DType::F16;
  else if (l == "bf16")
    *out = DType::BF16;
  else if (l == "q8_0")
    *out = DType::Q8_0;
  else if (l == "q4_0")
    *out = DType::Q4_0;
  else
    return false;
  return true;
}

int ggml_type_of(DType t) {
  switch (t) {
    case DType::F32:
      return 0;
    case DType::F16:
      return 1;
    case DType::Q4_0:
      return 2;
    case DType::Q8_0:
      return 8;
    case DType::BF16:
      return 30;
  }
  return -1;
}

bool dtype_from_ggml(int g, DType* out) {
  switch (g) {
    case 0:
      *out = DType::F32;
      return true;
    case 1:
      *out = DType::F16;
      return true;
    case 2:
      *out = DType::Q4_0;
      return true;
    case 8:
      *out = DType::Q8_0;
      return true;
    case 30:
      *out = DType::BF16;
      return true;
    default:
      return false;
  }
}

namespace {

// f16 → f32 with F16C (8 at a time) when the CPU has it; the scalar loop otherwise.
__attribute__((target("avx2,f16c"))) void f16_to_f32_f16c(const uint16_t* p, size_t n, float* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))));
  for (; i < n; ++i) out[i] = f16_to_f32(p[i]);
}

// bf16 → f32 by a 16-bit shift, 8 at a time (exact, as the scalar conversion).
__attribute__((target("avx2"))) void bf16_to_f32_avx2(const uint16_t* p, size_t n, float* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load_bf16x8(p + i));
  for (; i < n; ++i) out[i] = bf16_to_f32(p[i]);
}

// One choice per process: the AVX2 kernels (AVX2 + FMA + F16C, see cpu_has_avx2) where the
// CPU has them; QASR_ISA=scalar forces the references.
bool use_avx2() {
  static const bool kUseAvx2 = best_isa() != Isa::kScalar;
  return kUseAvx2;
}

}  // namespace

float load_f32(DType t, const void* data, size_t i) {
  if (is_quantized(t)) {
    float block[kQK];
    to_f32(t, data, i - i % kQK, kQK, block);
    return block[i % kQK];
  }
  switch (t) {
    case DType::F32:
      return static_cast<const float*>(data)[i];
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
    default:
      return 0;
  }
}

void to_f32(DType t, const void* data, size_t offset, size_t n, float* out) {
  switch (t) {
    case DType::F32:
      std::copy_n(static_cast<const float*>(data) + offset, n, out);
      return;
    case DType::F16: {
      const uint16_t* p = static_cast<const uint16_t*>(data) + offset;
      if (use_avx2()) {
        f16_to_f32_f16c(p, n, out);
        return;
      }
      for (size_t i = 0; i < n; ++i) out[i] = f16_to_f32(p[i]);
      return;
    }
    case DType::BF16: {
      const uint16_t* p = static_cast<const uint16_t*>(data) + offset;
      if (use_avx2()) {
        bf16_to_f32_avx2(p, n, out);
        return;
      }
      for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(p[i]);
      return;
    }
    case DType::Q8_0:
      QASR_CHECK(offset % kQK == 0 && n % kQK == 0) << offset << " " << n;
      dequantize_q8_0(static_cast<const BlockQ8_0*>(data) + offset / kQK, out, static_cast<int64_t>(n));
      return;
    case DType::Q4_0:
      QASR_CHECK(offset % kQK == 0 && n % kQK == 0) << offset << " " << n;
      quant_kernels().dequantize_q4_0(static_cast<const BlockQ4_0*>(data) + offset / kQK, out, static_cast<int64_t>(n));
      return;
  }
}

namespace ops {
namespace {

constexpr int64_t kGemmMinRows = 8;  // below this, the row-dot path (decode) is as fast

// OpenBLAS must not start threads of its own: the caller's pool splits the work.
void blas_single_thread() {
  static const bool kConfigured = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)kConfigured;
}

// Few activation rows (decode), weights quantized or 16-bit: one parallel_for covers
// the rows of every matrix in `outs`, as if they were stacked (q/k/v, gate/up in one
// pass over the weights). Quantized weights meet the activations quantized to q8_0
// once (as ggml does), integer block dots per row; bf16/f16 weights meet the f32
// activations, widened in registers (vmath gemv_bf16/gemv_f16), in blocks of 16 rows
// so that with M > 1 a block is read from memory once and from cache M − 1 times.
struct GemvOut {
  const Mat* W;
  float* y;
  const float* bias;
};

bool is_16bit(DType t) {
  return t == DType::BF16 || t == DType::F16;
}
bool gemv_dtype(const Mat& W) {
  return (is_quantized(W.dtype) && W.cols % kQK == 0) || is_16bit(W.dtype);
}

void fused_gemv(ThreadPool& pool, const float* x, int64_t M, const GemvOut* outs, size_t n_outs) {
  const int64_t K = outs[0].W->cols, nb = K / kQK;
  int64_t total = 0;
  bool any_quantized = false;
  for (size_t i = 0; i < n_outs; ++i) {
    total += outs[i].W->rows;
    any_quantized = any_quantized || is_quantized(outs[i].W->dtype);
  }
  // The caller's q8_0 copy of the activations (kPackedActivations of thread 0), read by every worker.
  BlockQ8_0* xqp = nullptr;
  const QuantKernels& qk = quant_kernels();
  if (any_quantized) {
    xqp = static_cast<BlockQ8_0*>(
        pool.scratch(0, ThreadPool::Scratch::kPackedActivations, static_cast<size_t>(M * nb) * sizeof(BlockQ8_0)));
    for (int64_t m = 0; m < M; ++m) qk.quantize_q8_0(x + m * K, xqp + m * nb, K);
  }
  const bool fast = use_avx2();
  const auto gemv_bf16 = fast ? vmath::avx2::gemv_bf16 : vmath::ref::gemv_bf16;
  const auto gemv_f16 = fast ? vmath::avx2::gemv_f16 : vmath::ref::gemv_f16;
  pool.parallel_for(total, 16, [&](int64_t n0, int64_t n1, int) {
    int64_t base = 0;
    for (size_t i = 0; i < n_outs; ++i) {
      const GemvOut& o = outs[i];
      const int64_t N = o.W->rows, b = std::max(n0, base) - base, e = std::min(n1, base + N) - base;
      base += N;
      if (b >= e) continue;
      if (is_16bit(o.W->dtype)) {
        const auto* w = static_cast<const uint16_t*>(o.W->data);
        const auto gemv = o.W->dtype == DType::BF16 ? gemv_bf16 : gemv_f16;
        constexpr int64_t kBlock = 16;
        for (int64_t r0 = b; r0 < e; r0 += kBlock) {
          const int64_t r1 = std::min(e, r0 + kBlock);
          for (int64_t m = 0; m < M; ++m) gemv(w + r0 * K, r1 - r0, x + m * K, K, o.y + m * N + r0);
        }
      } else {
        for (int64_t m = 0; m < M; ++m) {
          float* ym = o.y + m * N;
          if (o.W->dtype == DType::Q8_0)
            qk.gemv_q8_0(static_cast<const BlockQ8_0*>(o.W->data) + b * nb, e - b, xqp + m * nb, K, ym + b);
          else
            qk.gemv_q4_0(static_cast<const BlockQ4_0*>(o.W->data) + b * nb, e - b, xqp + m * nb, K, ym + b);
        }
      }
      if (o.bias)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t r = b; r < e; ++r) o.y[m * N + r] += o.bias[r];
    }
  });
}

// The GEMM path for many activation rows, chosen once per process:
//   QASR_NO_BLAS=1  reference row-dot path (A/B runs);
//   QASR_GEMM=blas  OpenBLAS sgemm per weight block (the previous path);
//   QASR_GEMM=f32   q4_0/q8_0 weights dequantized through the f32 GEMM (f32 activations);
//   default         our f32 GEMM, and the integer GEMM for q4_0 and q8_0 weights.
struct GemmChoice {
  bool use_blas, own_gemm, int8_gemm;
};
const GemmChoice& gemm_choice() {
  static const GemmChoice kChoice = [] {
    const char* g = std::getenv("QASR_GEMM");
    const std::string gs = g ? g : "";
    GemmChoice r;
    r.use_blas = std::getenv("QASR_NO_BLAS") == nullptr;
    r.own_gemm = best_isa() != Isa::kScalar && gs != "blas";
    r.int8_gemm = r.use_blas && r.own_gemm && gs != "f32";
    return r;
  }();
  return kChoice;
}

}  // namespace

bool uses_int8_gemm(const Mat& W, int64_t M) {
  return is_quantized(W.dtype) && W.cols % kQK == 0 && M >= kGemmMinRows && gemm_choice().int8_gemm;
}

void matmul(ThreadPool& pool, const float* x, int64_t M, const Mat& W, const float* bias, float* y) {
  const int64_t N = W.rows, K = W.cols;
  const bool use_blas = gemm_choice().use_blas, own_gemm = gemm_choice().own_gemm;
  if (uses_int8_gemm(W, M)) {
    static const bool kVnni = gemm::int8_vnni_default();
    gemm::matmul_int8(pool, x, M, W, bias, y, kVnni);
    return;
  }
  if (M >= kGemmMinRows && use_blas && own_gemm) {
    gemm::matmul_avx2(pool, x, M, W, bias, y);
    return;
  }
  if (M >= kGemmMinRows && use_blas) {
    // Many activation rows (encoder, conv stem, prefill): a real GEMM. Each task
    // converts (or dequantizes) a block of weight rows to f32 in its scratch and calls OpenBLAS's
    // single-threaded sgemm on it (our pool does the threading).
    blas_single_thread();
    // Weight rows per sgemm call: as many as fit in kGemmBlockBytes of f32, so OpenBLAS
    // packs the activations once per call rather than once per small block (64-row
    // blocks spent ~12% of encoder time in packing), but never more than the thread's share.
    constexpr int64_t kGemmBlockBytes = int64_t{2} << 20;
    const int64_t share = (N + pool.size() - 1) / pool.size();
    const int64_t block = std::max<int64_t>(16, std::min(share, kGemmBlockBytes / (K * 4)));
    pool.parallel_for(N, 16, [&](int64_t n0, int64_t n1, int t) {
      float* wb = static_cast<float*>(
          pool.scratch(t, ThreadPool::Scratch::kWeightRows, static_cast<size_t>(block * K) * sizeof(float)));
      for (int64_t b0 = n0; b0 < n1; b0 += block) {
        const int64_t nb = std::min(block, n1 - b0);
        const float* w;
        if (W.dtype == DType::F32) {
          w = static_cast<const float*>(W.data) + b0 * K;
        } else {
          to_f32(W.dtype, W.data, static_cast<size_t>(b0 * K), static_cast<size_t>(nb * K), wb);
          w = wb;
        }
        // y[:, b0:b0+nb] = x · w_blockᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(nb),
                    static_cast<int>(K), 1.0f, x, static_cast<int>(K), w, static_cast<int>(K), 0.0f, y + b0,
                    static_cast<int>(N));
        if (bias)
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = b0; n < b0 + nb; ++n) y[m * N + n] += bias[n];
      }
    });
    return;
  }
  if (is_quantized(W.dtype)) {
    QASR_CHECK(K % kQK == 0) << "quantized matrix with " << K << " columns";
  }
  if (is_quantized(W.dtype) || (M < kGemmMinRows && gemv_dtype(W))) {
    const GemvOut out{&W, y, bias};
    fused_gemv(pool, x, M, &out, 1);
    return;
  }
  // Reference row-dot path (f32 weights with few rows; f32/f16/bf16 with many rows under QASR_NO_BLAS=1):
  // each task takes kRowBlock weight rows and runs every activation row against them,
  // so a weight block stays in L1/L2 while the activations stream past once per block.
  constexpr int64_t kRowBlock = 16;
  pool.parallel_for(N, kRowBlock, [&](int64_t n0, int64_t n1, int t) {
    // kRowBlock converted weight rows per thread, in the pool's scratch.
    float* rows = static_cast<float*>(
        pool.scratch(t, ThreadPool::Scratch::kWeightRows, static_cast<size_t>(kRowBlock * K) * sizeof(float)));
    for (int64_t nb0 = n0; nb0 < n1; nb0 += kRowBlock) {
      const int64_t nb1 = std::min(n1, nb0 + kRowBlock);
      const float* w;
      if (W.dtype == DType::F32) {
        w = static_cast<const float*>(W.data) + nb0 * K;
      } else {
        to_f32(W.dtype, W.data, static_cast<size_t>(nb0 * K), static_cast<size_t>((nb1 - nb0) * K), rows);
        w = rows;
      }
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = nb0; n < nb1; ++n)
          y[m * N + n] = dot(x + m * K, w + (n - nb0) * K, K) + (bias ? bias[n] : 0.0f);
    }
  });
}

void matmul_group(ThreadPool& pool, const float* x, int64_t M,
                  std::initializer_list<std::pair<const Mat*, float*>> outs) {
  bool fuse = M < kGemmMinRows;
  const int64_t K = outs.begin()->first->cols;
  constexpr size_t kMaxOuts = 4;
  GemvOut fused[kMaxOuts];
  size_t n = 0;
  for (const auto& [W, y] : outs) {
    fuse = fuse && n < kMaxOuts && gemv_dtype(*W) && W->cols == K;
    if (n < kMaxOuts) fused[n++] = {W, y, nullptr};
  }
  if (!fuse) {
    for (const auto& [W, y] : outs) matmul(pool, x, M, *W, nullptr, y);
    return;
  }
  fused_gemv(pool, x, M, fused, n);
}

void warm_up(ThreadPool& pool) {
  // Shapes past OpenBLAS's blocking sizes, so its packing buffers are touched in full.
  const int64_t M = 1024, K = 1024, N = 64 * pool.size();
  std::vector<float> x(M * K, 0.5f), w(N * K, 0.25f), y(M * N);
  matmul(pool, x.data(), M, Mat{DType::F32, N, K, w.data()}, nullptr, y.data());
  pool.release_scratch();
}

float dot(const float* a, const float* b, int64_t n) {
  return use_avx2() ? vmath::avx2::dot(a, b, n) : vmath::ref::dot(a, b, n);
}

void layer_norm(const float* x, int64_t rows, int64_t n, const float* g, const float* b, float eps, float* y) {
  auto f = use_avx2() ? vmath::avx2::layer_norm_row : vmath::ref::layer_norm_row;
  for (int64_t r = 0; r < rows; ++r) f(x + r * n, n, g, b, eps, y + r * n);
}

void rms_norm(const float* x, int64_t rows, int64_t n, const float* w, float eps, float* y) {
  auto f = use_avx2() ? vmath::avx2::rms_norm_row : vmath::ref::rms_norm_row;
  for (int64_t r = 0; r < rows; ++r) f(x + r * n, n, w, eps, y + r * n);
}

void gelu_erf(float* x, int64_t n) {
  static const bool kAvx512 = best_isa() == Isa::kAvx512;
  if (kAvx512)
    vmath::avx512::gelu_erf(x, n);
  else
    use_avx2() ? vmath::avx2::gelu_erf(x, n) : vmath::ref::gelu_erf(x, n);
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  use_avx2() ? vmath::avx2::swiglu(gate, up, n, out) : vmath::ref::swiglu(gate, up, n, out);
}

void gelu_erf(ThreadPool& pool, float* x, int64_t n) {
  pool.parallel_for(n, 4096, [&](int64_t b, int64_t e, int) { gelu_erf(x + b, e - b); });
}

void swiglu(ThreadPool& pool, const float* gate, const float* up, int64_t n, float* out) {
  pool.parallel_for(n, 4096, [&](int64_t b, int64_t e, int) { swiglu(gate + b, up + b, e - b, out + b); });
}

void add_inplace(float* x, const float* y, int64_t n) {
  use_avx2() ? vmath::avx2::add(x, y, n) : vmath::ref::add(x, y, n);
}

void softmax_inplace(float* x, int64_t n) {
  use_avx2() ? vmath::avx2::softmax(x, n) : vmath::ref::softmax(x, n);
}

void rope_table(int head_dim, int64_t pos, const float* inv_freq, float* cos_out, float* sin_out) {
  for (int j = 0; j < head_dim / 2; ++j) {
    const float ang = static_cast<float>(pos) * inv_freq[j];
    cos_out[j] = std::cos(ang);
    sin_out[j] = std::sin(ang);
  }
}

void rope_neox_table(float* x, int head_dim, const float* c, const float* s) {
  const int half = head_dim / 2;
  for (int j = 0; j < half; ++j) {
    const float a = x[j], b = x[j + half];
    x[j] = a * c[j] - b * s[j];
    x[j + half] = b * c[j] + a * s[j];
  }
}

namespace {

template <typename KvT>
void attention_impl(ThreadPool& pool, const float* q, int64_t q_stride, int64_t L, const KvT* k, const KvT* v,
                    int64_t kv_stride, int64_t kv_head_stride, int64_t n, int64_t H, int64_t KV, int64_t hd,
                    float scale, int64_t causal_base, float* out, int64_t out_stride, int64_t max_keys) {
  // Jobs: (head, block of kQBlock query rows). A block of ≥ kGemmMinRows rows is two
  // single-threaded sgemm calls around a row softmax (scores never leave the
  // thread's scratch); fewer rows (decode) take the vector row kernel.
  constexpr bool kF16 = std::is_same_v<KvT, uint16_t>;
  constexpr int64_t kQBlock = 32;
  const int64_t group = H / KV, n_blocks = (L + kQBlock - 1) / kQBlock;
  static const bool kUseBlas = std::getenv("QASR_NO_BLAS") == nullptr;
  const bool fast = use_avx2();
  const bool blocks = kUseBlas && L >= kGemmMinRows;
  if (kUseBlas) blas_single_thread();
  pool.parallel_for(H * n_blocks, 1, [&](int64_t jb, int64_t je, int t) {
    // Scores: a block of rows × n for the sgemm path; one row for the vector path,
    // sized by max_keys so a growing decode context never reallocates.
    const int64_t need = blocks ? kQBlock * n : std::max(n, max_keys);
    float* scores =
        static_cast<float*>(pool.scratch(t, ThreadPool::Scratch::kScores, static_cast<size_t>(need) * sizeof(float)));
    for (int64_t job = jb; job < je; ++job) {
      const int64_t h = job / n_blocks, i0 = (job % n_blocks) * kQBlock, i1 = std::min(L, i0 + kQBlock);
      const int64_t m = i1 - i0, kh = h / group;
      // Keys visible to the block's last row bound the block's score width.
      const int64_t width = causal_base >= 0 ? std::min(n, causal_base + i1) : n;
      const KvT* kb = k + kh * kv_head_stride;
      const KvT* vb = v + kh * kv_head_stride;
      auto visible = [&](int64_t i) { return causal_base >= 0 ? std::min(n, causal_base + i + 1) : n; };
      if (blocks && m >= kGemmMinRows) {
        const float* kf;
        const float* vf;
        int64_t ld = kv_stride;
        if constexpr (kF16) {
          // f16 cache rows → f32 for sgemm, in the thread's scratch.
          float* buf = static_cast<float*>(
              pool.scratch(t, ThreadPool::Scratch::kKvRows, static_cast<size_t>(2 * n * hd) * sizeof(float)));
          for (int64_t j = 0; j < width; ++j) {
            to_f32(DType::F16, kb + j * kv_stride, 0, static_cast<size_t>(hd), buf + j * hd);
            to_f32(DType::F16, vb + j * kv_stride, 0, static_cast<size_t>(hd), buf + (n + j) * hd);
          }
          kf = buf, vf = buf + n * hd, ld = hd;
        } else {
          kf = kb, vf = vb;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(width),
                    static_cast<int>(hd), scale, q + i0 * q_stride + h * hd, static_cast<int>(q_stride), kf,
                    static_cast<int>(ld), 0.0f, scores, static_cast<int>(width));
        for (int64_t r = 0; r < m; ++r) {
          float* sr = scores + r * width;
          const int64_t len = visible(i0 + r);
          softmax_inplace(sr, len);
          std::fill(sr + len, sr + width, 0.0f);  // masked keys weigh nothing in P·V
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(hd),
                    static_cast<int>(width), 1.0f, scores, static_cast<int>(width), vf, static_cast<int>(ld), 0.0f,
                    out + i0 * out_stride + h * hd, static_cast<int>(out_stride));
        continue;
      }
      for (int64_t i = i0; i < i1; ++i) {
        const float* qi = q + i * q_stride + h * hd;
        float* oi = out + i * out_stride + h * hd;
        if constexpr (kF16)
          (fast ? vmath::avx2::attend_row_f16 : vmath::ref::attend_row_f16)(qi, kb, vb, kv_stride, visible(i), hd,
                                                                            scale, scores, oi);
        else
          (fast ? vmath::avx2::attend_row : vmath::ref::attend_row)(qi, kb, vb, kv_stride, visible(i), hd, scale,
                                                                    scores, oi);
      }
    }
  });
}

}  // namespace

void attention(ThreadPool& pool, const float* q, int64_t q_stride, int64_t L, const float* k, const float* v,
               int64_t kv_stride, int64_t kv_head_stride, int64_t n, int64_t H, int64_t KV, int64_t hd, float scale,
               int64_t causal_base, float* out, int64_t out_stride, int64_t max_keys) {
  attention_impl(pool, q, q_stride, L, k, v, kv_stride, kv_head_stride, n, H, KV, hd, scale, causal_base, out,
                 out_stride, max_keys);
}

void attention_f16kv(ThreadPool& pool, const float* q, int64_t q_stride, int64_t L, const uint16_t* k,
                     const uint16_t* v, int64_t kv_stride, int64_t kv_head_stride, int64_t n, int64_t H, int64_t KV,
                     int64_t hd, float scale, int64_t causal_base, float* out, int64_t out_stride, int64_t max_keys) {
  attention_impl(pool, q, q_stride, L, k, v, kv_stride, kv_head_stride, n, H, KV, hd, scale, causal_base, out,
                 out_stride, max_keys);
}

void to_f16_row(const float* x, int64_t n, uint16_t* y) {
  use_avx2() ? vmath::avx2::f32_to_f16_row(x, n, y) : vmath::ref::f32_to_f16_row(x, n, y);
}

}  // namespace ops
}  // namespace qasr
