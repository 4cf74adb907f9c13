// Run-time CPU dispatch for the fast kernels. Each kernel has a scalar reference
// (kernels/quant.h, ops.cc) and x86 variants built with target attributes:
// AVX2 (+FMA, F16C) as the baseline of a fast path, AVX-512 VNNI where present.
// QASR_ISA=scalar|avx2|avx512 forces a level (tests and benchmarks compare them).
#pragma once

#include <cstdint>

#include "kernels/quant.h"

namespace qasr {

enum class Isa { kScalar, kAvx2, kAvx512 };
const char* isa_name(Isa isa);
Isa best_isa();  // what this CPU supports, capped by QASR_ISA

struct QuantKernels {
  Isa isa;
  // Σ w·a over n (multiple of 32) elements, a quantized to q8_0.
  float (*dot_q4_0)(const BlockQ4_0* w, const BlockQ8_0* a, int64_t n);
  float (*dot_q8_0)(const BlockQ8_0* w, const BlockQ8_0* a, int64_t n);
  // Matrix-vector: y[r] = Σ W[r]·a for `rows` consecutive weight rows of n/32 blocks
  // (decode: one activation row against a block of weight rows). The q8_0 versions run
  // four rows at once (each activation block loaded once per four rows, four accumulator
  // chains, the rows prefetched ahead); the q4_0 versions go one row at a time, the
  // activation laid out once per call in the weights' lane order.
  void (*gemv_q4_0)(const BlockQ4_0* w, int64_t rows, const BlockQ8_0* a, int64_t n, float* y);
  void (*gemv_q8_0)(const BlockQ8_0* w, int64_t rows, const BlockQ8_0* a, int64_t n, float* y);
  // Activation quantization, bit-identical to quantize_q8_0 (round half away from zero).
  void (*quantize_q8_0)(const float* x, BlockQ8_0* y, int64_t n);
  // Weight dequantization for the GEMM path, bit-identical to dequantize_q4_0.
  void (*dequantize_q4_0)(const BlockQ4_0* x, float* y, int64_t n);
};

// Kernels for a given level (falls back to a lower one when the CPU lacks it).
const QuantKernels& quant_kernels(Isa isa);
// The process-wide choice (best_isa()), fixed on first use.
const QuantKernels& quant_kernels();

// How far ahead (bytes) the one-row-at-a-time GEMVs (q4_0, bf16/f16) prefetch their
// single stream of weights into L2; 0: leave it to the hardware prefetcher. Chosen by
// CPU vendor, as measured (see dispatch.cc), fixed at start-up.
int64_t stream_prefetch_bytes();

}  // namespace qasr
