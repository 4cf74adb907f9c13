// Qwen3-ForcedAligner (spec §8.3, §8.5; official `Qwen3ForcedAligner.align` and
// `Qwen3ForceAlignProcessor` in qwen_asr/inference/qwen3_forced_aligner.py): word (or CJK
// character) times for a known transcript, by one non-autoregressive forward pass of the
// same encoder and decoder as ASR with a head of `classify_num` timestamp classes.
//
//   items      = the text split as encode_timestamp does: Python str.split() on whitespace,
//                each piece keeping only Unicode L*/N* characters and the ASCII apostrophe,
//                empty pieces dropped, every CJK ideograph its own item (kana and hangul are
//                not in those ranges). Japanese and Korean use the official nagisa/soynlp
//                word segmenters, which qasr does not have: it applies the same rule to them.
//   input ids  = <|audio_start|> <|audio_pad|>×N <|audio_end|> then, per item, its tokens and
//                <timestamp><timestamp> (no chat template, no spaces);
//   classes    = argmax of the head's logits at every <timestamp> position; entry 2i is item
//                i's start, 2i + 1 its end; ms = class × timestamp_segment_time;
//   fix        = fix_timestamp(): one longest non-decreasing subsequence (O(n²) DP), runs of
//                ≤ 2 outliers take their nearer neighbour, longer runs are interpolated;
//   seconds    = round(ms / 1000, 3).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audio/audio.h"
#include "base/cancel.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "model/model.h"

namespace qasr {

struct AlignedWord {
  std::string text;
  double start = 0, end = 0;  // seconds, rounded to ms
};

struct AlignResult {
  std::vector<AlignedWord> words;
  std::vector<int32_t> input_ids;
  std::vector<int64_t> raw_ms;          // class × segment time at each <timestamp>, before the fix
  std::vector<float> timestamp_logits;  // [n_timestamps][classify_num] when asked for
  int64_t n_timestamps = 0;
  double encoder_ms = 0, forward_ms = 0;  // timings
};

// The official text preprocessing (see above). For "Japanese" (whose official word
// segmenter, nagisa, qasr does not have) kana are also one item per character, as CJK
// ideographs are, so Japanese aligns per character.
std::vector<std::string> aligner_items(std::string_view text, std::string_view language = {});
// The official fix_timestamp on raw millisecond values.
std::vector<int64_t> fix_timestamps(const std::vector<double>& raw_ms);

struct AlignOptions {
  bool keep_logits = false;     // fill timestamp_logits (debug dumps)
  bool kv_f16 = true;           // the one pass's K/V in f16 (as ASR) or f32
  std::string language;         // canonical name or empty; only "Japanese" changes the text rule
  int64_t prefill_rows = 1024;  // rows per step of the pass (as SessionLimits::prefill_rows)
  RunControl control;
};

// Aligns `text` to `audio` with a forced-aligner model. InvalidArgument when the model is
// not an aligner, the text has no alignable item, or the text needs more positions than the
// model has.
Expected<AlignResult> align(const Model& aligner, ThreadPool& pool, const Pcm16k& audio, std::string_view text,
                            const AlignOptions& options = {});

}  // namespace qasr
