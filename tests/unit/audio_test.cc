#include "audio/audio.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "test_util.h"

namespace qasr {
namespace {

using testing::data_path;

// Decodes with Debian's ffmpeg (an independent decoder and resampler) to 16 kHz
// mono float. Stereo is averaged explicitly, as qasr does.
std::vector<float> ffmpeg_decode(const std::string& path, int channels) {
  std::string filt = channels == 2 ? "-af 'pan=mono|c0=0.5*c0+0.5*c1,aresample=16000' " : "-ac 1 -af aresample=16000 ";
  std::string cmd = "ffmpeg -nostdin -v error -i '" + path + "' " + filt + "-f f32le - 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::vector<float> out;
  if (!p) return out;
  float buf[4096];
  size_t n;
  while ((n = std::fread(buf, sizeof(float), 4096, p)) > 0) out.insert(out.end(), buf, buf + n);
  pclose(p);
  return out;
}

// Both signals through the same linear-phase low-pass (windowed sinc, 7 kHz, 201
// taps): the two resamplers differ only in their transition bands above ~7.2 kHz,
// where speech carries little and the model's mel filters little weight.
std::vector<float> lowpass_7k(const std::vector<float>& x) {
  const int taps = 201, half = taps / 2;
  std::vector<double> h(taps);
  const double fc = 7000.0 / 16000.0;  // cycles per sample
  for (int i = 0; i < taps; ++i) {
    int k = i - half;
    double sinc = k == 0 ? 2 * fc : std::sin(2 * M_PI * fc * k) / (M_PI * k);
    h[i] = sinc * (0.42 - 0.5 * std::cos(2 * M_PI * i / (taps - 1)) + 0.08 * std::cos(4 * M_PI * i / (taps - 1)));
  }
  std::vector<float> y(x.size());
  for (size_t n = 0; n < x.size(); ++n) {
    double acc = 0;
    for (int i = 0; i < taps; ++i) {
      long j = static_cast<long>(n) + i - half;
      if (j >= 0 && j < static_cast<long>(x.size())) acc += h[i] * x[j];
    }
    y[n] = static_cast<float>(acc);
  }
  return y;
}

// SNR (dB) of `got` against `ref` after the best integer alignment in ±max_lag,
// over the overlapping part (edges of 800 samples excluded).
double aligned_snr_db(const std::vector<float>& ref, const std::vector<float>& got, int max_lag, int* best_lag) {
  double best = -1e9;
  for (int lag = -max_lag; lag <= max_lag; ++lag) {
    double sig = 0, err = 0;
    for (size_t i = 800; i + 800 < ref.size(); ++i) {
      long j = static_cast<long>(i) + lag;
      if (j < 0 || j >= static_cast<long>(got.size())) continue;
      sig += double(ref[i]) * ref[i];
      double d = double(ref[i]) - got[j];
      err += d * d;
    }
    double snr = 10 * std::log10(sig / std::max(err, 1e-30));
    if (snr > best) {
      best = snr;
      *best_lag = lag;
    }
  }
  return best;
}

struct FormatCase {
  const char* file;
  int channels;
  double min_snr_db;
};

class AudioVsFfmpeg : public ::testing::TestWithParam<FormatCase> {};

TEST_P(AudioVsFfmpeg, MatchesIndependentDecoder) {
  const FormatCase& c = GetParam();
  std::string path = data_path(std::string("audio/") + c.file);
  auto pcm = load_audio_file(path);
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  std::vector<float> ref = ffmpeg_decode(path, c.channels);
  ASSERT_GT(ref.size(), 16000u) << "ffmpeg produced no audio for " << path;
  // Same length within the codecs' padding (a few ms).
  EXPECT_NEAR(static_cast<double>(pcm->samples.size()), static_cast<double>(ref.size()), 1200.0);
  int lag = 0;
  double snr = aligned_snr_db(lowpass_7k(ref), lowpass_7k(pcm->samples), 1200, &lag);
  std::printf("%s: %zu samples (ffmpeg %zu), best lag %d, SNR %.1f dB\n", c.file, pcm->samples.size(), ref.size(), lag,
              snr);
  EXPECT_GE(snr, c.min_snr_db);
  for (float v : pcm->samples) ASSERT_LE(std::fabs(v), 1.0f);
}

// The bound: SNR ≥ 40 dB after alignment, below 7 kHz, for every path.
INSTANTIATE_TEST_SUITE_P(
    Formats, AudioVsFfmpeg,
    ::testing::Values(FormatCase{"aishell_44k1_stereo.wav", 2, 40.0}, FormatCase{"aishell_16k.mp3", 1, 40.0},
                      FormatCase{"aishell_16k.opus", 1, 40.0}, FormatCase{"aishell_8k_ulaw.wav", 1, 40.0},
                      FormatCase{"aishell_16k.flac", 1, 40.0}, FormatCase{"aishell_16k.ogg", 1, 40.0},
                      FormatCase{"lhotse_ljspeech-LJ002-0020.wav", 1, 40.0}),
    [](const ::testing::TestParamInfo<FormatCase>& info) {
      std::string n = info.param.file;
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(Audio, SixteenKhzWavIsBitExactInt16Scaling) {
  auto pcm = load_audio_file(data_path("audio/whisper.cpp_jfk.wav"));
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  EXPECT_EQ(pcm->samples.size(), 176000u);
  // Raw int16 / 32768 from the file's data chunk (44-byte header).
  std::ifstream f(data_path("audio/whisper.cpp_jfk.wav"), std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  const int16_t* s = reinterpret_cast<const int16_t*>(bytes.data() + bytes.size() - 176000 * 2);
  for (size_t i = 0; i < 176000; i += 997) ASSERT_EQ(pcm->samples[i], s[i] / 32768.0f) << i;
}

TEST(Audio, StereoIsAveraged) {
  std::string dir = testing::scratch_dir("stereo");
  std::vector<int16_t> st;
  for (int i = 0; i < 4000; ++i) {
    st.push_back(8000);
    st.push_back(-4000);
  }
  testing::write_wav_s16(dir + "/st.wav", st, 16000, 2);
  auto pcm = load_audio_file(dir + "/st.wav");
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  ASSERT_EQ(pcm->samples.size(), 4000u);
  EXPECT_FLOAT_EQ(pcm->samples[100], 2000.0f / 32768.0f);
}

TEST(Audio, PeakSafetyScalesOnlyAboveOne) {
  std::vector<float> loud = {0.5f, -2.0f, 1.0f};
  auto a = pcm_from_float(loud, 16000, 1);
  ASSERT_TRUE(a.ok());
  EXPECT_FLOAT_EQ(a->samples[0], 0.25f);
  EXPECT_FLOAT_EQ(a->samples[1], -1.0f);
  std::vector<float> quiet = {0.5f, -0.25f};
  auto b = pcm_from_float(quiet, 16000, 1);
  ASSERT_TRUE(b.ok());
  EXPECT_FLOAT_EQ(b->samples[0], 0.5f);
  std::vector<float> bad = {0.5f, NAN};
  EXPECT_FALSE(pcm_from_float(bad, 16000, 1).ok());
}

TEST(Audio, RawPcmFromMemory) {
  std::vector<int16_t> s = {-32768, 0, 16384};
  Pcm16k p = pcm16k_from_s16(s);
  EXPECT_FLOAT_EQ(p.samples[0], -1.0f);
  EXPECT_FLOAT_EQ(p.samples[2], 0.5f);
  std::vector<float> f = {0.1f, -0.2f};
  auto q = pcm16k_from_f32(f);
  ASSERT_TRUE(q.ok());
  EXPECT_FLOAT_EQ(q->samples[1], -0.2f);
}

TEST(Audio, ResamplesToSixteenKhzLength) {
  auto pcm = load_audio_file(data_path("audio/aishell_8k_ulaw.wav"));
  ASSERT_TRUE(pcm.ok()) << pcm.error();
  // 4.281 s at 8 kHz → ceil(n · 2) samples at 16 kHz.
  EXPECT_NEAR(pcm->seconds(), 4.281, 0.01);
}

TEST(Audio, DecodesFromMemory) {
  std::ifstream f(data_path("audio/aishell_16k.flac"), std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
  auto a = decode_audio_memory(bytes, "upload.flac");
  auto b = load_audio_file(data_path("audio/aishell_16k.flac"));
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->samples, b->samples);
}

// The streaming resampler gives exactly what the one-shot call gives, in any block size.
TEST(Audio, StreamingResamplerEqualsOneShot) {
  std::string dir = testing::scratch_dir("stream");
  std::vector<int16_t> s(44100 * 3 + 17);
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = static_cast<int16_t>(12000 * std::sin(i * 0.0123) + 3000 * std::sin(i * 0.31 + 1));
  testing::write_wav_s16(dir + "/a.wav", s, 44100, 1);
  std::vector<float> f(s.size());
  for (size_t i = 0; i < s.size(); ++i) f[i] = s[i] / 32768.0f;
  auto oneshot = pcm_from_float(f, 44100, 1);
  ASSERT_TRUE(oneshot.ok());
  auto whole = load_audio_file(dir + "/a.wav");
  ASSERT_TRUE(whole.ok()) << whole.error();
  EXPECT_EQ(whole->samples, oneshot->samples);
  // Small reads of an open stream: the same samples.
  auto st = AudioStream::open_file(dir + "/a.wav");
  ASSERT_TRUE(st.ok());
  std::vector<float> got;
  for (;;) {
    auto n = (*st)->read(got, 999);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
  }
  ASSERT_TRUE(apply_peak_safety(got).ok());
  EXPECT_EQ(got, oneshot->samples);
  EXPECT_EQ((*st)->info().sample_rate, 44100);
  EXPECT_EQ((*st)->info().frames, static_cast<int64_t>(s.size()));
  // A second pass after rewind() gives the same again.
  ASSERT_TRUE((*st)->rewind().ok());
  std::vector<float> again;
  while (true) {
    auto n = (*st)->read(again, 1 << 16);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
  }
  ASSERT_TRUE(apply_peak_safety(again).ok());
  EXPECT_EQ(again, got);
}

// ---- bad input: a clear error naming the file and format, never a crash ----

TEST(AudioErrors, MissingFile) {
  auto r = load_audio_file("/nonexistent/dir/x.wav");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("/nonexistent/dir/x.wav"), std::string::npos);
  EXPECT_NE(r.error().find("No such file"), std::string::npos);
}

TEST(AudioErrors, EmptyFile) {
  std::string dir = testing::scratch_dir("empty");
  std::ofstream(dir + "/e.wav").close();
  auto r = load_audio_file(dir + "/e.wav");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("empty"), std::string::npos) << r.error();
}

TEST(AudioErrors, TextFileNamedWav) {
  std::string dir = testing::scratch_dir("text");
  std::ofstream(dir + "/t.wav") << "this is not audio, just some text\n";
  auto r = load_audio_file(dir + "/t.wav");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("text, not audio"), std::string::npos) << r.error();
}

TEST(AudioErrors, M4aNamesTheFormat) {
  auto r = load_audio_file(data_path("audio/aishell_16k.m4a"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("M4A"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("aishell_16k.m4a"), std::string::npos) << r.error();
}

TEST(AudioErrors, TruncatedWav) {
  std::ifstream in(data_path("audio/whisper.cpp_jfk.wav"), std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  std::string dir = testing::scratch_dir("trunc");
  std::ofstream(dir + "/cut.wav", std::ios::binary).write(bytes.data(), 20000);
  auto r = load_audio_file(dir + "/cut.wav");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
}

// A valid file without samples is silence: empty audio, not an error (the transcript is
// then empty; README "What qasr refuses").
TEST(AudioErrors, ZeroSamplesIsSilence) {
  std::string dir = testing::scratch_dir("zero");
  testing::write_wav_s16(dir + "/z.wav", {}, 16000, 1);
  auto r = load_audio_file(dir + "/z.wav");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->samples.empty());
}

TEST(AudioErrors, GarbageInMemory) {
  std::vector<uint8_t> junk(1000);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 37 + 11);
  EXPECT_FALSE(decode_audio_memory(junk, "junk").ok());
  EXPECT_FALSE(decode_audio_memory({}, "nothing").ok());
}

TEST(AudioErrors, DurationLimit) {
  AudioLimits lim;
  lim.max_seconds = 2.0;
  auto r = load_audio_file(data_path("audio/whisper.cpp_jfk.wav"), lim);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("longer than"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace qasr
