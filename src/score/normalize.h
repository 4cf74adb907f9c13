// Text normalization for scoring (the same on reference and hypothesis):
//   1. Unicode NFKC + case folding (utf8proc);
//   2. Simplified → Traditional Chinese with Taiwan phrases (OpenCC s2twp;
//      idempotent on Traditional text), so zh-CN and zh-TW transcripts compare;
//   3. Chinese inverse text normalization of numbers (itn_chinese);
//   4. punctuation removed, except '.' and '%' inside numbers; whitespace collapsed;
//      spaces next to CJK characters removed (they carry no word boundary there).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace qasr {

// Chinese numerals → digits, conservatively:
//   零九零零 → 0900 and phone numbers digit by digit (runs of ≥ 2 digit characters);
//   一萬兩千三百四十五 → 12345 (runs with units 十百千萬億);
//   三點一四 → 3.14; 百分之五 → 5%; 二零二四年三月五日 → 2024年3月5日 (a single digit
//   before a date/time/measure character);
//   words that merely contain a numeral (一些, 一樣, 一心一意) stay.
std::string itn_chinese(std::string_view text);

class Normalizer {
 public:
  // Loads OpenCC's s2twp configuration (Debian's libopencc data).
  static Expected<Normalizer> create();
  Normalizer(Normalizer&&) noexcept;
  Normalizer& operator=(Normalizer&&) noexcept;
  ~Normalizer();
  std::string normalize(std::string_view text) const;

 private:
  Normalizer() = default;
  void* opencc_ = nullptr;  // opencc_t
};

}  // namespace qasr
