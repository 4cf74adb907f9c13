// The output writers: time stamps, cue rules, every verbose_json field, compression ratio.
#include "pipeline/writers.h"

#include <gtest/gtest.h>

namespace qasr {
namespace {

TranscriptDoc words_doc(const std::vector<std::tuple<std::string, double, double>>& ws) {
  TranscriptDoc d;
  for (const auto& [t, a, b] : ws) d.words.push_back({t, a, b});
  d.words_requested = true;
  return d;
}

TEST(Writers, SubtitleTimes) {
  EXPECT_EQ(subtitle_time(0, ','), "00:00:00,000");
  EXPECT_EQ(subtitle_time(3.3204, ','), "00:00:03,320");
  EXPECT_EQ(subtitle_time(3723.4567, '.'), "01:02:03.457");
  EXPECT_EQ(subtitle_time(-1, '.'), "00:00:00.000");
}

TEST(Writers, CompressionRatioAsWhisper) {
  EXPECT_EQ(compression_ratio(""), 0.0);
  // Repetitive text compresses far more than varied text (the hallucination signal).
  EXPECT_GT(compression_ratio(std::string(500, 'a')), 10.0);
  EXPECT_LT(compression_ratio("The quick brown fox jumps over the lazy dog."), 1.5);
}

TEST(Writers, CuesFollowTheLineAndDurationLimits) {
  std::vector<std::tuple<std::string, double, double>> ws;
  double t = 0;
  for (int i = 0; i < 40; ++i, t += 0.3) ws.emplace_back("word" + std::to_string(i), t, t + 0.25);
  const std::vector<Cue> cues = make_cues(words_doc(ws));
  ASSERT_GT(cues.size(), 2u);
  for (const Cue& c : cues) {
    size_t lines = 1, len = 0, longest = 0;
    for (char ch : c.text) {
      if (ch == '\n') {
        ++lines;
        longest = std::max(longest, len);
        len = 0;
      } else {
        ++len;
      }
    }
    longest = std::max(longest, len);
    EXPECT_LE(lines, 2u) << c.text;
    EXPECT_LE(longest, 42u) << c.text;
    EXPECT_LE(c.end - c.start, 7.0 + 1e-9);
    EXPECT_LT(c.start, c.end);
  }
  for (size_t i = 1; i < cues.size(); ++i) EXPECT_GE(cues[i].start, cues[i - 1].end);
}

TEST(Writers, CuesBreakAtPunctuationAndPauses) {
  auto cues = make_cues(words_doc({{"Hello", 0.0, 0.4},
                                   {"world.", 0.5, 0.9},
                                   {"Next", 1.0, 1.3},
                                   {"one", 1.4, 1.6},
                                   {"after", 3.0, 3.3},
                                   {"pause", 3.4, 3.8}}));
  ASSERT_EQ(cues.size(), 3u);
  EXPECT_EQ(cues[0].text, "Hello world.");
  EXPECT_EQ(cues[1].text, "Next one");
  EXPECT_EQ(cues[2].text, "after pause");
  EXPECT_DOUBLE_EQ(cues[2].start, 3.0);
}

TEST(Writers, CjkJoinsAndCountsPerCharacter) {
  std::vector<std::tuple<std::string, double, double>> ws;
  const char* chars[] = {"我", "的", "電", "話", "是"};
  for (int i = 0; i < 5; ++i) ws.emplace_back(chars[i], i * 0.2, i * 0.2 + 0.15);
  auto cues = make_cues(words_doc(ws));
  ASSERT_EQ(cues.size(), 1u);
  EXPECT_EQ(cues[0].text, "我的電話是");
}

TEST(Writers, VerboseJsonHasEveryField) {
  TranscriptDoc d;
  d.text = "hello there";
  d.language = "English";
  d.duration = 8.47;
  TranscriptSegment s;
  s.start = 0;
  s.end = 8.47;
  s.text = d.text;
  s.tokens = {1, 2, 3};
  d.segments.push_back(s);
  const nlohmann::json j = verbose_json(d);
  EXPECT_EQ(j["task"], "transcribe");
  EXPECT_EQ(j["language"], "english");
  EXPECT_EQ(j["usage"]["seconds"], 8);
  EXPECT_FALSE(j.contains("words"));
  const auto& seg = j["segments"][0];
  for (const char* k : {"id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
                        "compression_ratio", "no_speech_prob"})
    EXPECT_TRUE(seg.contains(k)) << k;
  EXPECT_TRUE(seg["id"].is_number_integer());
  EXPECT_TRUE(seg["seek"].is_number_integer());
  EXPECT_TRUE(seg["tokens"].is_array());
  d.words_requested = true;
  d.words.push_back({"hello", 0.1, 0.5});
  EXPECT_EQ(verbose_json(d)["words"][0]["word"], "hello");
}

TEST(Writers, SrtAndVttLayout) {
  TranscriptDoc d;
  TranscriptSegment s;
  s.start = 1.5;
  s.end = 3.25;
  s.text = "Hi.";
  d.segments.push_back(s);
  EXPECT_EQ(render(d, OutputFormat::kSrt), "1\n00:00:01,500 --> 00:00:03,250\nHi.\n\n");
  EXPECT_EQ(render(d, OutputFormat::kVtt), "WEBVTT\n\n00:00:01.500 --> 00:00:03.250\nHi.\n\n");
  d.segments[0].text = "";
  EXPECT_EQ(render(d, OutputFormat::kSrt), "");  // silence: no cue
}

TEST(Writers, FormatNames) {
  for (const char* n : {"text", "json", "verbose_json", "srt", "vtt"}) {
    auto f = parse_output_format(n);
    ASSERT_TRUE(f.ok());
    EXPECT_STREQ(output_format_name(*f), n);
  }
  EXPECT_FALSE(parse_output_format("diarized_json").ok());
  EXPECT_STREQ(content_type(OutputFormat::kSrt), "text/plain; charset=utf-8");
}

}  // namespace
}  // namespace qasr
