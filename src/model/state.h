// The run state the forward passes need, each part sized once from the config and a
// worst case (so nothing is allocated per token or per frame):
//   EncoderScratch  activations of the audio encoder for up to `max_tokens` audio tokens
//                   and the conv stem's per-chunk buffers;
//   KvCache         keys and values of every decoder layer, f16 or f32,
//                   laid out [layer][kv_head][pos][head_dim];
//   DecoderState    the decoder's activations for up to `max_rows` rows per forward call
//                   (the prompt in prefill, 1 in decode), the head's output, and a KvCache.
// Each owns one VirtualBuffer (MAP_NORESERVE): only what a request touches becomes
// resident, and release_pages() gives it back. Not thread-safe: one user at a time.
#pragma once

#include <cstdint>

#include "base/mapped_file.h"
#include "base/status.h"
#include "model/config.h"

namespace qasr {

struct EncoderScratch {
  // Chunks whose conv_out rows run as one GEMM: one chunk's 13 rows leave the GEMM
  // converting (or repacking) weights more than multiplying (bench_kernels BM_Gemm
  // M 13 / 104, N 896, K 7680, bf16: 72 / 142 GFLOP/s); 8 chunks (3.2 MB of feat for
  // the real configs) are an attention window's worth.
  static constexpr int64_t kConvOutChunks = 8;

  // [N][d] activations (N = max_tokens): x residual, ln normed, q/k/v, attention output;
  // ffn [N][max(ffn, d)]; out [N][output_dim], the encoder's result.
  float *x = nullptr, *ln = nullptr, *q = nullptr, *k = nullptr, *v = nullptr, *attn = nullptr, *ffn = nullptr,
        *out = nullptr;
  // One chunk of the conv stem (HWC): conv_in [mel][chunk], im2col col, a1..a3 after each
  // conv; feat [kConvOutChunks · W3][C·F3], the valid tokens of up to kConvOutChunks
  // chunks flattened for one conv_out GEMM.
  float *conv_in = nullptr, *col = nullptr, *a1 = nullptr, *a2 = nullptr, *a3 = nullptr, *feat = nullptr;
  int64_t max_tokens = 0;

  static Expected<EncoderScratch> create(const AudioConfig& a, int64_t max_tokens);
  size_t reserved_bytes() const { return mem_.size(); }
  int64_t resident_bytes() const { return mem_.resident_bytes(); }
  void release_pages() { mem_.release_pages(); }

 private:
  VirtualBuffer mem_;
};

class KvCache {
 public:
  static Expected<KvCache> create(const TextConfig& t, int64_t max_positions, bool f16);
  // Stores position `pos` of KV head `kh` in layer `layer` (hd floats each).
  void store(int layer, int64_t kh, int64_t pos, const float* k, const float* v);
  bool f16() const { return k16_ != nullptr; }
  // Layer views: KV head kh at base + kh·head_stride(), position j at + j·head_dim.
  const uint16_t* k16(int layer) const { return k16_ + layer_offset(layer); }
  const uint16_t* v16(int layer) const { return v16_ + layer_offset(layer); }
  const float* k32(int layer) const { return k32_ + layer_offset(layer); }
  const float* v32(int layer) const { return v32_ + layer_offset(layer); }
  int64_t head_stride() const { return max_positions_ * head_dim_; }
  int64_t max_positions() const { return max_positions_; }
  size_t reserved_bytes() const { return mem_.size(); }
  int64_t resident_bytes() const { return mem_.resident_bytes(); }
  void release_pages() { mem_.release_pages(); }

 private:
  size_t layer_offset(int layer) const { return static_cast<size_t>(layer) * kv_heads_ * head_stride(); }
  VirtualBuffer mem_;
  uint16_t *k16_ = nullptr, *v16_ = nullptr;
  float *k32_ = nullptr, *v32_ = nullptr;
  int64_t kv_heads_ = 0, head_dim_ = 0, max_positions_ = 0;
};

struct DecoderState {
  // [R][·] rows of one forward call (R = max_rows): x residual / hidden states, a normed,
  // q [R][H·hd], k/v [R][KV·hd], attn [R][H·hd], o [R][h], gate/up [R][I].
  float *x = nullptr, *a = nullptr, *q = nullptr, *k = nullptr, *v = nullptr, *attn = nullptr, *o = nullptr,
        *gate = nullptr, *up = nullptr;
  float* logits = nullptr;                         // [head_rows]: vocabulary or timestamp classes
  float* probs = nullptr;                          // [head_rows]: softmax scratch for sampling / log-probs
  float *rope_cos = nullptr, *rope_sin = nullptr;  // [R][hd/2], the rows' positions
  int64_t max_rows = 0;
  KvCache kv;

  static Expected<DecoderState> create(const ModelConfig& c, int64_t max_rows, int64_t max_positions, bool kv_f16);
  size_t reserved_bytes() const { return mem_.size() + kv.reserved_bytes(); }
  int64_t resident_bytes() const { return mem_.resident_bytes() + kv.resident_bytes(); }
  void release_pages() {
    mem_.release_pages();
    kv.release_pages();
  }

 private:
  VirtualBuffer mem_;
};

}  // namespace qasr
