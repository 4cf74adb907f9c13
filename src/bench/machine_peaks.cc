#include "bench/machine_peaks.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "base/mapped_file.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"

namespace qasr {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The read the GEMVs could reach: the same software prefetch as theirs where they use
// it (stream_prefetch_bytes(), Intel), so the bound is not a plain loop's when the
// kernels go faster than one.
__attribute__((target("avx2"))) int64_t sum_bytes_avx2(const char* p, size_t n) {
  const int64_t pf = stream_prefetch_bytes();
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    if (pf) {
      _mm_prefetch(p + i + pf, _MM_HINT_T1);
      _mm_prefetch(p + i + pf + 64, _MM_HINT_T1);
    }
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  return _mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 1) + _mm256_extract_epi64(s, 2) +
         _mm256_extract_epi64(s, 3);
}

int64_t sum_bytes_scalar(const char* p, size_t n) {
  const auto* q = reinterpret_cast<const int64_t*>(p);
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 4 <= n / 8; i += 4) s0 += q[i], s1 += q[i + 1], s2 += q[i + 2], s3 += q[i + 3];
  return s0 + s1 + s2 + s3;
}

// 12 independent chains (registers, not an array, so nothing spills): enough to
// cover FMA latency × throughput on current x86 cores.
__attribute__((target("avx2,fma"))) float fma_chains(int64_t iters) {
  __m256 a0 = _mm256_set1_ps(0.1f), a1 = _mm256_set1_ps(0.2f), a2 = _mm256_set1_ps(0.3f), a3 = _mm256_set1_ps(0.4f),
         a4 = _mm256_set1_ps(0.5f), a5 = _mm256_set1_ps(0.6f), a6 = _mm256_set1_ps(0.7f), a7 = _mm256_set1_ps(0.8f),
         a8 = _mm256_set1_ps(0.9f), a9 = _mm256_set1_ps(1.0f), a10 = _mm256_set1_ps(1.1f), a11 = _mm256_set1_ps(1.2f);
  const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c), a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c), a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c), a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c), a10 = _mm256_fmadd_ps(a10, m, c), a11 = _mm256_fmadd_ps(a11, m, c);
    // Keeps the compiler from collapsing the loop.
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));
    __asm__ volatile("" : "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                 _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                                               _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
  return _mm256_cvtss_f32(s);
}

// The same 16 wide, for the 512-bit GEMM kernel: a core with two 512-bit FMA units does
// twice the FLOPs of the 8-wide chains, one that splits them (Zen 4) the same.
__attribute__((target("avx512f,avx2,fma"))) float fma_chains_512(int64_t iters) {
  __m512 a0 = _mm512_set1_ps(0.1f), a1 = _mm512_set1_ps(0.2f), a2 = _mm512_set1_ps(0.3f), a3 = _mm512_set1_ps(0.4f),
         a4 = _mm512_set1_ps(0.5f), a5 = _mm512_set1_ps(0.6f), a6 = _mm512_set1_ps(0.7f), a7 = _mm512_set1_ps(0.8f),
         a8 = _mm512_set1_ps(0.9f), a9 = _mm512_set1_ps(1.0f), a10 = _mm512_set1_ps(1.1f), a11 = _mm512_set1_ps(1.2f);
  const __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = _mm512_fmadd_ps(a0, m, c), a1 = _mm512_fmadd_ps(a1, m, c), a2 = _mm512_fmadd_ps(a2, m, c);
    a3 = _mm512_fmadd_ps(a3, m, c), a4 = _mm512_fmadd_ps(a4, m, c), a5 = _mm512_fmadd_ps(a5, m, c);
    a6 = _mm512_fmadd_ps(a6, m, c), a7 = _mm512_fmadd_ps(a7, m, c), a8 = _mm512_fmadd_ps(a8, m, c);
    a9 = _mm512_fmadd_ps(a9, m, c), a10 = _mm512_fmadd_ps(a10, m, c), a11 = _mm512_fmadd_ps(a11, m, c);
    // Keeps the compiler from collapsing the loop.
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));
    __asm__ volatile("" : "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
  }
  const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                 _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)),
                                               _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
  return _mm512_cvtss_f32(s);
}

