#include "audio/audio.h"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace qasr {
namespace {

// A name for the container, from its first bytes, for error messages.
std::string sniff_format(const uint8_t* p, size_t n) {
  auto starts = [&](const char* magic, size_t off = 0) {
    size_t m = std::strlen(magic);
    return n >= off + m && std::memcmp(p + off, magic, m) == 0;
  };
  if (n == 0) return "empty file";
  if (starts("RIFF") && starts("WAVE", 8)) return "WAV";
  if (starts("RIFF")) return "RIFF (not WAVE)";
  if (starts("fLaC")) return "FLAC";
  if (starts("OggS")) return "Ogg";
  if (starts("ID3") || (n >= 2 && p[0] == 0xFF && (p[1] & 0xE0) == 0xE0)) return "MP3";
  if (starts("ftyp", 4))
    return "MP4/M4A (AAC), which libsndfile cannot decode; convert it first, e.g. `ffmpeg -i IN -ar 16000 OUT.wav`";
  if (starts("FORM")) return "AIFF";
  if (starts("NIST_1A")) return "NIST SPHERE";
  if (starts(".snd")) return "AU";
  bool text = true;
  for (size_t i = 0; i < std::min<size_t>(n, 64); ++i)
    if (p[i] < 0x09 || (p[i] > 0x0D && p[i] < 0x20 && p[i] != 0x1B)) text = false;
  return text ? "text, not audio" : "unknown";
}

struct SndCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndPtr = std::unique_ptr<SNDFILE, SndCloser>;

// Memory source for libsndfile's virtual I/O.
struct MemSource {
  const uint8_t* data;
  sf_count_t size;
  sf_count_t pos;
};
sf_count_t mem_len(void* u) {
  return static_cast<MemSource*>(u)->size;
}
sf_count_t mem_seek(sf_count_t off, int whence, void* u) {
  auto* m = static_cast<MemSource*>(u);
  sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
  sf_count_t np = base + off;
  if (np < 0) np = 0;
  if (np > m->size) np = m->size;
  m->pos = np;
  return np;
}
sf_count_t mem_read(void* dst, sf_count_t count, void* u) {
  auto* m = static_cast<MemSource*>(u);
  sf_count_t k = std::max<sf_count_t>(0, std::min(count, m->size - m->pos));
  if (k > 0) std::memcpy(dst, m->data + m->pos, k);
  m->pos += k;
  return k;
}
sf_count_t mem_write(const void*, sf_count_t, void*) {
  return 0;
}
sf_count_t mem_tell(void* u) {
  return static_cast<MemSource*>(u)->pos;
}

// Reads every frame of an open file, checking limits and truncation.
Expected<Pcm16k> read_all(SNDFILE* snd, const SF_INFO& info, const std::string& name, const std::string& format,
                          const AudioLimits& limits) {
  if (info.channels < 1 || info.channels > 256 || info.samplerate < 1000 || info.samplerate > 768000)
    return InvalidFormat(fmt::format("cannot decode '{}' ({}): implausible header ({} Hz, {} channels)", name, format,
                                     info.samplerate, info.channels));
  // Read in blocks: the header's frame count is untrusted and may be absent (MP3).
  const sf_count_t max_frames = static_cast<sf_count_t>(limits.max_seconds * info.samplerate);
  std::vector<float> inter;
  std::vector<float> block(static_cast<size_t>(4096) * info.channels);
  sf_count_t total = 0;
  for (;;) {
    sf_count_t got = sf_readf_float(snd, block.data(), 4096);
    if (got <= 0) break;
    total += got;
    if (total > max_frames)
      return TooLarge(fmt::format("'{}' ({}) is longer than the limit of {:.0f} s", name, format, limits.max_seconds));
    inter.insert(inter.end(), block.begin(), block.begin() + got * info.channels);
  }
  if (sf_error(snd) != SF_ERR_NO_ERROR)
    return InvalidFormat(fmt::format("cannot decode '{}' ({}): {}", name, format, sf_strerror(snd)));
  // libsndfile clamps a WAV's declared length to the bytes present and only logs
  // the mismatch; a file whose data chunk is cut short is rejected here.
  if (format == "WAV") {
    char log[4096] = {0};
    sf_command(snd, SFC_GET_LOG_INFO, log, sizeof(log) - 1);
    if (std::strstr(log, "*** Data length") != nullptr || std::strstr(log, "Chunk size > file length") != nullptr ||
        std::strstr(log, "should be") != nullptr)
      return InvalidFormat(
          fmt::format("cannot decode '{}' (WAV): file is truncated (data chunk shorter than its header says)", name));
  }
  if (info.frames > 0 && info.frames != SF_COUNT_MAX && total < info.frames && format != "MP3")
    return InvalidFormat(
        fmt::format("cannot decode '{}' ({}): truncated, {} of {} frames present", name, format, total, info.frames));
  if (total == 0) return InvalidFormat(fmt::format("'{}' ({}) holds no audio samples", name, format));
  return pcm_from_float(inter, info.samplerate, info.channels);
}

std::string sf_format_name(int fmt_code) {
  switch (fmt_code & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV:
    case SF_FORMAT_WAVEX:
    case SF_FORMAT_RF64:
      return "WAV";
    case SF_FORMAT_FLAC:
      return "FLAC";
    case SF_FORMAT_OGG:
      return (fmt_code & SF_FORMAT_SUBMASK) == SF_FORMAT_OPUS ? "Opus" : "Ogg Vorbis";
    case SF_FORMAT_MPEG:
      return "MP3";
    case SF_FORMAT_AIFF:
      return "AIFF";
    case SF_FORMAT_NIST:
      return "NIST SPHERE";
    default:
      return fmt::format("libsndfile format 0x{:x}", fmt_code);
  }
}

}  // namespace

