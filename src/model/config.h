// Model hyper-parameters, read from the official config.json (thinker_config →
// audio_config / text_config) or a model file's metadata. Never hard-coded for one
// size (spec §3.1, §4.1, P9). Also the one home of the shape arithmetic that follows
// from them (conv output lengths, audio-token counts, attention windows), so the
// encoder, the session sizing and the benchmarks cannot disagree.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace qasr {

// Qwen3-ASR (transcription: a vocabulary head) or Qwen3-ForcedAligner (one forward
// pass, a head of `classify_num` timestamp classes). Same encoder and decoder code.
enum class ModelKind : uint8_t { kAsr, kForcedAligner };
const char* model_kind_name(ModelKind k);  // "asr", "forced-aligner"

// Length after one 3×3, stride-2, padding-1 convolution: ceil(n / 2).
constexpr int64_t conv_out_len(int64_t n) {
  return (n + 1) / 2;
}
// After the encoder's three stride-2 convolutions (spec §3.3, §3.5):
// g(n) = ceil(ceil(ceil(n/2)/2)/2); g(0) = 0.
constexpr int64_t conv3_out_len(int64_t n) {
  return n <= 0 ? 0 : conv_out_len(conv_out_len(conv_out_len(n)));
}

struct AudioConfig {
  int num_mel_bins = 128;
  int conv_channels = 480;  // downsample_hidden_size
  int d_model = 0;
  int layers = 0;
  int heads = 0;
  int ffn = 0;
  int output_dim = 0;
  int n_window = 50;         // chunk = 2·n_window mel frames
  int n_window_infer = 800;  // attention window in mel frames
  int max_source_positions = 1500;
  int head_dim() const { return d_model / heads; }
  int chunk_frames() const { return 2 * n_window; }
  // Frequency rows after the 3 stride-2 convs: 128 → 64 → 32 → 16.
  int freq_after_conv() const { return static_cast<int>(conv3_out_len(num_mel_bins)); }
  // Tokens of one full chunk (13 for 100 frames) and of the attention window: the
  // tokens of the longest chunk × (n_window_infer / chunk) = 13 × 8 = 104 for the real
  // configs (spec §3.7). `longest_chunk_frames` = min(T, chunk).
  int64_t tokens_per_chunk() const { return conv3_out_len(chunk_frames()); }
  int64_t window_tokens(int64_t longest_chunk_frames) const {
    return conv3_out_len(longest_chunk_frames) * (n_window_infer / chunk_frames());
  }
};

struct TextConfig {
  int hidden = 0;
  int layers = 0;
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int intermediate = 0;
  int vocab = 0;
  float rms_eps = 1e-6f;
  double rope_theta = 1e6;
  int max_position = 65536;
  bool tie_word_embeddings = true;
};

struct ModelConfig {
  ModelKind kind = ModelKind::kAsr;
  AudioConfig audio;
  TextConfig text;
  int audio_token_id = -1;
  // Forced aligner only (spec §8.5): classes of the head, the <timestamp> id, ms per class.
  int classify_num = 0;
  int timestamp_token_id = -1;
  double timestamp_segment_ms = 0;
  // Rows of the output head: the vocabulary (ASR) or the timestamp classes (aligner).
  int head_rows() const { return kind == ModelKind::kAsr ? text.vocab : classify_num; }
};

// Parses config.json text (JSON depth-checked) and validates it.
Expected<ModelConfig> parse_model_config(const std::string& json_text);
// The consistency rules every config must meet (every division the model does must be
// exact, dims positive and bounded, the aligner's head present); used by every reader.
Status validate_model_config(const ModelConfig& c);

// Tokens the encoder produces for T mel frames (spec §3.5):
// 13·floor(T/100) + g(T mod 100).
int64_t audio_token_count(const AudioConfig& a, int64_t mel_frames);
// Mel frames of n 16 kHz samples (hop 160; the last STFT frame is dropped): n / 160.
constexpr int64_t mel_frames_for_samples(int64_t n) {
  return n / 160;
}

}  // namespace qasr
