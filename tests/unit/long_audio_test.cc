// The long-audio splitter (split_ranges, PieceReader) and the aligner's text rule and
// timestamp repair, on hand-derived cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "audio/audio.h"
#include "base/thread_pool.h"
#include "convert/synth.h"
#include "model/model.h"
#include "pipeline/aligner.h"
#include "pipeline/long_audio.h"
#include "test_util.h"

namespace qasr {
namespace {

using Items = std::vector<std::string>;

TEST(AlignerItems, OfficialTextRule) {
  // Punctuation goes, the apostrophe stays, words stay whole, CJK ideographs are one item each.
  EXPECT_EQ(aligner_items("And so, my fellow Americans: don't!"),
            (Items{"And", "so", "my", "fellow", "Americans", "don't"}));
  EXPECT_EQ(aligner_items("Qwen3-ASR 12,345 l'été"), (Items{"Qwen3ASR", "12345", "l'été"}));
  EXPECT_EQ(aligner_items("你好world世界。"), (Items{"你", "好", "world", "世", "界"}));
  // Python str.split(): tab, newline, U+3000 and U+00A0 separate; pure punctuation drops out.
  EXPECT_EQ(aligner_items("a\tb\nc\u3000d\u00a0e ... --- !!"), (Items{"a", "b", "c", "d", "e"}));
  EXPECT_TRUE(aligner_items("  ... ?! —  ").empty());
  EXPECT_TRUE(aligner_items("").empty());
  // Kana are not CJK ideographs: one item unless the language is Japanese.
  EXPECT_EQ(aligner_items("こんにちは世界"), (Items{"こんにちは", "世", "界"}));
  EXPECT_EQ(aligner_items("こんにちは世界", "Japanese"), (Items{"こ", "ん", "に", "ち", "は", "世", "界"}));
  // Invalid UTF-8 is repaired, never a crash.
  EXPECT_EQ(aligner_items(std::string("ok \xff\xfe bad")).front(), "ok");
}

std::vector<int64_t> fix(std::vector<double> v) {
  return fix_timestamps(v);
}

TEST(FixTimestamps, OfficialRepair) {
  EXPECT_TRUE(fix({}).empty());
  EXPECT_EQ(fix({0, 80, 160}), (std::vector<int64_t>{0, 80, 160}));  // monotonic: untouched
  // One outlier between neighbours: the nearer, the left one on a tie.
  EXPECT_EQ(fix({0, 100, 50, 200}), (std::vector<int64_t>{0, 100, 100, 200}));
  // A run of two: the first takes the left neighbour, the second the right.
  EXPECT_EQ(fix({0, 900, 800, 700, 1000}), (std::vector<int64_t>{0, 900, 900, 1000, 1000}));
  // A run of three or more between neighbours: linear interpolation.
  EXPECT_EQ(fix({0, 500, 400, 300, 200, 600, 700}), (std::vector<int64_t>{0, 500, 525, 550, 575, 600, 700}));
  // ... truncated toward zero as Python's int().
  EXPECT_EQ(fix({0, 1, 90, 80, 70, 2, 3}), (std::vector<int64_t>{0, 1, 1, 1, 1, 2, 3}));
  // No left neighbour: the right one.
  EXPECT_EQ(fix({500, 0, 100}), (std::vector<int64_t>{0, 0, 100}));
  // No right neighbour for a long run: the left one is copied.
  EXPECT_EQ(fix({0, 100, 50, 40, 30}), (std::vector<int64_t>{0, 100, 100, 100, 100}));
}

// A deterministic signal: bursts of noise with quiet gaps at irregular places.
std::vector<float> bursts(int64_t n, uint32_t seed) {
  std::vector<float> x(static_cast<size_t>(n));
  uint32_t s = seed;
  auto rnd = [&] { return s = s * 1664525u + 1013904223u; };
  int64_t i = 0;
  while (i < n) {
    const int64_t loud = 8000 + rnd() % 64000, quiet = 800 + rnd() % 12000;
    for (int64_t k = 0; k < loud && i < n; ++k, ++i) x[i] = (static_cast<float>(rnd() % 20001) - 10000.0f) / 32768.0f;
    for (int64_t k = 0; k < quiet && i < n; ++k, ++i) x[i] = (static_cast<float>(rnd() % 9) - 4.0f) / 32768.0f;
  }
  return x;
}

TEST(SplitRanges, OnePieceUpToTheLimitAndCoverage) {
  std::vector<float> x = bursts(160000, 1);
  auto one = split_ranges(x, 10.0);  // exactly 10 s: not split
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].end, 160000);
  x.push_back(0.0f);
  auto two = split_ranges(x, 10.0);  // one sample more: split
  ASSERT_EQ(two.size(), 2u);
  // Pieces tile the input, each boundary inside the ±5 s window of its cut.
  std::vector<float> y = bursts(16000 * 300, 2);
  auto r = split_ranges(y, 30.0);
  ASSERT_GT(r.size(), 8u);
  double offset = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i].start, i == 0 ? 0 : r[i - 1].end);
    EXPECT_DOUBLE_EQ(r[i].offset_sec, offset);
    offset += static_cast<double>(r[i].end - r[i].start) / kSampleRate;
    if (i + 1 < r.size()) {
      const int64_t cut = r[i].start + 30 * 16000;
      EXPECT_GE(r[i].end, cut - kSplitExpandSamples);
      EXPECT_LT(r[i].end, cut + kSplitExpandSamples);
    }
  }
  EXPECT_EQ(r.back().end, static_cast<int64_t>(y.size()));
}

