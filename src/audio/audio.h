// Audio input (spec §2.1): any file libsndfile can decode (WAV, FLAC, Ogg Vorbis,
// Opus, MP3, ...) or raw PCM from memory → Pcm16k: 16 kHz mono float32 in [-1, 1].
//
// Steps, as the official transcribe() path: decode to float, average channels,
// resample to 16 kHz with libsoxr (high quality, like librosa's soxr_hq), then
// peak safety (divide by max|x| if it exceeds 1) and clip to [-1, 1].
// Does not: pad, trim, normalise loudness, or apply VAD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace qasr {

inline constexpr int kSampleRate = 16000;

// 16 kHz mono float32 samples in [-1, 1].
struct Pcm16k {
  std::vector<float> samples;
  double seconds() const { return static_cast<double>(samples.size()) / kSampleRate; }
};

struct AudioLimits {
  // Decoding stops with an error past this duration (guards against huge or
  // hostile files; the model's single-pass limit is 1200 s).
  double max_seconds = 4 * 3600.0;
};

// Decodes an audio file. Errors name the file and the detected format.
Expected<Pcm16k> load_audio_file(const std::string& path, const AudioLimits& limits = {});

// Decodes an encoded audio file held in memory (e.g. an HTTP upload). `name` is
// used in error messages only.
Expected<Pcm16k> decode_audio_memory(std::span<const uint8_t> bytes, const std::string& name,
                                     const AudioLimits& limits = {});

// Interleaved float PCM at any rate and channel count → Pcm16k (the shared tail of
// every path above).
Expected<Pcm16k> pcm_from_float(std::span<const float> interleaved, int sample_rate, int channels);

// Raw 16 kHz mono PCM from memory (the server's streaming input).
Expected<Pcm16k> pcm16k_from_f32(std::span<const float> samples);  // peak safety applied
Pcm16k pcm16k_from_s16(std::span<const int16_t> samples);          // x / 32768, as the official code

}  // namespace qasr