// The integer GEMM's inner pair, 12 independent chains: s = s + maddubs(w, b_i)
// (saturating 16-bit add, as in the kernel). Each chain starts from its own value and
// passes through an empty asm every step: chains with the same start and operands are
// one chain to the compiler (an earlier version ran 6 instructions per step while
// counting 12, and reported twice the rate).
__attribute__((target("avx2"))) int64_t maddubs_chains(int64_t iters) {
  const __m256i w = _mm256_set1_epi8(3);
  __m256i b0 = _mm256_set1_epi8(1), b1 = _mm256_set1_epi8(-1), b2 = _mm256_set1_epi8(2);
  __m256i s0 = _mm256_set1_epi16(0), s1 = _mm256_set1_epi16(1), s2 = _mm256_set1_epi16(2), s3 = _mm256_set1_epi16(3),
          s4 = _mm256_set1_epi16(4), s5 = _mm256_set1_epi16(5), s6 = _mm256_set1_epi16(6), s7 = _mm256_set1_epi16(7),
          s8 = _mm256_set1_epi16(8), s9 = _mm256_set1_epi16(9), s10 = _mm256_set1_epi16(10),
          s11 = _mm256_set1_epi16(11);
  for (int64_t i = 0; i < iters; ++i) {
    // The empty asm between groups makes b0..b2 new values each time, so all 12
    // products are computed (the compiler would compute each distinct one once).
    s0 = _mm256_adds_epi16(s0, _mm256_maddubs_epi16(w, b0)), s1 = _mm256_adds_epi16(s1, _mm256_maddubs_epi16(w, b1));
    s2 = _mm256_adds_epi16(s2, _mm256_maddubs_epi16(w, b2));
    __asm__ volatile("" : "+x"(b0), "+x"(b1), "+x"(b2));
    s3 = _mm256_adds_epi16(s3, _mm256_maddubs_epi16(w, b0)), s4 = _mm256_adds_epi16(s4, _mm256_maddubs_epi16(w, b1));
    s5 = _mm256_adds_epi16(s5, _mm256_maddubs_epi16(w, b2));
    __asm__ volatile("" : "+x"(b0), "+x"(b1), "+x"(b2));
    s6 = _mm256_adds_epi16(s6, _mm256_maddubs_epi16(w, b0)), s7 = _mm256_adds_epi16(s7, _mm256_maddubs_epi16(w, b1));
    s8 = _mm256_adds_epi16(s8, _mm256_maddubs_epi16(w, b2));
    __asm__ volatile("" : "+x"(b0), "+x"(b1), "+x"(b2));
    s9 = _mm256_adds_epi16(s9, _mm256_maddubs_epi16(w, b0)), s10 = _mm256_adds_epi16(s10, _mm256_maddubs_epi16(w, b1));
    s11 = _mm256_adds_epi16(s11, _mm256_maddubs_epi16(w, b2));
    __asm__ volatile("" : "+x"(b0), "+x"(b1), "+x"(b2));
    __asm__ volatile("" : "+x"(s0), "+x"(s1), "+x"(s2), "+x"(s3), "+x"(s4), "+x"(s5));
    __asm__ volatile("" : "+x"(s6), "+x"(s7), "+x"(s8), "+x"(s9), "+x"(s10), "+x"(s11));
  }
  __m256i t = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(s0, s1), _mm256_add_epi16(s2, s3)),
                               _mm256_add_epi16(_mm256_add_epi16(s4, s5), _mm256_add_epi16(s6, s7)));
  t = _mm256_add_epi16(t, _mm256_add_epi16(_mm256_add_epi16(s8, s9), _mm256_add_epi16(s10, s11)));
  return _mm256_extract_epi16(t, 0);
}

// The VNNI integer GEMM's instruction, 12 independent chains: s = s + dpbusd(w, b_i),
// 512-bit (64 multiply-adds each) as the GEMM runs it; distinct starts and the empty
// asm as above.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2"))) int64_t dpbusd_chains(int64_t iters) {
  const __m512i w = _mm512_set1_epi8(3);
  const __m512i b0 = _mm512_set1_epi8(1), b1 = _mm512_set1_epi8(-1), b2 = _mm512_set1_epi8(2);
  __m512i s0 = _mm512_set1_epi32(0), s1 = _mm512_set1_epi32(1), s2 = _mm512_set1_epi32(2), s3 = _mm512_set1_epi32(3),
          s4 = _mm512_set1_epi32(4), s5 = _mm512_set1_epi32(5), s6 = _mm512_set1_epi32(6), s7 = _mm512_set1_epi32(7),
          s8 = _mm512_set1_epi32(8), s9 = _mm512_set1_epi32(9), s10 = _mm512_set1_epi32(10),
          s11 = _mm512_set1_epi32(11);
  for (int64_t i = 0; i < iters; ++i) {
    s0 = _mm512_dpbusd_epi32(s0, w, b0), s1 = _mm512_dpbusd_epi32(s1, w, b1), s2 = _mm512_dpbusd_epi32(s2, w, b2);
    s3 = _mm512_dpbusd_epi32(s3, w, b0), s4 = _mm512_dpbusd_epi32(s4, w, b1), s5 = _mm512_dpbusd_epi32(s5, w, b2);
    s6 = _mm512_dpbusd_epi32(s6, w, b0), s7 = _mm512_dpbusd_epi32(s7, w, b1), s8 = _mm512_dpbusd_epi32(s8, w, b2);
    s9 = _mm512_dpbusd_epi32(s9, w, b0), s10 = _mm512_dpbusd_epi32(s10, w, b1), s11 = _mm512_dpbusd_epi32(s11, w, b2);
    __asm__ volatile("" : "+v"(s0), "+v"(s1), "+v"(s2), "+v"(s3), "+v"(s4), "+v"(s5));
    __asm__ volatile("" : "+v"(s6), "+v"(s7), "+v"(s8), "+v"(s9), "+v"(s10), "+v"(s11));
  }
  __m512i t = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3)),
                               _mm512_add_epi32(_mm512_add_epi32(s4, s5), _mm512_add_epi32(s6, s7)));
  t = _mm512_add_epi32(t, _mm512_add_epi32(_mm512_add_epi32(s8, s9), _mm512_add_epi32(s10, s11)));
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, t);
  return lanes[0];
}

