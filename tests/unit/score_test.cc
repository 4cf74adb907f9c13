#include <gtest/gtest.h>

#include "score/metrics.h"
#include "score/normalize.h"

namespace qasr {
namespace {

struct ItnCase {
  const char* in;
  const char* out;
};

// Chinese inverse text normalization: at least 100 cases.
const ItnCase kItn[] = {
    // digit strings, read digit by digit
    {"零九零零", "0900"},
    {"零九一二三四五六七八", "0912345678"},
    {"我的電話是零九一二三四五六七八", "我的電話是0912345678"},
    {"零九零零一二三四五六", "0900123456"},
    {"一二三", "123"},
    {"九九", "99"},
    {"零零七", "007"},
    {"二零二四", "2024"},
    {"一九四九年", "1949年"},
    {"二〇二四年", "2024年"},
    {"分機三五七", "分機357"},
    {"房間四零二", "房間402"},
    {"郵遞區號一零六", "郵遞區號106"},
    {"密碼八八八八", "密碼8888"},
    {"車號五六七八", "車號5678"},
    {"打一一九", "打119"},
    {"撥一一零報警", "撥110報警"},
    {"編號零零一", "編號001"},
    {"代碼二三", "代碼23"},
    {"兩兩", "22"},
    // dates
    {"二零二四年三月五日", "2024年3月5日"},
    {"三月五日", "3月5日"},
    {"十二月二十五日", "12月25日"},
    {"五月一號", "5月1號"},
    {"一月", "1月"},
    {"九月三十日", "9月30日"},
    {"二零零八年八月八日", "2008年8月8日"},
    {"十月十日", "10月10日"},
    {"六月", "6月"},
    {"七日", "7日"},
    // times
    {"三點", "3點"},
    {"下午五點半", "下午5點半"},
    {"十點十分", "10點10分"},
    {"八點二十分", "8點20分"},
    {"五秒", "5秒"},
    {"兩點", "2點"},
    {"十二點", "12點"},
    {"九時", "9時"},
    {"三分鐘", "3分鐘"},
    {"六十秒", "60秒"},
    // numbers with units
    {"一萬兩千三百四十五", "12345"},
    {"十", "十"},
    {"十五", "15"},
    {"二十", "20"},
    {"二十一", "21"},
    {"一百", "100"},
    {"一百零五", "105"},
    {"三百五十", "350"},
    {"一千", "1000"},
    {"一千零一", "1001"},
    {"兩千", "2000"},
    {"兩萬", "20000"},
    {"十萬", "100000"},
    {"一百萬", "1000000"},
    {"一億", "100000000"},
    {"三億五千萬", "350000000"},
    {"九十九", "99"},
    {"一千二百三十四", "1234"},
    {"五萬零五十", "50050"},
    {"一萬", "10000"},
    {"四十二", "42"},
    {"七百", "700"},
    {"八千八百八十八", "8888"},
    {"兩百", "200"},
    {"三百五", "350"},
    {"一萬五", "15000"},
    {"十一", "11"},
    {"十九", "19"},
    {"一十", "10"},
    {"六百六十六", "666"},
    // decimals
    {"三點一四", "3.14"},
    {"零點五", "0.5"},
    {"一點零", "1.0"},
    {"十二點五", "12.5"},
    {"九十九點九", "99.9"},
    {"三點一四一五九", "3.14159"},
    {"圓周率是三點一四", "圓周率是3.14"},
    {"二點五倍", "2.5倍"},
    {"一百點五", "100.5"},
    {"零點零一", "0.01"},
    // percent
    {"百分之五", "5%"},
    {"百分之五十", "50%"},
    {"百分之百", "100%"},
    {"百分之一百", "100%"},
    {"百分之三點五", "3.5%"},
    {"成長百分之二十", "成長20%"},
    {"百分之九十九", "99%"},
    {"百分之零點一", "0.1%"},
    {"打百分之八十折", "打80%折"},
    {"百分之十", "10%"},
    // measures and counts
    {"三個人", "3個人"},
    {"五塊錢", "5塊錢"},
    {"兩歲", "2歲"},
    {"十個", "10個"},
    {"一百元", "100元"},
    {"三次", "3次"},
    {"兩位", "2位"},
    {"第五名", "第5名"},
    {"三天", "3天"},
    {"五樓", "5樓"},
    // words that merely contain numerals stay
    {"一些", "一些"},
    {"一樣", "一樣"},
    {"一心一意", "一心一意"},
    {"一起", "一起"},
    {"一直", "一直"},
    {"統一", "統一"},
    {"萬一", "萬一"},
    {"一定", "一定"},
    {"唯一", "唯一"},
    {"十分好", "十分好"},
    {"三心二意", "三心二意"},
    {"四面八方", "四面八方"},
    {"一般", "一般"},
    {"一下", "一下"},
    {"七上八下", "七上八下"},
    // mixed text and non-Chinese stays
    {"hello 123", "hello 123"},
    {"", ""},
    {"今天天氣很好", "今天天氣很好"},
    {"abc一二def", "abc12def"},
    {"零", "零"},
};

TEST(Itn, Table) {
  ASSERT_GE(std::size(kItn), 100u);
  int bad = 0;
  for (const ItnCase& c : kItn) {
    const std::string got = itn_chinese(c.in);
    if (got != c.out) {
      ++bad;
      ADD_FAILURE() << "itn(" << c.in << ") = " << got << ", want " << c.out;
    }
  }
  std::printf("%zu ITN cases, %d wrong\n", std::size(kItn), bad);
}

const Normalizer& norm() {
  static Normalizer* n = [] {
    auto r = Normalizer::create();
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.error().c_str());
      std::abort();
    }
    return new Normalizer(std::move(r).value());
  }();
  return *n;
}