TEST(SplitBoundary, QuietestWindowThenQuietestSample) {
  // Loud everywhere except one quiet stretch; inside it a single zero sample.
  std::vector<float> x(200000, 0.5f);
  for (int i = 100000; i < 104000; ++i) x[i] = 0.01f;
  x[101234] = 0.0f;
  EXPECT_EQ(split_boundary(x, 20000, 180000, 100000), 101234);
  // Ties: the first window of smallest sum and the first smallest sample win.
  std::vector<float> flat(50000, 0.25f);
  EXPECT_EQ(split_boundary(flat, 1000, 40000, 20000), 1000);
}

TEST(PieceReader, StreamGivesTheSamePiecesAsTheWholeSignal) {
  const std::string dir = testing::scratch_dir("piece_reader");
  std::vector<float> x = bursts(16000 * 95 + 3000, 3);  // the last piece will be short
  std::vector<int16_t> s16(x.size());
  for (size_t i = 0; i < x.size(); ++i) s16[i] = static_cast<int16_t>(std::lround(x[i] * 32768.0f));
  const std::string path = dir + "/bursts.wav";
  testing::write_wav_s16(path, s16, 16000, 1);
  std::vector<float> exact(s16.size());
  for (size_t i = 0; i < s16.size(); ++i) exact[i] = static_cast<float>(s16[i]) / 32768.0f;
  for (double max_sec : {10.0, 23.7, 95.0, 200.0}) {
    const auto want = split_ranges(exact, max_sec);
    auto stream = AudioStream::open_file(path);
    ASSERT_TRUE(stream.ok()) << stream.status().message();
    auto reader = PieceReader::create(std::move(stream).value(), max_sec);
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    auto mem = PieceReader::from_samples(exact, max_sec);
    ASSERT_TRUE(mem.ok());
    AudioPiece p, q;
    for (size_t i = 0; i <= want.size(); ++i) {
      auto more = (*reader)->next(p);
      auto more_mem = (*mem)->next(q);
      ASSERT_TRUE(more.ok() && more_mem.ok());
      if (i == want.size()) {
        EXPECT_FALSE(*more);
        EXPECT_FALSE(*more_mem);
        break;
      }
      ASSERT_TRUE(*more && *more_mem) << "piece " << i << " at " << max_sec;
      EXPECT_EQ(p.range.start, want[i].start);
      EXPECT_EQ(p.range.end, want[i].end);
      EXPECT_DOUBLE_EQ(p.range.offset_sec, want[i].offset_sec);
      EXPECT_EQ(q.range.end, want[i].end);
      const size_t len = static_cast<size_t>(want[i].end - want[i].start);
      // Split pieces under 0.5 s are zero-padded to 8000 samples; a single piece never is.
      const size_t padded = want.size() > 1 ? std::max<size_t>(len, kMinPieceSamples) : len;
      ASSERT_EQ(p.audio.samples.size(), padded);
      EXPECT_EQ(q.audio.samples, p.audio.samples);
      for (size_t k = 0; k < len; k += 997) ASSERT_EQ(p.audio.samples[k], exact[want[i].start + k]);
      for (size_t k = len; k < padded; ++k) ASSERT_EQ(p.audio.samples[k], 0.0f);
    }
  }
}

TEST(PieceReader, ShortTailIsPadded) {
  // 10 s + 0.2 s of loud noise with one quiet stretch late: the tail is under 0.5 s.
  std::vector<float> x(163200, 0.3f);
  for (int i = 0; i < 163200; i += 2) x[i] = -0.3f;
  for (int i = 159000; i < 161000; ++i) x[i] = 0.0f;
  auto r = PieceReader::from_samples(x, 10.0);
  ASSERT_TRUE(r.ok());
  AudioPiece p;
  ASSERT_TRUE(*(*r)->next(p));
  EXPECT_EQ(p.range.end, 159000);
  ASSERT_TRUE(*(*r)->next(p));
  EXPECT_EQ(p.range.end - p.range.start, 163200 - 159000);
  EXPECT_EQ(p.audio.samples.size(), static_cast<size_t>(kMinPieceSamples));
  EXPECT_FALSE(*(*r)->next(p));
}

TEST(Aligner, ChunkedPassGivesTheSameWords) {
  const std::string dir = testing::scratch_dir("aligner_chunks");
  auto sp = synth_preset("tiny-aligner");
  ASSERT_TRUE(sp.ok());
  ASSERT_TRUE(write_synthetic_hf(dir + "/al", *sp, 3, QASR_ASSETS).ok());
  auto m = Model::load(dir + "/al");
  ASSERT_TRUE(m.ok()) << m.error();
  auto a = load_audio_file(testing::data_path("audio/whisper.cpp_jfk.wav"));
  ASSERT_TRUE(a.ok());
  ThreadPool pool(2);
  std::vector<std::vector<int64_t>> raw;
  for (int64_t rows : {int64_t{100000}, int64_t{50}, int64_t{7}}) {
    AlignOptions o;
    o.kv_f16 = false;
    o.prefill_rows = rows;
    auto r = align(**m, pool, *a, "And so my fellow Americans ask not what your country can do for you", o);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->words.size(), 14u);
    raw.push_back(r->raw_ms);
  }
  EXPECT_EQ(raw[0], raw[1]);
  EXPECT_EQ(raw[0], raw[2]);
}

TEST(PieceReader, RefusesABadLength) {
  EXPECT_FALSE(PieceReader::from_samples({0.0f}, 0.5).ok());
  EXPECT_FALSE(PieceReader::from_samples({0.0f}, std::nan("")).ok());
}

}  // namespace
}  // namespace qasr
