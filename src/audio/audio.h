// Audio input (spec §2.1): any file libsndfile can decode (WAV, FLAC, Ogg Vorbis,
// Opus, MP3, ...) or raw PCM from memory → Pcm16k: 16 kHz mono float32 in [-1, 1].
//
// Steps, as the official transcribe() path: decode to float, average channels,
// resample to 16 kHz with libsoxr (high quality, like librosa's soxr_hq), then
// peak safety (divide by max|x| if it exceeds 1) and clip to [-1, 1].
// Does not: pad, trim, normalise loudness, or apply VAD.
//
// Memory: AudioStream decodes block by block and resamples as it goes (soxr's streaming
// interface, bit-identical to its one-shot call), so what is held is the 16 kHz mono
// output, never the file's own rate and channel count (a 192 kHz 8-channel FLAC costs
// what its 16 kHz mono version costs). A duration the header states is checked against
// the limit before anything is decoded; a stream without one is cut off at the limit.
// A valid file without samples decodes to empty audio (silence), not an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
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
  // Decoding stops with TooLarge past this duration (guards against huge or hostile
  // files; the model's single-pass limit is 1200 s, longer audio is split).
  double max_seconds = 4 * 3600.0;
};

// What the container says.
struct AudioInfo {
  std::string format;  // "WAV", "FLAC", "Ogg Vorbis", "Opus", "MP3", ...
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = -1;  // -1 when the header does not say (MP3, streamed WAV)
  double seconds() const { return frames >= 0 && sample_rate > 0 ? static_cast<double>(frames) / sample_rate : -1; }
};

// A decoder yielding 16 kHz mono samples (before peak safety) in blocks.
class AudioStream {
 public:
  // `path` must be a regular file (FIFOs and devices are refused before any open that
  // could block).
  static Expected<std::unique_ptr<AudioStream>> open_file(const std::string& path, const AudioLimits& limits = {});
  // An encoded file held in memory (an HTTP upload); `bytes` must outlive the stream.
  // `name` is used in messages only.
  static Expected<std::unique_ptr<AudioStream>> open_memory(std::span<const uint8_t> bytes, const std::string& name,
                                                            const AudioLimits& limits = {});
  ~AudioStream();
  AudioStream(const AudioStream&) = delete;
  AudioStream& operator=(const AudioStream&) = delete;

  const AudioInfo& info() const;
  const std::string& name() const;
  // Appends up to `max_samples` (≥ 1) samples to `out`; returns how many (0 at the end).
  // The total equals ceil(frames · 16000 / rate), as librosa's resampler.
  Expected<size_t> read(std::vector<float>& out, size_t max_samples);
  // Starts again from the first sample (a second pass).
  Status rewind();
  // 16 kHz samples produced so far.
  int64_t produced() const;

  struct Impl;

 private:
  explicit AudioStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Decodes an audio file. Errors name the file and the detected format.
Expected<Pcm16k> load_audio_file(const std::string& path, const AudioLimits& limits = {});

// Decodes an encoded audio file held in memory (e.g. an HTTP upload). `name` is
// used in error messages only.
Expected<Pcm16k> decode_audio_memory(std::span<const uint8_t> bytes, const std::string& name,
                                     const AudioLimits& limits = {});

// Interleaved float PCM at any rate and channel count → Pcm16k (down-mix, resample, peak
// safety).
Expected<Pcm16k> pcm_from_float(std::span<const float> interleaved, int sample_rate, int channels);

// Peak safety (official): if max|x| > 1 divide by it; then clip to [-1, 1]. Refuses NaN/inf.
Status apply_peak_safety(std::vector<float>& samples);

// Raw 16 kHz mono PCM from memory (the server's streaming input).
Expected<Pcm16k> pcm16k_from_f32(std::span<const float> samples);  // peak safety applied
Pcm16k pcm16k_from_s16(std::span<const int16_t> samples);          // x / 32768, as the official code

}  // namespace qasr
