// Per-request state: the KV cache and every scratch buffer, reserved once from the
// session's limits as virtual memory (MAP_NORESERVE), so only what a request
// touches becomes resident and nothing is allocated per token. Reusable after
// reset(); one thread at a time.
#pragma once

#include <cstdint>
#include <memory>

#include "base/mapped_file.h"
#include "base/status.h"
#include "model/model.h"

namespace qasr {

struct SessionLimits {
  double max_audio_seconds = 1200.0;  // the official single-pass limit
  int max_new_tokens = 4096;
  int max_context_tokens = 2048;      // tokens of --context text
  bool kv_f16 = true;                 // KV cache as f16 (default, as ggml) or f32 (the exact path)
};

class Session {
 public:
  static Expected<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model, const SessionLimits& limits = {});
  // Drops what the last request made resident (KV cache and scratch pages).
  void reset();

  const Model& model() const { return *model_; }
  const SessionLimits& limits() const { return limits_; }
  int64_t max_audio_tokens() const { return max_audio_tokens_; }
  int64_t max_prompt_tokens() const { return max_prompt_tokens_; }
  int64_t max_positions() const { return max_positions_; }
  // Bytes of address space reserved (KV cache + scratch).
  size_t reserved_bytes() const;
  size_t kv_cache_bytes() const { return kv_.size(); }

  // Buffers, each sized for the worst case (floats unless noted).
  struct Encoder {
    float *x, *ln, *q, *k, *v, *attn, *ffn, *out;  // [N][d] ([N][ffn] for ffn, [N][out] for out)
    float *conv_in, *col, *a1, *a2, *a3, *feat, *chunk_out;
  } enc;
  struct Decoder {
    float *x, *a, *q, *k, *v, *attn, *o, *gate, *up, *logits;
    float *rope_cos, *rope_sin;  // [L][head_dim/2] for the rows of the current forward call
    // [layer][kv_head][pos][hd], f16 (k16/v16) or f32 (k32/v32) per SessionLimits::kv_f16.
    uint16_t *k16 = nullptr, *v16 = nullptr;
    float *k32 = nullptr, *v32 = nullptr;
  } dec;
  int32_t* generated = nullptr;  // [max_new_tokens]

 private:
  Session() = default;
  std::shared_ptr<const Model> model_;
  SessionLimits limits_;
  int64_t max_audio_tokens_ = 0, max_prompt_tokens_ = 0, max_positions_ = 0;
  VirtualBuffer scratch_, kv_;
};

}  // namespace qasr