// Best of 3 runs of `chain` on every pool thread at once; returns seconds.
template <typename Fn>
double best_of_3(ThreadPool& pool, Fn chain) {
  double best = 1e30;
  std::vector<double> sink(static_cast<size_t>(pool.size()));
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.for_each_thread([&](int t) { sink[static_cast<size_t>(t)] += static_cast<double>(chain()); });
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

}  // namespace

int64_t sum_bytes(const char* p, size_t n) {
  static const bool kAvx2 = best_isa() != Isa::kScalar;
  return kAvx2 ? sum_bytes_avx2(p, n) : sum_bytes_scalar(p, n);
}

MachinePeaks measure_machine_peaks(ThreadPool& pool) {
  MachinePeaks p;
  p.threads = pool.size();
  const bool avx2 = best_isa() != Isa::kScalar, vnni = avx2 && gemm::int8_vnni_default();
  const bool wide = avx2 && gemm::f32_avx512_default();  // the f32 GEMM's 512-bit kernel
  // Read bandwidth over 256 MiB (far past any cache), touched first so page faults
  // are not counted; the buffer goes back to the OS at the end.
  const size_t n = size_t{256} << 20;
  auto buf = VirtualBuffer::reserve(n);
  if (buf.ok()) {
    char* b = buf->as<char>();
    pool.parallel_for(static_cast<int64_t>(n / 4096), 1, [&](int64_t p0, int64_t p1, int) {
      for (int64_t pg = p0; pg < p1; ++pg) std::fill_n(b + pg * 4096, 4096, static_cast<char>(pg));
    });
    const int64_t lines = static_cast<int64_t>(n / 128);
    double best = 1e30;
    std::vector<int64_t> sink(static_cast<size_t>(pool.size()));
    for (int rep = 0; rep < 6; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      pool.parallel_for(lines, 1024, [&](int64_t l0, int64_t l1, int t) {
        const char* q = b + l0 * 128;
        const size_t len = static_cast<size_t>(l1 - l0) * 128;
        sink[static_cast<size_t>(t)] += sum_bytes(q, len);
      });
      const double dt = seconds_since(t0);
      if (rep > 0) best = std::min(best, dt);  // pass 0 warms
    }
    p.read_gb_s = static_cast<double>(n) / best / 1e9;
  }
  if (avx2) {
    const int64_t iters = 4'000'000;  // 48 M FMA (or maddubs + add) instructions per thread
    // The FMA width the f32 GEMM runs: 512-bit where it takes the AVX-512 kernel.
    p.fma_gflop_s = wide ? static_cast<double>(pool.size()) * iters * 12 * 32 /
                               best_of_3(pool, [&] { return fma_chains_512(iters); }) / 1e9
                         : static_cast<double>(pool.size()) * iters * 12 * 16 /
                               best_of_3(pool, [&] { return fma_chains(iters); }) / 1e9;
    // The instruction the integer GEMM runs here: vpdpbusd where it takes the VNNI kernels.
    // Operations (2 per multiply-add) per instruction: 512-bit vpdpbusd 128, maddubs 64.
    p.int8_gop_s = static_cast<double>(pool.size()) * iters * 12 * (vnni ? 128 : 64) /
                   (vnni ? best_of_3(pool, [&] { return dpbusd_chains(iters); })
                         : best_of_3(pool, [&] { return maddubs_chains(iters); })) /
                   1e9;
  }
  const int64_t pf = stream_prefetch_bytes();
  const std::string read =
      std::string("read: ") + (avx2 ? "AVX2" : "scalar") + " loads over 256 MiB split across the threads" +
      (avx2 && pf ? ", prefetched " + std::to_string(pf) + " bytes ahead as the GEMVs are" : "") + ", best of 5; ";
  const std::string fma = wide ? "FMA: 12 independent 16-wide (512-bit) f32 FMA chains per thread, best of 3; "
                               : "FMA: 12 independent 8-wide f32 FMA chains per thread, best of 3; ";
  p.method =
      read + (!avx2 ? std::string("FMA and int8: not measured (no AVX2)")
              : vnni
                  ? fma + "int8: 12 independent 512-bit vpdpbusd chains per thread (the VNNI integer GEMM), best of 3"
                  : fma + "int8: 12 independent maddubs + 16-bit add chains per thread, best of 3");
  return p;
}

}  // namespace qasr
