// The whole flow, top to bottom: PCM → log-mel → encoder → prompt with audio rows
// → prefill → greedy decode with the KV cache → text → parse (spec §11).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "audio/audio.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "pipeline/session.h"

namespace qasr {

struct TranscribeOptions {
  std::string language;        // canonical name ("English"); empty = detect
  std::string context;         // system-turn text (hotwords, background)
  int max_new_tokens = 4096;
  bool ignore_eos = false;     // keep generating until max_new_tokens (for checks)
  std::string dump_dir;        // if set: mel.npy, encoder_out.npy, logits_step0.npy, prompt_ids.json
};

// Milliseconds per stage (the keys of `--json` timings_ms).
struct Timings {
  double load = 0, audio = 0, mel = 0, encoder = 0, prefill = 0, decode = 0, first_token = 0, total = 0;
};

struct Transcript {
  std::string text;       // parsed transcript
  std::string language;   // parsed or forced language ("" if none)
  std::string raw;        // decoded generated text before parsing
  std::vector<int32_t> token_ids;   // generated ids, without the stop id
  std::vector<int32_t> prompt_ids;
  int64_t n_audio_tokens = 0;
  Timings timings;        // audio/load are filled by the caller
};

// Called with transcript text pieces as soon as they form whole UTF-8 characters
// (only the part after <asr_text>, or everything when the language is forced).
using TextCallback = std::function<void(std::string_view)>;

Expected<Transcript> transcribe(Session& session, ThreadPool& pool, const Pcm16k& audio,
                                const TranscribeOptions& options, const TextCallback& on_text = {});

}  // namespace qasr
