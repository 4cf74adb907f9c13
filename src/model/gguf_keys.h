// The GGUF metadata keys of a qasr model file and the config fields they hold: one
// table, read by the loader (model/source.cc) and written by the converter
// (convert/writers.cc), so the two cannot drift apart. Keys are "qwen3-asr." + suffix.
#pragma once

#include "model/config.h"

namespace qasr {

inline constexpr const char* kGgufArchitecture = "qwen3-asr";
inline constexpr const char* kGgufPrefix = "qwen3-asr.";
// String key holding model_kind_name() for the forced aligner (absent = ASR).
inline constexpr const char* kGgufModelKindKey = "qwen3-asr.model_kind";

struct GgufIntKey {
  const char* suffix;
  int* (*field)(ModelConfig&);
  bool aligner_only;  // written and required only for ModelKind::kForcedAligner
};
struct GgufFloatKey {
  const char* suffix;
  double (*get)(const ModelConfig&);
  void (*set)(ModelConfig&, double);
  bool aligner_only;
};

// The integer keys in file order.
inline constexpr GgufIntKey kGgufIntKeys[] = {
    {"context_length", [](ModelConfig& c) { return &c.text.max_position; }, false},
    {"embedding_length", [](ModelConfig& c) { return &c.text.hidden; }, false},
    {"block_count", [](ModelConfig& c) { return &c.text.layers; }, false},
    {"feed_forward_length", [](ModelConfig& c) { return &c.text.intermediate; }, false},
    {"attention.head_count", [](ModelConfig& c) { return &c.text.heads; }, false},
    {"attention.head_count_kv", [](ModelConfig& c) { return &c.text.kv_heads; }, false},
    {"attention.key_length", [](ModelConfig& c) { return &c.text.head_dim; }, false},
    {"vocab_size", [](ModelConfig& c) { return &c.text.vocab; }, false},
    {"audio.num_mel_bins", [](ModelConfig& c) { return &c.audio.num_mel_bins; }, false},
    {"audio.conv_channels", [](ModelConfig& c) { return &c.audio.conv_channels; }, false},
    {"audio.embedding_length", [](ModelConfig& c) { return &c.audio.d_model; }, false},
    {"audio.block_count", [](ModelConfig& c) { return &c.audio.layers; }, false},
    {"audio.attention.head_count", [](ModelConfig& c) { return &c.audio.heads; }, false},
    {"audio.feed_forward_length", [](ModelConfig& c) { return &c.audio.ffn; }, false},
    {"audio.output_dim", [](ModelConfig& c) { return &c.audio.output_dim; }, false},
    {"audio.n_window", [](ModelConfig& c) { return &c.audio.n_window; }, false},
    {"audio.n_window_infer", [](ModelConfig& c) { return &c.audio.n_window_infer; }, false},
    {"audio.max_source_positions", [](ModelConfig& c) { return &c.audio.max_source_positions; }, false},
    {"audio_token_id", [](ModelConfig& c) { return &c.audio_token_id; }, false},
    {"classify_num", [](ModelConfig& c) { return &c.classify_num; }, true},
    {"timestamp_token_id", [](ModelConfig& c) { return &c.timestamp_token_id; }, true},
};

inline constexpr GgufFloatKey kGgufFloatKeys[] = {
    {"attention.layer_norm_rms_epsilon", [](const ModelConfig& c) { return static_cast<double>(c.text.rms_eps); },
     [](ModelConfig& c, double v) { c.text.rms_eps = static_cast<float>(v); }, false},
    {"rope.freq_base", [](const ModelConfig& c) { return c.text.rope_theta; },
     [](ModelConfig& c, double v) { c.text.rope_theta = v; }, false},
    {"timestamp_segment_time", [](const ModelConfig& c) { return c.timestamp_segment_ms; },
     [](ModelConfig& c, double v) { c.timestamp_segment_ms = v; }, true},
};

}  // namespace qasr
