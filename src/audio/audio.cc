#include "audio/audio.h"

#include <fcntl.h>
#include <sndfile.h>
#include <soxr.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "base/io.h"

namespace qasr {
namespace {

constexpr sf_count_t kBlockFrames = 4096;
// Resampled samples held back until the end is known: the last few may be trimmed so the
// total is exactly ceil(n · ratio).
constexpr size_t kHoldback = 256;

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

// True when a RIFF/WAVE header declares a data chunk longer than the file: libsndfile
// clamps the length to the bytes present and only logs it, so the check reads the header
// itself. A size of 0 or 0xFFFFFFFF (a WAV written to a pipe, e.g. by ffmpeg) declares
// nothing and is not truncation. `head` is the start of the file.
bool wav_data_chunk_truncated(const uint8_t* head, size_t n, uint64_t file_size) {
  if (n < 12 || std::memcmp(head, "RIFF", 4) != 0 || std::memcmp(head + 8, "WAVE", 4) != 0) return false;
  uint64_t off = 12;
  while (off + 8 <= n) {
    uint32_t size;
    std::memcpy(&size, head + off + 4, 4);
    if (std::memcmp(head + off, "data", 4) == 0) return size != 0 && size != 0xFFFFFFFFu && off + 8 + size > file_size;
    off += 8 + static_cast<uint64_t>(size) + (size & 1);
  }
  return false;
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

}  // namespace

struct AudioStream::Impl {
  // Source: a path (reopened by rewind) or bytes in memory.
  std::string path, name;
  std::span<const uint8_t> bytes;
  bool from_memory = false;
  AudioLimits limits;
  AudioInfo info;

  SNDFILE* snd = nullptr;
  MemSource mem{};
  soxr_t soxr = nullptr;
  std::vector<float> block, mono, resampled, pending;
  size_t pending_pos = 0;
  int64_t frames_in = 0, produced = 0, emitted_total = 0;
  bool input_done = false, finished = false;

  ~Impl() { close(); }
  void close() {
    if (snd) sf_close(snd);
    snd = nullptr;
    if (soxr) soxr_delete(soxr);
    soxr = nullptr;
  }

  Status err(StatusCode code, const std::string& what) const {
    return Status(code, fmt::format("cannot decode '{}' ({}): {}", name, info.format, what));
  }

  Status open() {
    close();
    uint8_t head[4096];
    size_t n = 0;
    uint64_t size = 0;
    SF_INFO sfi{};
    if (from_memory) {
      n = std::min(bytes.size(), sizeof head);
      if (n > 0) std::memcpy(head, bytes.data(), n);  // an empty span may have a null data()
      size = bytes.size();
    } else {
      QASR_RETURN_IF_ERROR(check_input_path(path).annotate("audio file"));
      // O_NONBLOCK: a path swapped for a FIFO after the check cannot block the open.
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) return errno_status(errno, fmt::format("cannot open audio file '{}'", path));
      struct stat st {};
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return InvalidArgument(fmt::format("audio file '{}' is not a regular file", path));
      }
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      const ssize_t got = ::pread(fd, head, sizeof head, 0);
      n = got > 0 ? static_cast<size_t>(got) : 0;
      size = static_cast<uint64_t>(st.st_size);
      if (n == 0) {
        ::close(fd);
        return InvalidFormat(fmt::format("cannot decode '{}': the file is empty", name));
      }
      snd = sf_open_fd(fd, SFM_READ, &sfi, /*close_desc=*/SF_TRUE);
      if (!snd) {
        ::close(fd);
        return open_error(head, n);
      }
    }
    if (from_memory) {
      if (bytes.empty()) return InvalidFormat(fmt::format("cannot decode '{}': the file is empty", name));
      mem = {bytes.data(), static_cast<sf_count_t>(bytes.size()), 0};
      SF_VIRTUAL_IO vio{mem_len, mem_seek, mem_read, mem_write, mem_tell};
      snd = sf_open_virtual(&vio, SFM_READ, &sfi, &mem);
      if (!snd) return open_error(head, n);
    }
    info.format = sf_format_name(sfi.format);
    info.sample_rate = sfi.samplerate;
    info.channels = sfi.channels;
    info.frames = sfi.frames >= 0 && sfi.frames != SF_COUNT_MAX && info.format != "MP3" ? sfi.frames : -1;
    if (sfi.channels < 1 || sfi.channels > 256 || sfi.samplerate < 1000 || sfi.samplerate > 768000)
      return err(StatusCode::kInvalidFormat,
                 fmt::format("implausible header ({} Hz, {} channels)", sfi.samplerate, sfi.channels));
    if (info.format == "WAV" && wav_data_chunk_truncated(head, n, size))
      return err(StatusCode::kInvalidFormat, "file is truncated (data chunk shorter than its header says)");
    // The header's length is checked before anything is decoded.
    if (info.frames > 0 && info.seconds() > limits.max_seconds)
      return TooLarge(fmt::format("'{}' ({}) is {:.0f} s long, longer than the limit of {:.0f} s", name, info.format,
                                  info.seconds(), limits.max_seconds));
    if (info.sample_rate != kSampleRate) {
      soxr_error_t e = nullptr;
      const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
      soxr = soxr_create(info.sample_rate, kSampleRate, 1, &e, nullptr, &q, nullptr);
      if (e || !soxr) return Internal(fmt::format("resampler for {} Hz → 16 kHz: {}", info.sample_rate, e ? e : "?"));
    }
    frames_in = produced = emitted_total = 0;
    pending.clear();
    pending_pos = 0;
    input_done = finished = false;
    return Status::Ok();
  }

