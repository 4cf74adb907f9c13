// libFuzzer harness: the audio decoder path (libsndfile from memory → down-mix →
// soxr resampling → peak safety) and the log-mel front end on what it yields.
#include <cstddef>
#include <cstdint>

#include "audio/audio.h"
#include "features/mel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qasr::AudioLimits limits;
  limits.max_seconds = 20.0;  // keeps each run short
  auto pcm = qasr::decode_audio_memory({data, size}, "fuzz", limits);
  if (pcm.ok()) {
    static const qasr::MelExtractor mel;
    auto m = mel.compute(pcm->samples);
    (void)m;
  }
  return 0;
}
