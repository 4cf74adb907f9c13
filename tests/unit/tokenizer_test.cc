#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "text/languages.h"

namespace qasr {
namespace {

using Ids = std::vector<int32_t>;

const Tokenizer& tok() {
  static Tokenizer* t = [] {
    auto r = Tokenizer::load_dir(testing::asset_path("qwen3-asr-tokenizer"));
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.error().c_str());
      std::abort();
    }
    return new Tokenizer(std::move(r).value());
  }();
  return *t;
}

TEST(Tokenizer, LoadsTheRealFiles) {
  EXPECT_EQ(tok().n_vocab_entries(), 151643);
  EXPECT_EQ(tok().n_merges(), 151387u);
  EXPECT_EQ(tok().added_tokens().size(), 62u);
  EXPECT_EQ(tok().size(), 151705);
}

TEST(Tokenizer, PromptPrefixIds) {
  // spec §5.1: empty-context prefix.
  EXPECT_EQ(tok().encode("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n<|audio_start|>"),
            (Ids{151644, 8948, 198, 151645, 198, 151644, 872, 198, 151669}));
  EXPECT_EQ(tok().encode("<|audio_end|><|im_end|>\n<|im_start|>assistant\n"),
            (Ids{151670, 151645, 198, 151644, 77091, 198}));
}

TEST(Tokenizer, LanguageIds) {
  struct Case {
    const char* name;
    Ids ids;
  } cases[] = {
      {"Chinese", {8453}},   {"English", {6364}},     {"Cantonese", {72366, 2367}},
      {"Arabic", {34117}},   {"German", {5938}},      {"French", {8585}},
      {"Spanish", {15154}},  {"Portuguese", {42188}}, {"Indonesian", {58829}},
      {"Italian", {14811}},  {"Korean", {16134}},     {"Russian", {8522}},
      {"Thai", {26392}},     {"Vietnamese", {48477}}, {"Japanese", {10769}},
      {"Turkish", {23734}},  {"Hindi", {43980}},      {"Malay", {79140}},
      {"Dutch", {23234}},    {"Swedish", {30109}},    {"Danish", {43680}},
      {"Finnish", {57853}},  {"Polish", {31984}},     {"Czech", {33150}},
      {"Filipino", {62417}}, {"Persian", {49861}},    {"Greek", {17860}},
      {"Romanian", {73597}}, {"Hungarian", {56769}},  {"Macedonian", {56452, 75491}},
  };
  ASSERT_EQ(std::size(cases), supported_languages().size());
  for (const Case& c : cases) EXPECT_EQ(tok().encode(std::string(" ") + c.name), c.ids) << c.name;
  EXPECT_EQ(tok().encode("language"), (Ids{11528}));
  EXPECT_EQ(tok().encode(" None"), (Ids{2240}));
  EXPECT_EQ(tok().encode("assistant\nlanguage English<asr_text>"), (Ids{77091, 198, 11528, 6364, 151704}));
}

TEST(Tokenizer, DigitsAreSplitOneByOne) {
  EXPECT_EQ(tok().encode("2024"), (Ids{17, 15, 17, 19}));
  EXPECT_EQ(tok().encode("Hello world"), (Ids{9707, 1879}));
}

TEST(Tokenizer, RoundTrips) {
  const char* texts[] = {
      "And so my fellow Americans, ask not what your country can do for you.",
      "我的電話是0912345678，广州市房地产中介协会分析。",
      "日本語のテキスト、カタカナとひらがな。",
      "emoji 😀👍🏽 and flags 🇹🇼",
      "mixed: Ελληνικά, русский, العربية, हिन्दी, ไทย",
      "  leading spaces\n\nnew lines\r\n\ttabs   trailing  ",
      "it's we'll they'd I'M YOU'RE",
      "3.14159 + 2e10 = 1,000,000",
  };
  for (const char* t : texts) {
    Ids ids = tok().encode(t);
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(tok().decode(ids), t) << t;
  }
}

TEST(Tokenizer, NfcBeforeEncoding) {
  // "e" + combining acute → "é" (NFC) before tokenizing.
  EXPECT_EQ(tok().encode("caf\x65\xcc\x81"), tok().encode("caf\xc3\xa9"));
}

TEST(Tokenizer, InvalidBytesDecodeToReplacement) {
  // A lone byte token from the middle of a multi-byte character.
  Ids ids = tok().encode("你");
  ASSERT_GE(ids.size(), 1u);
  Ids cut;
  for (int32_t id : tok().encode("a")) cut.push_back(id);
  // Byte-level token for 0xE4 alone (first byte of 你): its string is byte_to_unicode(0xE4).
  std::string s;
  char32_t c = byte_to_unicode(0xE4);
  s.push_back(static_cast<char>(0xC0 | (c >> 6)));
  s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  auto id = tok().find(s);
  ASSERT_TRUE(id.has_value());
  cut.push_back(*id);
  EXPECT_EQ(tok().decode(cut), "a\xEF\xBF\xBD");
}

TEST(Tokenizer, SpecialTokensSkippedExceptNonSpecialAdded) {
  auto asr = tok().find("<asr_text>");
  ASSERT_TRUE(asr.has_value());
  EXPECT_EQ(*asr, 151704);
  // language English<asr_text>Hello<|im_end|>
  Ids ids = {11528, 6364, 151704, 9707, 151645};
  EXPECT_EQ(tok().decode(ids), "language English<asr_text>Hello");
  EXPECT_EQ(tok().decode(ids, /*skip_special=*/false), "language English<asr_text>Hello<|im_end|>");
  EXPECT_FALSE(tok().is_special(151675));  // <non_speech> survives
  EXPECT_EQ(tok().decode(Ids{151675}), "<non_speech>");
  EXPECT_TRUE(tok().is_special(151676));
}

TEST(Tokenizer, PaddingRowsDecodeToNothing) {
  EXPECT_EQ(tok().decode(Ids{9707, 151800, 151935, 1879}), "Hello world");
  EXPECT_EQ(tok().decode(Ids{-5, 9707}), "Hello");
}

TEST(Tokenizer, AddedTokensInsideText) {
  EXPECT_EQ(tok().encode("a<|im_end|>b"), (Ids{64, 151645, 65}));
}

TEST(Tokenizer, MissingFolderIsAnError) {
  auto r = Tokenizer::load_dir("/nonexistent");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("vocab.json"), std::string::npos);
}

TEST(Tokenizer, FromTablesRejectsBrokenMerges) {
  std::vector<std::string> toks;
  for (int b = 0; b < 256; ++b) {
    std::string s;
    char32_t c = byte_to_unicode(static_cast<uint8_t>(b));
    if (c < 0x80)
      s.push_back(static_cast<char>(c));
    else {
      s.push_back(static_cast<char>(0xC0 | (c >> 6)));
      s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
    toks.push_back(s);
  }
  auto bad = Tokenizer::from_tables(toks, {{"a", "b"}}, {});
  EXPECT_FALSE(bad.ok());
  toks.push_back("ab");
  auto good = Tokenizer::from_tables(toks, {{"a", "b"}}, {{300, "<x>", true}});
  ASSERT_TRUE(good.ok()) << good.error();
  EXPECT_EQ(good->encode("abc<x>"), (Ids{256, 'c', 300}));  // ids here are byte values
}

}  // namespace
}  // namespace qasr