  Status open_error(const uint8_t* head, size_t n) const {
    const std::string sniffed = sniff_format(head, n);
    const StatusCode code = sniffed.rfind("MP4", 0) == 0 ? StatusCode::kUnsupported : StatusCode::kInvalidFormat;
    return Status(code, fmt::format("cannot decode '{}' (format: {}): {}", name, sniffed, sf_strerror(nullptr)));
  }

  // Resamples `n` mono samples (nullptr: flush) and appends the output to `pending`.
  Status resample(const float* in, size_t n) {
    const double ratio = static_cast<double>(kSampleRate) / info.sample_rate;
    for (;;) {
      resampled.resize(static_cast<size_t>(std::ceil(n * ratio)) + 512);
      size_t idone = 0, odone = 0;
      soxr_error_t e = soxr_process(soxr, in, n, &idone, resampled.data(), resampled.size(), &odone);
      if (e) return Internal(fmt::format("resampling {} Hz → 16 kHz failed: {}", info.sample_rate, e));
      pending.insert(pending.end(), resampled.begin(), resampled.begin() + static_cast<std::ptrdiff_t>(odone));
      produced += static_cast<int64_t>(odone);
      if (in) {
        in += idone;
        n -= idone;
        if (n == 0) return Status::Ok();
      } else if (odone == 0) {
        return Status::Ok();  // flushed
      }
    }
  }

  // Decodes one block into `pending`; sets input_done at the end of the input.
  Status decode_block() {
    block.resize(static_cast<size_t>(kBlockFrames) * info.channels);
    const sf_count_t got = sf_readf_float(snd, block.data(), kBlockFrames);
    if (got <= 0) {
      if (sf_error(snd) != SF_ERR_NO_ERROR) return err(StatusCode::kInvalidFormat, sf_strerror(snd));
      if (info.frames > 0 && frames_in < info.frames)
        return err(StatusCode::kInvalidFormat,
                   fmt::format("truncated, {} of {} frames present", frames_in, info.frames));
      input_done = true;
      if (soxr) {
        QASR_RETURN_IF_ERROR(resample(nullptr, 0));
        // Output length as librosa.resample: ceil(n · ratio), zero-filled if soxr gave fewer.
        const int64_t target =
            static_cast<int64_t>(std::ceil(static_cast<double>(frames_in) * kSampleRate / info.sample_rate));
        const int64_t have = emitted_total + static_cast<int64_t>(pending.size() - pending_pos);
        if (have > target)
          pending.resize(pending.size() - static_cast<size_t>(have - target));
        else
          pending.insert(pending.end(), static_cast<size_t>(target - have), 0.0f);
        produced = target;
      }
      return Status::Ok();
    }
    frames_in += got;
    const auto max_frames = static_cast<int64_t>(limits.max_seconds * info.sample_rate);
    if (frames_in > max_frames)
      return TooLarge(
          fmt::format("'{}' ({}) is longer than the limit of {:.0f} s", name, info.format, limits.max_seconds));
    // Down-mix: the mean of the channels.
    mono.resize(static_cast<size_t>(got));
    const int ch = info.channels;
    for (sf_count_t i = 0; i < got; ++i) {
      double acc = 0;
      for (int c = 0; c < ch; ++c) acc += block[i * ch + c];
      mono[i] = static_cast<float>(acc / ch);
    }
    if (!soxr) {
      pending.insert(pending.end(), mono.begin(), mono.end());
      produced += got;
      return Status::Ok();
    }
    return resample(mono.data(), mono.size());
  }

