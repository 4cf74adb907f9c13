// The whole flow, top to bottom: PCM → log-mel → encoder → prompt with audio rows
// → prefill → decode with the KV cache (greedy, or sampled at a temperature) → text →
// parse (spec §11). Stoppable: options.control (cancel flag, deadline) is checked
// between stages, per encoder chunk and layer, per prefill layer and per decode step,
// and the text callback may ask to stop; the session stays reusable afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "audio/audio.h"
#include "base/cancel.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "pipeline/session.h"

namespace qasr {

struct TranscribeOptions {
  std::string language;  // canonical name ("English"); empty = detect
  std::string context;   // system-turn text (hotwords, background); always plain text
  int max_new_tokens = 4096;
  bool ignore_eos = false;  // keep generating until max_new_tokens (for checks)
  float temperature = 0;    // 0 = greedy (argmax); > 0 samples softmax(logits / T)
  uint64_t seed = 0;        // sampling seed: the same seed gives the same tokens
  std::string dump_dir;     // if set: mel.npy, encoder_out.npy, logits_step0.npy, prompt_ids.json
  RunControl control;       // cancel flag and deadline
};

// Milliseconds per stage (the keys of `--json` timings_ms).
struct Timings {
  double load = 0, audio = 0, mel = 0, encoder = 0, prefill = 0, decode = 0, first_token = 0, total = 0;
};

struct Transcript {
  std::string text;                   // parsed transcript
  std::string language;               // parsed or forced language ("" if none)
  std::string raw;                    // decoded generated text before parsing
  bool no_speech = false;             // the model said "language None" (silence), or the audio was too short
  std::vector<int32_t> token_ids;     // generated ids, without the stop id
  std::vector<float> token_logprobs;  // log-probability of each generated id (log-softmax of the logits)
  std::vector<int32_t> prompt_ids;
  int64_t n_audio_tokens = 0;
  Timings timings;  // audio/load are filled by the caller
};

// Called with transcript text pieces as soon as they form whole UTF-8 characters
// (only the part after <asr_text>, or everything when the language is forced).
// Return false to stop: transcribe() then returns Cancelled.
using TextCallback = std::function<bool(std::string_view)>;

Expected<Transcript> transcribe(Session& session, ThreadPool& pool, const Pcm16k& audio,
                                const TranscribeOptions& options, const TextCallback& on_text = {});

}  // namespace qasr
