// Kernel microbenchmarks (Google Benchmark): every fast kernel beside its scalar
// reference, on the shapes the 0.6B/1.7B models run. Counters: GB/s of weight bytes
// streamed (GEMV), GFLOP/s (GEMM, attention), elements/s (element-wise kernels).
//   build/qasr_kernels_bench --benchmark_filter=gemv
// Single-threaded unless the name says /threads:N (the pool's threads).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "bench/machine_peaks.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/half.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/vmath.h"

namespace qasr {
namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A "GFLOP/s" counter for `flop` floating-point (or integer) operations per iteration.
void count_flop(benchmark::State& st, double flop) {
  st.counters["GFLOP/s"] =
      benchmark::Counter(flop, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

Isa isa_arg(int64_t a) {
  return a == 0 ? Isa::kScalar : a == 1 ? Isa::kAvx2 : Isa::kAvx512;
}

// GEMV: rows × K weights (q4_0 or q8_0) against one q8_0 activation row.
// Args: rows, K, isa (0 scalar, 1 avx2, 2 avx512), dtype (0 q4_0, 1 q8_0).
void BM_Gemv(benchmark::State& st) {
  const int64_t rows = st.range(0), K = st.range(1);
  const QuantKernels& qk = quant_kernels(isa_arg(st.range(2)));
  if (st.range(2) == 2 && qk.isa != Isa::kAvx512) {
    st.SkipWithError("AVX-512 VNNI not available on this CPU");
    return;
  }
  const bool q8 = st.range(3) == 1;
  const auto w = random_vec(static_cast<size_t>(rows * K), 1);
  const auto x = random_vec(static_cast<size_t>(K), 2);
  std::vector<BlockQ4_0> w4(q8 ? 0 : rows * K / kQK);
  std::vector<BlockQ8_0> w8(q8 ? rows * K / kQK : 0), xq(K / kQK);
  if (q8)
    quantize_q8_0(w.data(), w8.data(), rows * K);
  else
    quantize_q4_0(w.data(), w4.data(), rows * K);
  quantize_q8_0(x.data(), xq.data(), K);
  std::vector<float> y(rows);
  for (auto _ : st) {
    if (q8)
      qk.gemv_q8_0(w8.data(), rows, xq.data(), K, y.data());
    else
      qk.gemv_q4_0(w4.data(), rows, xq.data(), K, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(rows * K / kQK) * (q8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  st.counters["GB/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  st.SetLabel(std::string(isa_name(qk.isa)) + (q8 ? " q8_0" : " q4_0"));
}
// 1024×3072 (0.6B MLP down, fits L2/L3) and the 0.6B lm_head (151936×1024, 87 MB q4_0: DRAM).
BENCHMARK(BM_Gemv)->ArgsProduct({{1024}, {3072}, {0, 1, 2}, {0, 1}})->ArgNames({"rows", "K", "isa", "q8"});
BENCHMARK(BM_Gemv)
    ->ArgsProduct({{151936}, {1024}, {1, 2}, {0, 1}})
    ->ArgNames({"rows", "K", "isa", "q8"})
    ->Unit(benchmark::kMillisecond);

// 16-bit GEMV (decode with bf16/f16 weights): rows × K against one f32 activation row.
// Args: rows, K, path (0 scalar reference, 1 AVX2 widened in registers, 2 the previous
// path: convert 16 rows to f32 in a buffer, then avx2::dot per row), dtype (0 bf16, 1 f16).
void BM_Gemv16(benchmark::State& st) {
  const int64_t rows = st.range(0), K = st.range(1), path = st.range(2);
  const bool f16 = st.range(3) == 1;
  const auto wf = random_vec(static_cast<size_t>(rows * K), 1, 0.1f);
  const auto x = random_vec(static_cast<size_t>(K), 2);
  std::vector<uint16_t> w(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) w[i] = f16 ? f32_to_f16(wf[i]) : f32_to_bf16(wf[i]);
  std::vector<float> y(rows), buf(static_cast<size_t>(16 * K));
  const DType dt = f16 ? DType::F16 : DType::BF16;
  for (auto _ : st) {
    if (path == 0) {
      (f16 ? vmath::ref::gemv_f16 : vmath::ref::gemv_bf16)(w.data(), rows, x.data(), K, y.data());
    } else if (path == 1) {
      (f16 ? vmath::avx2::gemv_f16 : vmath::avx2::gemv_bf16)(w.data(), rows, x.data(), K, y.data());
    } else {
      for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        const int64_t nr = std::min<int64_t>(16, rows - r0);
        to_f32(dt, w.data(), static_cast<size_t>(r0 * K), static_cast<size_t>(nr * K), buf.data());
        for (int64_t r = 0; r < nr; ++r) y[r0 + r] = vmath::avx2::dot(x.data(), buf.data() + r * K, K);
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(rows * K * 2),
                                           benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  st.SetLabel(std::string(path == 0 ? "scalar" : path == 1 ? "avx2" : "convert+dot") + (f16 ? " f16" : " bf16"));
}
BENCHMARK(BM_Gemv16)->ArgsProduct({{1024}, {3072}, {0, 1, 2}, {0, 1}})->ArgNames({"rows", "K", "path", "f16"});
BENCHMARK(BM_Gemv16)
    ->ArgsProduct({{151936}, {1024}, {1, 2}, {0}})
    ->ArgNames({"rows", "K", "path", "f16"})
    ->Unit(benchmark::kMillisecond);

// Plain streaming read (the bandwidth a GEMV could reach): MiB read per iteration,
// split across the pool's threads in 128 KiB pieces as the machine-peaks read is.
void BM_Read(benchmark::State& st) {
  const size_t n = static_cast<size_t>(st.range(0)) << 20;
  ThreadPool pool(static_cast<int>(st.range(1)));
  std::vector<char> buf(n, 1);
  std::vector<int64_t> sink(static_cast<size_t>(pool.size()));
  for (auto _ : st) {
    pool.parallel_for(static_cast<int64_t>(n / 128), 1024, [&](int64_t l0, int64_t l1, int t) {
      sink[static_cast<size_t>(t)] += sum_bytes(buf.data() + l0 * 128, static_cast<size_t>(l1 - l0) * 128);
    });
    benchmark::DoNotOptimize(sink.data());
  }
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Read)
    ->ArgsProduct({{304}, {1, 2}})
    ->ArgNames({"MiB", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ops::matmul through the pool (what the model calls): M activation rows, weights in
// any stored format. Args: M, N, K, threads, dtype (0 q4_0, 1 q8_0, 2 bf16, 3 f16).
void BM_Matmul(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2), dt = st.range(4);
  ThreadPool pool(static_cast<int>(st.range(3)));
  const auto wf = random_vec(static_cast<size_t>(N * K), 3, 0.1f);
  std::vector<BlockQ4_0> w4(dt == 0 ? N * K / kQK : 0);
  std::vector<BlockQ8_0> w8(dt == 1 ? N * K / kQK : 0);
  std::vector<uint16_t> w16(dt >= 2 ? N * K : 0);
  if (dt == 0) quantize_q4_0(wf.data(), w4.data(), N * K);
  if (dt == 1) quantize_q8_0(wf.data(), w8.data(), N * K);
  for (size_t i = 0; i < w16.size(); ++i) w16[i] = dt == 3 ? f32_to_f16(wf[i]) : f32_to_bf16(wf[i]);
  static constexpr DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::BF16, DType::F16};
  const void* data = dt == 0   ? static_cast<const void*>(w4.data())
                     : dt == 1 ? static_cast<const void*>(w8.data())
                               : static_cast<const void*>(w16.data());
  const double bytes = dt == 0   ? static_cast<double>(w4.size() * sizeof(BlockQ4_0))
                       : dt == 1 ? static_cast<double>(w8.size() * sizeof(BlockQ8_0))
                                 : static_cast<double>(w16.size() * 2);
  const auto x = random_vec(static_cast<size_t>(M * K), 4);
  std::vector<float> y(M * N);
  const Mat W{kTypes[dt], N, K, data};
  for (auto _ : st) {
    ops::matmul(pool, x.data(), M, W, nullptr, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  count_flop(st, 2.0 * M * N * K);
  st.counters["GB/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  static constexpr const char* kNames[] = {"q4_0", "q8_0", "bf16", "f16"};
  st.SetLabel(kNames[dt]);
}
// Decode (M = 1) and prefill (M = 160) on the 0.6B MLP up-projection; 1 and 2 threads.
BENCHMARK(BM_Matmul)
    ->ArgsProduct({{1, 160}, {3072}, {1024}, {1, 2}, {0}})
    ->ArgNames({"M", "N", "K", "threads", "dtype"})
    ->UseRealTime();
// Decode of the 0.6B lm_head (151936 rows streamed from DRAM every token) at every format.
BENCHMARK(BM_Matmul)
    ->ArgsProduct({{1}, {151936}, {1024}, {1, 2}, {0, 1, 2, 3}})
    ->ArgNames({"M", "N", "K", "threads", "dtype"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Attention: L query rows (causal over a cache of L) or one decode row over n keys.
void BM_Attention(benchmark::State& st) {
  const int64_t L = st.range(0), n = st.range(1), H = 16, KV = 8, hd = 128;
  ThreadPool pool(static_cast<int>(st.range(2)));
  const auto q = random_vec(static_cast<size_t>(L * H * hd), 5);
  const auto k = random_vec(static_cast<size_t>(n * KV * hd), 6);
  const auto v = random_vec(static_cast<size_t>(n * KV * hd), 7);
  std::vector<float> out(L * H * hd);
  for (auto _ : st) {
    ops::attention(pool, q.data(), H * hd, L, k.data(), v.data(), hd, n * hd, n, H, KV, hd, 0.088f, n - L, out.data(),
                   H * hd);
    benchmark::DoNotOptimize(out.data());
  }
  // Causal: about half of the L×n score matrix for prefill.
  const double pairs = L == 1 ? static_cast<double>(n) : 0.5 * L * n;
  count_flop(st, 4.0 * pairs * H * hd);
}
BENCHMARK(BM_Attention)->ArgsProduct({{1}, {200, 2000}, {1, 2}})->ArgNames({"L", "n", "threads"})->UseRealTime();
BENCHMARK(BM_Attention)->ArgsProduct({{160}, {160}, {1, 2}})->ArgNames({"L", "n", "threads"})->UseRealTime();

// Element-wise kernels, reference vs AVX2 (arg 0/1), n elements (odd on purpose).
template <void (*Ref)(float*, int64_t), void (*Fast)(float*, int64_t)>
void BM_Inplace(benchmark::State& st) {
  const int64_t n = st.range(0);
  const auto src = random_vec(static_cast<size_t>(n), 8, 2.0f);
  std::vector<float> x(src);
  const bool fast = st.range(1) == 1;
  for (auto _ : st) {
    std::memcpy(x.data(), src.data(), n * sizeof(float));
    fast ? Fast(x.data(), n) : Ref(x.data(), n);
    benchmark::DoNotOptimize(x.data());
  }
  st.counters["elem/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(fast ? "avx2" : "scalar");
}
BENCHMARK(BM_Inplace<vmath::ref::gelu_erf, vmath::avx2::gelu_erf>)
    ->Name("BM_GeluErf")
    ->ArgsProduct({{3584 * 13 + 5}, {0, 1}});
// The 16-lane GELU (arg 1) against the 8-lane one (arg 0), where the CPU has AVX-512.
void BM_GeluErf512(benchmark::State& st) {
  if (best_isa() != Isa::kAvx512) {
    st.SkipWithError("no AVX-512 on this CPU");
    return;
  }
  BM_Inplace<vmath::avx2::gelu_erf, vmath::avx512::gelu_erf>(st);
  st.SetLabel(st.range(1) == 1 ? "avx512" : "avx2");
}
BENCHMARK(BM_GeluErf512)->ArgsProduct({{3584 * 13 + 5}, {0, 1}});
BENCHMARK(BM_Inplace<vmath::ref::softmax, vmath::avx2::softmax>)->Name("BM_Softmax")->ArgsProduct({{1037}, {0, 1}});

void BM_Swiglu(benchmark::State& st) {
  const int64_t n = st.range(0);
  const auto g = random_vec(static_cast<size_t>(n), 9, 2.0f), u = random_vec(static_cast<size_t>(n), 10);
  std::vector<float> out(n);
  const bool fast = st.range(1) == 1;
  for (auto _ : st) {
    fast ? vmath::avx2::swiglu(g.data(), u.data(), n, out.data())
         : vmath::ref::swiglu(g.data(), u.data(), n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["elem/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(fast ? "avx2" : "scalar");
}
BENCHMARK(BM_Swiglu)->ArgsProduct({{3072 * 7 + 3}, {0, 1}});

void BM_RmsNorm(benchmark::State& st) {
  const int64_t n = st.range(0), rows = 64;
  const auto x = random_vec(static_cast<size_t>(n * rows), 11), w = random_vec(static_cast<size_t>(n), 12);
  std::vector<float> y(n * rows);
  const bool fast = st.range(1) == 1;
  for (auto _ : st) {
    for (int64_t r = 0; r < rows; ++r)
      fast ? vmath::avx2::rms_norm_row(x.data() + r * n, n, w.data(), 1e-6f, y.data() + r * n)
           : vmath::ref::rms_norm_row(x.data() + r * n, n, w.data(), 1e-6f, y.data() + r * n);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["elem/s"] =
      benchmark::Counter(static_cast<double>(n * rows), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(fast ? "avx2" : "scalar");
}
BENCHMARK(BM_RmsNorm)->ArgsProduct({{1024}, {0, 1}});

// q8_0 quantization of activations (every quantized matmul starts with it), reference vs AVX2.
void BM_QuantizeQ8(benchmark::State& st) {
  const int64_t n = st.range(0);
  const auto x = random_vec(static_cast<size_t>(n), 13);
  std::vector<BlockQ8_0> q(n / kQK);
  const QuantKernels& qk = quant_kernels(isa_arg(st.range(1)));
  for (auto _ : st) {
    qk.quantize_q8_0(x.data(), q.data(), n);
    benchmark::DoNotOptimize(q.data());
  }
  st.counters["elem/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(isa_name(qk.isa));
}
BENCHMARK(BM_QuantizeQ8)->ArgsProduct({{3072}, {0, 1}});

// q4_0 → f32 weight conversion (the GEMM path converts 48 weight rows at a time).
void BM_DequantizeQ4(benchmark::State& st) {
  const int64_t n = st.range(0);
  const auto x = random_vec(static_cast<size_t>(n), 14);
  std::vector<BlockQ4_0> q(n / kQK);
  quantize_q4_0(x.data(), q.data(), n);
  std::vector<float> y(n);
  const QuantKernels& qk = quant_kernels(isa_arg(st.range(1)));
  for (auto _ : st) {
    qk.dequantize_q4_0(q.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["elem/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(isa_name(qk.isa));
}
BENCHMARK(BM_DequantizeQ4)->ArgsProduct({{48 * 1024}, {0, 1}});

// The packed f32 GEMM: M × N × K, weights f32 (bf16 = 0) or bf16 (bf16 = 1, the
// official release's dtype; the encoder and prefill of a bf16 folder run this).
void BM_Gemm(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  const int64_t dtype = st.range(3);  // 0 f32, 1 bf16, 2 f16
  ThreadPool pool(static_cast<int>(st.range(4)));
  const auto w = random_vec(static_cast<size_t>(N * K), 15), x = random_vec(static_cast<size_t>(M * K), 16);
  std::vector<uint16_t> wb(dtype != 0 ? w.size() : 0);
  for (size_t i = 0; i < wb.size(); ++i) wb[i] = dtype == 1 ? f32_to_bf16(w[i]) : f32_to_f16(w[i]);
  std::vector<float> y(M * N);
  const Mat W = dtype == 0   ? Mat{DType::F32, N, K, w.data()}
                : dtype == 1 ? Mat{DType::BF16, N, K, wb.data()}
                             : Mat{DType::F16, N, K, wb.data()};
  for (auto _ : st) {
    gemm::matmul_avx2(pool, x.data(), M, W, nullptr, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  count_flop(st, 2.0 * M * N * K);
}
BENCHMARK(BM_Gemm)
    ->ArgsProduct({{160}, {1024}, {1024}, {0, 1}, {1, 2}})
    ->ArgNames({"M", "N", "K", "dtype", "threads"})
    ->UseRealTime();
// The 0.6B decoder's MLP at prefill (158 prompt rows): up (N 3072, K 1024), down (N 1024, K 3072).
BENCHMARK(BM_Gemm)
    ->ArgsProduct({{158}, {3072}, {1024}, {1}, {1, 2}})
    ->ArgNames({"M", "N", "K", "dtype", "threads"})
    ->UseRealTime();
BENCHMARK(BM_Gemm)
    ->ArgsProduct({{158}, {1024}, {3072}, {1}, {1, 2}})
    ->ArgNames({"M", "N", "K", "dtype", "threads"})
    ->UseRealTime();
// The encoder's conv stem per 100-frame chunk (f16 weights in every format): conv2
// (800 output positions, 480 channels, K 480 · 9) and conv3 (208 positions).
BENCHMARK(BM_Gemm)
    ->ArgsProduct({{800, 208}, {480}, {4320}, {2}, {1, 2}})
    ->ArgNames({"M", "N", "K", "dtype", "threads"})
    ->UseRealTime();
// The conv stem's output projection (bf16 in the HF release) on one chunk's 13 tokens
// and on 4 and 8 chunks' at once.
BENCHMARK(BM_Gemm)
    ->ArgsProduct({{13, 52, 104}, {896}, {7680}, {1}, {2}})
    ->ArgNames({"M", "N", "K", "dtype", "threads"})
    ->UseRealTime();

// Quantized weights (q8 = 0: q4_0, 1: q8_0), many activation rows: the f32 GEMM on
// dequantized weights (path 0) against the integer GEMM on q8_0 activations, AVX2
// (path 1) and AVX-512 VNNI (path 2, where the CPU has it), on the MLP shapes of the
// 0.6B (3072 × 1024) and 1.7B (6144 × 2048 up, 2048 × 6144 down) for a 158-row prefill.
void BM_GemmInt8(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2), path = st.range(4);
  const bool q8 = st.range(3) != 0;
  if (path == 2 && quant_kernels(Isa::kAvx512).isa != Isa::kAvx512) {
    st.SkipWithError("no AVX-512 VNNI on this CPU");
    return;
  }
  ThreadPool pool(static_cast<int>(st.range(5)));
  const auto wf = random_vec(static_cast<size_t>(N * K), 17);
  std::vector<BlockQ4_0> w4(q8 ? 0 : wf.size() / kQK);
  std::vector<BlockQ8_0> w8(q8 ? wf.size() / kQK : 0);
  if (q8)
    quantize_q8_0(wf.data(), w8.data(), N * K);
  else
    quantize_q4_0(wf.data(), w4.data(), N * K);
  const auto x = random_vec(static_cast<size_t>(M * K), 18);
  std::vector<float> y(M * N);
  const Mat W = q8 ? Mat{DType::Q8_0, N, K, w8.data()} : Mat{DType::Q4_0, N, K, w4.data()};
  for (auto _ : st) {
    if (path == 0)
      gemm::matmul_avx2(pool, x.data(), M, W, nullptr, y.data());
    else
      gemm::matmul_int8(pool, x.data(), M, W, nullptr, y.data(), path == 2);
    benchmark::DoNotOptimize(y.data());
  }
  count_flop(st, 2.0 * M * N * K);
  st.SetLabel(std::string(q8 ? "q8_0 " : "q4_0 ") + (path == 0 ? "f32 gemm" : path == 1 ? "int8 avx2" : "int8 vnni"));
}
BENCHMARK(BM_GemmInt8)
    ->ArgsProduct({{158}, {3072}, {1024}, {0, 1}, {0, 1, 2}, {1, 2}})
    ->ArgNames({"M", "N", "K", "q8", "path", "threads"})
    ->UseRealTime();
BENCHMARK(BM_GemmInt8)
    ->ArgsProduct({{158}, {6144}, {2048}, {0, 1}, {0, 1, 2}, {2}})
    ->ArgNames({"M", "N", "K", "q8", "path", "threads"})
    ->UseRealTime();
BENCHMARK(BM_GemmInt8)
    ->ArgsProduct({{158}, {2048}, {6144}, {0, 1}, {0, 1, 2}, {2}})
    ->ArgNames({"M", "N", "K", "q8", "path", "threads"})
    ->UseRealTime();

// The conv stem's second 3 × 3 convolution as im2col GEMM (one 100-frame chunk: 32 × 25
// output positions, K = 480 · 9), f16 weights as stored in the chatllm files.
void BM_GemmConvF16(benchmark::State& st) {
  const int64_t M = 800, N = 480, K = 4320;
  ThreadPool pool(static_cast<int>(st.range(0)));
  const auto w = random_vec(static_cast<size_t>(N * K), 19), x = random_vec(static_cast<size_t>(M * K), 20);
  std::vector<uint16_t> w16(w.size());
  for (size_t i = 0; i < w.size(); ++i) w16[i] = f32_to_f16(w[i]);
  std::vector<float> y(M * N);
  const Mat W{DType::F16, N, K, w16.data()};
  for (auto _ : st) {
    gemm::matmul_avx2(pool, x.data(), M, W, nullptr, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  count_flop(st, 2.0 * M * N * K);
}
BENCHMARK(BM_GemmConvF16)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace qasr

BENCHMARK_MAIN();
