// Log-mel features exactly as spec §2.2 (the Whisper-v3 recipe used by Qwen3-ASR):
// periodic Hann(400), hop 160, reflect padding of n_fft/2 at both ends, one-sided
// power spectrum, last STFT frame dropped, Slaney mel filters (0–8 kHz, Slaney
// norm), log10 with a 1e-10 floor, clamp at (global max − 8), then (x + 4) / 4.
// No 30 s padding and no truncation.
//
// The STFT is a DFT-as-GEMM in float64 (frames × [n_fft → 2·bins] basis): n_fft=400
// is not a power of two, the cost is ~0.2 GFLOP per second of audio... far below
// the encoder's, and float64 keeps the result within 1e-6 of a float64 reference.
#pragma once

#include <span>
#include <vector>

#include "base/status.h"

namespace qasr {

struct MelConfig {
  int sample_rate = 16000;
  int n_fft = 400;
  int hop = 160;
  int n_mels = 128;
  double f_min = 0.0;
  double f_max = 8000.0;
};

// Log-mel spectrogram of one utterance.
struct LogMel {
  int n_mels = 0;
  int n_frames = 0;
  std::vector<float> data;  // [n_mels][n_frames], mel-major (as the official (128, T) array)
  const float* row(int m) const { return data.data() + static_cast<size_t>(m) * n_frames; }
};

// Holds the precomputed window, DFT basis and filterbank. Immutable after
// construction; compute() is thread-safe.
class MelExtractor {
 public:
  explicit MelExtractor(const MelConfig& config = {});

  // Needs more than n_fft/2 samples (reflect padding) and at least one frame; fewer is an
  // error (callers treat such audio as silence: enough_samples()).
  bool enough_samples(size_t n) const {
    return n > static_cast<size_t>(config_.n_fft / 2) && n >= static_cast<size_t>(config_.hop);
  }
  Expected<LogMel> compute(std::span<const float> pcm) const;

  const MelConfig& config() const { return config_; }
  int n_bins() const { return config_.n_fft / 2 + 1; }
  // Slaney filterbank, [n_bins][n_mels], float64 (exposed for tests).
  const std::vector<double>& filters() const { return filters_; }

 private:
  MelConfig config_;
  std::vector<double> basis_;    // [n_fft][2 * n_bins]: window·cos, −window·sin interleaved (re, im)
  std::vector<double> filters_;  // [n_bins][n_mels]
};

// Slaney mel filterbank as HF `mel_filter_bank(..., norm="slaney", mel_scale="slaney")`.
std::vector<double> slaney_mel_filters(int n_bins, int n_mels, double f_min, double f_max, int sample_rate);

}  // namespace qasr
