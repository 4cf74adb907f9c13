// Model hyper-parameters, read from the official config.json (thinker_config →
// audio_config / text_config). Never hard-coded for one size (spec §3.1, §4.1, P9).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace qasr {

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
  int freq_after_conv() const { return (((num_mel_bins + 1) / 2 + 1) / 2 + 1) / 2; }
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
  AudioConfig audio;
  TextConfig text;
  int audio_token_id = -1;
};

Expected<ModelConfig> parse_model_config(const std::string& json_text);

// Tokens the encoder produces for T mel frames (spec §3.5):
// 13·floor(T/100) + g(T mod 100), g(r) = ceil(ceil(ceil(r/2)/2)/2).
int64_t audio_token_count(const AudioConfig& a, int64_t mel_frames);

}  // namespace qasr
