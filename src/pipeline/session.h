// Per-request state: the model's run state (encoder scratch, decoder activations and
// KV cache; model/state.h) sized once from the session's limits, so only what a request
// touches becomes resident and nothing is allocated per token. Reusable after reset().
//
// Thread contract: a Session is used by one thread at a time. Several sessions may
// share one Model (immutable) on different threads at once, each with its own
// ThreadPool (a pool runs one parallel_for at a time).
#pragma once

#include <cstdint>
#include <memory>

#include "base/status.h"
#include "model/model.h"
#include "model/state.h"

namespace qasr {

// Prompt rows per prefill step (default): activations for this many rows (about 60 MiB on
// the 0.6B model, 120 MiB on the 1.7B) whatever the audio length; the KV cache holds them all.
inline constexpr int64_t kPrefillRows = 1024;

struct SessionLimits {
  double max_audio_seconds = 1200.0;  // the official single-pass limit
  int max_new_tokens = 4096;
  int max_context_tokens = 2048;        // tokens of --context text (or the aligner's words)
  bool kv_f16 = true;                   // KV cache as f16 (default, as ggml) or f32 (the exact path)
  int64_t prefill_rows = kPrefillRows;  // prompt rows per prefill step (tests vary it)

  // The limits a tool sizes for one clip of `audio_seconds`: at least 30 s (so short
  // clips share a size), else the clip plus 1 s.
  static SessionLimits for_audio(double audio_seconds, int max_new_tokens);
};

class Session {
 public:
  static Expected<std::unique_ptr<Session>> create(const std::shared_ptr<const Model>& model,
                                                   const SessionLimits& limits = {});
  // Drops what the last request made resident (KV cache and scratch pages).
  void reset();

  const Model& model() const { return *model_; }
  const std::shared_ptr<const Model>& model_ptr() const { return model_; }
  const SessionLimits& limits() const { return limits_; }
  int64_t max_audio_tokens() const { return enc.max_tokens; }
  int64_t max_prompt_tokens() const { return max_prompt_; }
  int64_t max_positions() const { return dec.kv.max_positions(); }
  // Bytes of address space reserved (KV cache + scratch).
  size_t reserved_bytes() const { return enc.reserved_bytes() + dec.reserved_bytes() + generated_.size(); }
  size_t kv_cache_bytes() const { return dec.kv.reserved_bytes(); }
  // Bytes of the reservations resident now: the working set of the request so far.
  int64_t resident_bytes() const { return enc.resident_bytes() + dec.resident_bytes() + generated_.resident_bytes(); }

  EncoderScratch enc;
  DecoderState dec;
  int32_t* generated = nullptr;         // [max_new_tokens] ids
  float* generated_logprobs = nullptr;  // [max_new_tokens] their log-probabilities

 private:
  Session() = default;
  std::shared_ptr<const Model> model_;
  SessionLimits limits_;
  int64_t max_prompt_ = 0;
  VirtualBuffer generated_;
};

}  // namespace qasr