Expected<Pcm16k> decode_audio_memory(std::span<const uint8_t> bytes, const std::string& name,
                                     const AudioLimits& limits) {
  std::string sniffed = sniff_format(bytes.data(), bytes.size());
  if (bytes.empty()) return InvalidFormat(fmt::format("cannot decode '{}': the file is empty", name));
  MemSource src{bytes.data(), static_cast<sf_count_t>(bytes.size()), 0};
  SF_VIRTUAL_IO vio{mem_len, mem_seek, mem_read, mem_write, mem_tell};
  SF_INFO info{};
  SndPtr snd(sf_open_virtual(&vio, SFM_READ, &info, &src));
  if (!snd)
    return InvalidFormat(fmt::format("cannot decode '{}' (format: {}): {}", name, sniffed, sf_strerror(nullptr)));
  return read_all(snd.get(), info, name, sf_format_name(info.format), limits);
}

Expected<Pcm16k> load_audio_file(const std::string& path, const AudioLimits& limits) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return errno_status(errno, fmt::format("cannot open audio file '{}'", path));
  uint8_t head[64];
  size_t n = std::fread(head, 1, sizeof(head), f);
  std::fclose(f);
  std::string sniffed = sniff_format(head, n);
  if (n == 0) return InvalidFormat(fmt::format("cannot decode '{}': the file is empty", path));
  SF_INFO info{};
  SndPtr snd(sf_open(path.c_str(), SFM_READ, &info));
  if (!snd)
    return InvalidFormat(fmt::format("cannot decode '{}' (format: {}): {}", path, sniffed, sf_strerror(nullptr)));
  return read_all(snd.get(), info, path, sf_format_name(info.format), limits);
}

Expected<Pcm16k> pcm_from_float(std::span<const float> inter, int sample_rate, int channels) {
  if (channels < 1 || sample_rate < 1) return InvalidFormat("invalid PCM description");
  const size_t frames = inter.size() / channels;
  // Down-mix: the mean of the channels.
  std::vector<float> mono(frames);
  for (size_t i = 0; i < frames; ++i) {
    double acc = 0;
    for (int c = 0; c < channels; ++c) acc += inter[i * channels + c];
    mono[i] = static_cast<float>(acc / channels);
  }
  Pcm16k out;
  if (sample_rate == kSampleRate || frames == 0) {
    out.samples = std::move(mono);
  } else {
    const double ratio = static_cast<double>(kSampleRate) / sample_rate;
    // Output length as librosa.resample: ceil(n · ratio), zero-filled if soxr gives fewer.
    size_t olen = static_cast<size_t>(std::ceil(frames * ratio));
    out.samples.resize(olen + 64);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    size_t odone = 0;
    soxr_error_t err = soxr_oneshot(sample_rate, kSampleRate, 1, mono.data(), frames, nullptr, out.samples.data(),
                                    out.samples.size(), &odone, nullptr, &q, nullptr);
    if (err) return InvalidFormat(fmt::format("resampling {} Hz → 16 kHz failed: {}", sample_rate, err));
    out.samples.resize(olen);
    std::fill(out.samples.begin() + std::min(odone, olen), out.samples.end(), 0.0f);
  }
  // Peak safety (official): scale down only if the peak exceeds 1, then clip.
  float peak = 0;
  for (float v : out.samples) {
    if (!std::isfinite(v)) return InvalidFormat("audio contains NaN or infinite samples");
    peak = std::max(peak, std::fabs(v));
  }
  if (peak > 1.0f)
    for (float& v : out.samples) v /= peak;
  for (float& v : out.samples) v = std::clamp(v, -1.0f, 1.0f);
  return out;
}

Expected<Pcm16k> pcm16k_from_f32(std::span<const float> samples) {
  return pcm_from_float(samples, kSampleRate, 1);
}

Pcm16k pcm16k_from_s16(std::span<const int16_t> samples) {
  Pcm16k out;
  out.samples.resize(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) out.samples[i] = samples[i] / 32768.0f;
  return out;
}

}  // namespace qasr
