#include "base/utf8.h"

#include <gtest/gtest.h>

namespace qasr {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

TEST(Utf8, RepairKeepsValidText) {
  EXPECT_EQ(utf8::repair("héllo 你好 😀"), "héllo 你好 😀");
}

TEST(Utf8, RepairFollowsPythonReplace) {
  // Expectations from Python: bytes.decode("utf-8", "replace").
  EXPECT_EQ(utf8::repair("\xff"), kFFFD);
  EXPECT_EQ(utf8::repair("a\xe4\xb8"), "a" + kFFFD);  // truncated 3-byte: one U+FFFD
  EXPECT_EQ(utf8::repair("\xe4\xb8x"), kFFFD + "x");
  EXPECT_EQ(utf8::repair("\xed\xa0\x80"), kFFFD + kFFFD + kFFFD);              // surrogate: ED then 2 strays
  EXPECT_EQ(utf8::repair("\xf0\x9f\x98"), kFFFD);                              // truncated emoji
  EXPECT_EQ(utf8::repair("\xc0\xaf"), kFFFD + kFFFD);                          // overlong
  EXPECT_EQ(utf8::repair("\xf4\x90\x80\x80"), kFFFD + kFFFD + kFFFD + kFFFD);  // > U+10FFFF
}

TEST(Utf8, CompletePrefixHoldsBackOpenSequences) {
  EXPECT_EQ(utf8::complete_prefix("ab"), 2u);
  EXPECT_EQ(utf8::complete_prefix("a\xe4\xb8"), 1u);
  EXPECT_EQ(utf8::complete_prefix("a\xe4\xb8\xad"), 4u);
  EXPECT_EQ(utf8::complete_prefix("a\xf0\x9f"), 1u);
  EXPECT_EQ(utf8::complete_prefix("a\xff"), 2u);   // invalid: nothing to wait for
  EXPECT_EQ(utf8::complete_prefix("a\xe4x"), 3u);  // broken, not open
}

TEST(Utf8, StripIsPythonStrip) {
  EXPECT_EQ(utf8::strip(" \t\n x y \u3000\r"), "x y");
  EXPECT_EQ(utf8::strip("   "), "");
}

}  // namespace
}  // namespace qasr
