#include "text/output_parser.h"

#include <gtest/gtest.h>

namespace qasr {
namespace {

std::string rep(const std::string& s, int n) {
  std::string o;
  for (int i = 0; i < n; ++i) o += s;
  return o;
}

TEST(OutputParser, TaggedOutput) {
  AsrOutput o = parse_asr_output("language English<asr_text>Hello world.");
  EXPECT_EQ(o.language, "English");
  EXPECT_EQ(o.text, "Hello world.");
}

TEST(OutputParser, LanguageIsNormalised) {
  EXPECT_EQ(parse_asr_output("language CHINESE<asr_text>你好").language, "Chinese");
  EXPECT_EQ(parse_asr_output("  language english  <asr_text>  x  ").text, "x");
}

TEST(OutputParser, EmptyAndWhitespace) {
  AsrOutput o = parse_asr_output("  \n ");
  EXPECT_EQ(o.language, "");
  EXPECT_EQ(o.text, "");
}

TEST(OutputParser, LanguageNoneIsSilence) {
  AsrOutput o = parse_asr_output("language None<asr_text>");
  EXPECT_EQ(o.language, "");
  EXPECT_EQ(o.text, "");
  AsrOutput p = parse_asr_output("language none<asr_text> stray ");
  EXPECT_EQ(p.language, "");
  EXPECT_EQ(p.text, "stray");
}

TEST(OutputParser, NoTagIsPlainText) {
  AsrOutput o = parse_asr_output("  just text ");
  EXPECT_EQ(o.language, "");
  EXPECT_EQ(o.text, "just text");
}

TEST(OutputParser, ForcedLanguageKeepsRawText) {
  AsrOutput o = parse_asr_output(" Hello <asr_text> x ", "English");
  EXPECT_EQ(o.language, "English");
  EXPECT_EQ(o.text, "Hello <asr_text> x");  // stripped, otherwise untouched
}

TEST(OutputParser, MultiLineMeta) {
  AsrOutput o = parse_asr_output("\nfoo\nlanguage japanese\n<asr_text>こんにちは");
  EXPECT_EQ(o.language, "Japanese");
  EXPECT_EQ(o.text, "こんにちは");
  // A first line that does not start with "language " is skipped, not fatal.
  EXPECT_EQ(parse_asr_output("noise\nlanguage German<asr_text>Hallo").language, "German");
  // "language " with nothing after it gives no language.
  EXPECT_EQ(parse_asr_output("language <asr_text>x").language, "");
}

TEST(Repetition, CharRunsOverThresholdCollapse) {
  EXPECT_EQ(fix_repetitions(rep("a", 21)), "a");
  EXPECT_EQ(fix_repetitions(rep("a", 20)), rep("a", 20));  // not more than 20: kept
  EXPECT_EQ(fix_repetitions("x" + rep("啊", 50) + "y"), "x啊y");
}

TEST(Repetition, PatternLoopsCollapse) {
  EXPECT_EQ(fix_repetitions("start " + rep("ab", 20) + " end"), "start ab end");
  EXPECT_EQ(fix_repetitions(rep("谢谢你", 25)), "谢谢你");
  EXPECT_EQ(fix_repetitions(rep("ab", 19)), rep("ab", 19));  // 19 repeats: kept
  // The remainder after a collapsed loop is processed again.
  EXPECT_EQ(fix_repetitions(rep("xy", 20) + "-" + rep("pq", 22)), "xy-pq");
}

TEST(Repetition, ParserAppliesTheFix) {
  AsrOutput o = parse_asr_output("language Chinese<asr_text>" + rep("好的", 30));
  EXPECT_EQ(o.language, "Chinese");
  EXPECT_EQ(o.text, "好的");
}

TEST(Repetition, NormalTextUntouched) {
  std::string t = "And so my fellow Americans, ask not what your country can do for you.";
  EXPECT_EQ(fix_repetitions(t), t);
}

}  // namespace
}  // namespace qasr
