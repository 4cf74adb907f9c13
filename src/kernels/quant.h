// ggml block quantization formats, bit-compatible with ggml's scalar reference
// (spec chatllm-format.md §2.5), so chatllm.cpp and GGUF tensors are used in place.
//   q8_0: f16 scale d + 32 × int8;            value = q · d          (34 bytes / 32 weights)
//   q4_0: f16 scale d + 16 bytes of nibbles;  value = (nibble − 8) · d (18 bytes / 32 weights)
//         weight j (0..15) = low nibble of qs[j], weight j + 16 = high nibble of qs[j].
#pragma once

#include <cstddef>
#include <cstdint>

namespace qasr {

inline constexpr int kQK = 32;  // weights per block

struct BlockQ8_0 {
  uint16_t d;  // f16
  int8_t qs[kQK];
};
struct BlockQ4_0 {
  uint16_t d;  // f16
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block must be 34 bytes");
static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block must be 18 bytes");

// n must be a multiple of 32.
void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t n);

// Σ over n (multiple of 32) of w·a with `a` already quantized to q8_0, as ggml's
// vec_dot: per block an exact integer sum, scaled by d_w·d_a and summed in f32.
float dot_q8_0_q8_0(const BlockQ8_0* w, const BlockQ8_0* a, int64_t n);
float dot_q4_0_q8_0(const BlockQ4_0* w, const BlockQ8_0* a, int64_t n);

}  // namespace qasr