  Expected<size_t> read(std::vector<float>& out, size_t max_samples) {
    if (finished || max_samples == 0) return size_t{0};
    try {
      while (!input_done && pending.size() - pending_pos < max_samples + kHoldback)
        QASR_RETURN_IF_ERROR(decode_block());
      const size_t available = pending.size() - pending_pos;
      const size_t releasable = input_done ? available : available - std::min(available, kHoldback);
      const size_t k = std::min(max_samples, releasable);
      out.insert(out.end(), pending.begin() + static_cast<std::ptrdiff_t>(pending_pos),
                 pending.begin() + static_cast<std::ptrdiff_t>(pending_pos + k));
      pending_pos += k;
      emitted_total += static_cast<int64_t>(k);
      if (pending_pos > (size_t{1} << 16)) {  // compact: keep the buffer bounded
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(pending_pos));
        pending_pos = 0;
      }
      finished = input_done && pending_pos == pending.size();
      return k;
    } catch (const std::bad_alloc&) {
      return ResourceExhausted(fmt::format("out of memory decoding '{}'", name));
    }
  }
};

AudioStream::AudioStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AudioStream::~AudioStream() = default;
const AudioInfo& AudioStream::info() const {
  return impl_->info;
}
const std::string& AudioStream::name() const {
  return impl_->name;
}
int64_t AudioStream::produced() const {
  return impl_->emitted_total;
}
Expected<size_t> AudioStream::read(std::vector<float>& out, size_t max_samples) {
  return impl_->read(out, max_samples);
}
Status AudioStream::rewind() {
  return impl_->open();
}

Expected<std::unique_ptr<AudioStream>> AudioStream::open_file(const std::string& path, const AudioLimits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->path = impl->name = path;
  impl->limits = limits;
  QASR_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<AudioStream>(new AudioStream(std::move(impl)));
}

Expected<std::unique_ptr<AudioStream>> AudioStream::open_memory(std::span<const uint8_t> bytes, const std::string& name,
                                                                const AudioLimits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  impl->bytes = bytes;
  impl->from_memory = true;
  impl->limits = limits;
  QASR_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<AudioStream>(new AudioStream(std::move(impl)));
}

namespace {

Expected<Pcm16k> read_whole(Expected<std::unique_ptr<AudioStream>> stream) {
  if (!stream.ok()) return stream.status();
  AudioStream& s = **stream;
  Pcm16k out;
  try {
    if (s.info().frames > 0) out.samples.reserve(static_cast<size_t>(std::ceil(s.info().seconds() * kSampleRate)) + 16);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted(fmt::format("out of memory for '{}' ({:.0f} s)", s.name(), s.info().seconds()));
  }
  for (;;) {
    QASR_ASSIGN_OR_RETURN(const size_t got, s.read(out.samples, size_t{1} << 20));
    if (got == 0) break;
  }
  QASR_RETURN_IF_ERROR(apply_peak_safety(out.samples).annotate("'" + s.name() + "'"));
  return out;
}

}  // namespace

Expected<Pcm16k> load_audio_file(const std::string& path, const AudioLimits& limits) {
  return read_whole(AudioStream::open_file(path, limits));
}

Expected<Pcm16k> decode_audio_memory(std::span<const uint8_t> bytes, const std::string& name,
                                     const AudioLimits& limits) {
  return read_whole(AudioStream::open_memory(bytes, name, limits));
}

Status apply_peak_safety(std::vector<float>& samples) {
  float peak = 0;
  for (float v : samples) {
    if (!std::isfinite(v)) return InvalidFormat("audio contains NaN or infinite samples");
    peak = std::max(peak, std::fabs(v));
  }
  if (peak > 1.0f)
    for (float& v : samples) v /= peak;
  for (float& v : samples) v = std::clamp(v, -1.0f, 1.0f);
  return Status::Ok();
}

Expected<Pcm16k> pcm_from_float(std::span<const float> inter, int sample_rate, int channels) {
  if (channels < 1 || channels > 256 || sample_rate < 1000 || sample_rate > 768000)
    return InvalidArgument(fmt::format("invalid PCM description ({} Hz, {} channels)", sample_rate, channels));
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
    if (err) return Internal(fmt::format("resampling {} Hz → 16 kHz failed: {}", sample_rate, err));
    out.samples.resize(olen);
    std::fill(out.samples.begin() + std::min(odone, olen), out.samples.end(), 0.0f);
  }
  QASR_RETURN_IF_ERROR(apply_peak_safety(out.samples));
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