TEST(Normalize, OpenCcSimplifiedToTraditionalAndIdempotent) {
  EXPECT_EQ(norm().normalize("我的电话是零九一二三四五六七八"), "我的電話是0912345678");
  EXPECT_EQ(norm().normalize("我的電話是0912345678"), "我的電話是0912345678");
  EXPECT_EQ(norm().normalize("广州市房地产中介协会分析"), norm().normalize("廣州市房地產中介協會分析"));
  const std::string once = norm().normalize("今天天气很好我们去公园散步吧");
  EXPECT_EQ(norm().normalize(once), once);
}

TEST(Normalize, NfkcCaseFoldPunctuation) {
  EXPECT_EQ(norm().normalize("ＡＢＣ　１２３！"), "abc 123");
  EXPECT_EQ(norm().normalize("And so, my fellow Americans: ask NOT!"), "and so my fellow americans ask not");
  EXPECT_EQ(norm().normalize("Pi is 3.14, growth 50%."), "pi is 3.14 growth 50%");
  EXPECT_EQ(norm().normalize("你好，世界！ 你好 世界"), "你好世界你好世界");
  EXPECT_EQ(norm().normalize("  "), "");
  EXPECT_EQ(norm().normalize("Straße"), "strasse");
}

TEST(Metrics, WerAndCer) {
  auto w = *word_errors("a b c d", "a x c");
  EXPECT_EQ(w.substitutions, 1);
  EXPECT_EQ(w.deletions, 1);
  EXPECT_EQ(w.insertions, 0);
  EXPECT_DOUBLE_EQ(w.rate(), 0.5);
  auto c = *char_errors("我的電話", "我電話號");
  EXPECT_EQ(c.deletions + c.substitutions + c.insertions, 2);
  EXPECT_DOUBLE_EQ(c.rate(), 0.5);
  EXPECT_DOUBLE_EQ(word_errors("a b", "a b")->rate(), 0.0);
  EXPECT_DOUBLE_EQ(word_errors("a", "b c d")->rate(), 3.0);  // insertions can exceed 100%
}

TEST(Metrics, EmptyReferenceAndHypothesis) {
  EXPECT_DOUBLE_EQ(word_errors("", "")->rate(), 0.0);
  EXPECT_DOUBLE_EQ(word_errors("", "x")->rate(), 1.0);
  EXPECT_DOUBLE_EQ(word_errors("a b", "")->rate(), 1.0);
  EXPECT_DOUBLE_EQ(char_errors("", "")->rate(), 0.0);
  EXPECT_DOUBLE_EQ(char_errors("我", "")->rate(), 1.0);
}

TEST(Metrics, RefusesAlignmentsBeyondTheLimit) {
  // 40000 × 40000 characters = 1.6e9 cells > kMaxAlignmentCells: refused at once, not minutes of work.
  std::string big(40000, 'a');
  auto r = char_errors(big, big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_TRUE(char_errors(std::string(1000, 'a'), std::string(1000, 'b')).ok());
}

TEST(Metrics, LanguageChoice) {
  EXPECT_TRUE(prefers_cer("我的電話是0912345678"));
  EXPECT_TRUE(prefers_cer("こんにちは世界"));
  EXPECT_FALSE(prefers_cer("and so my fellow americans"));
}

}  // namespace
}  // namespace qasr
