#include "score/normalize.h"

#include <opencc/opencc.h>
#include <utf8proc.h>

#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/utf8.h"

namespace qasr {
namespace {

int digit_value(char32_t c) {
  switch (c) {
    case U'零':
    case U'〇':
      return 0;
    case U'一':
    case U'壹':
      return 1;
    case U'二':
    case U'兩':
    case U'两':
    case U'貳':
      return 2;
    case U'三':
    case U'參':
      return 3;
    case U'四':
    case U'肆':
      return 4;
    case U'五':
    case U'伍':
      return 5;
    case U'六':
    case U'陸':
      return 6;
    case U'七':
    case U'柒':
      return 7;
    case U'八':
    case U'捌':
      return 8;
    case U'九':
    case U'玖':
      return 9;
    default:
      return -1;
  }
}

int64_t unit_value(char32_t c) {
  switch (c) {
    case U'十':
    case U'拾':
      return 10;
    case U'百':
    case U'佰':
      return 100;
    case U'千':
    case U'仟':
      return 1000;
    case U'萬':
    case U'万':
      return 10000;
    case U'億':
    case U'亿':
      return 100000000;
    default:
      return 0;
  }
}

bool is_numeral(char32_t c) {
  return digit_value(c) >= 0 || unit_value(c) > 0;
}

// Characters after which a single numeral is a quantity (dates, times, measures).
bool is_measure(char32_t c) {
  static const std::u32string kMeasures = U"年月日號号點点時时分秒歲岁個个元塊块次位名天週周度樓楼號碼歲";
  return kMeasures.find(c) != std::u32string::npos;
}

// Value of a numeral run with units ("一萬兩千三百四十五", "三億五千萬", "一百零五");
// -1 if it is not a well-formed number. 零 is a placeholder between units.
int64_t parse_with_units(std::u32string_view s) {
  if (s.empty() || (digit_value(s[0]) < 0 && unit_value(s[0]) != 10)) return -1;  // must start with a digit or 十
  int64_t yi = 0, wan = 0, sec = 0, digit = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    const int d = digit_value(s[i]);
    if (d >= 0) {
      if (digit > 0) return -1;  // two non-zero digits in a row inside a unit numeral
      digit = d;
      continue;
    }
    const int64_t u = unit_value(s[i]);
    const int64_t dv = digit >= 0 ? digit : 0;
    if (u == 100000000) {
      const int64_t part = wan + sec + dv;
      yi += (part == 0 ? 1 : part) * u;
      wan = sec = 0;
    } else if (u == 10000) {
      const int64_t part = sec + dv;
      wan += (part == 0 ? 1 : part) * u;
      sec = 0;
    } else {
      sec += (digit > 0 ? digit : digit == 0 ? 0 : 1) * u;  // "十五": an implicit 1
    }
    digit = -1;
  }
  if (digit > 0) {
    // A trailing digit right after a unit is that unit's next place: 三百五 = 350, 一萬五 = 15000.
    const int64_t prev = s.size() >= 2 ? unit_value(s[s.size() - 2]) : 0;
    sec += prev >= 100 ? digit * (prev / 10) : digit;
  }
  return yi + wan + sec;
}

std::string digits_of(std::u32string_view s) {
  std::string out;
  for (char32_t c : s) out.push_back(static_cast<char>('0' + digit_value(c)));
  return out;
}

bool has_unit(std::u32string_view s) {
  for (char32_t c : s)
    if (unit_value(c) > 0) return true;
  return false;
}

// Converts one numeral run; `next` is the character after it (0 at the end).
std::string convert_run(std::u32string_view run, char32_t prev, char32_t next, bool* converted) {
  *converted = true;
  if (has_unit(run)) {
    // A lone 十 is a number only before a measure (十個, 十月); 十分 ("very") stays.
    const bool after_hour = prev == U'點' || prev == U'点';  // 十點十分: minutes, not "very"
    if (run.size() >= 2 ||
        (unit_value(run[0]) == 10 && next != 0 && is_measure(next) && (next != U'分' || after_hour))) {
      const int64_t v = parse_with_units(run);
      if (v >= 0) return std::to_string(v);
    }
  } else if (run.size() >= 2 || (next != 0 && is_measure(next))) {
    return digits_of(run);  // digit by digit: phone numbers, years, codes; a lone digit before a measure
  }
  *converted = false;
  return utf8::from_u32(run);
}

bool is_cjk(char32_t c) {
  return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x20000 && c <= 0x2FA1F);
}

}  // namespace

std::string itn_chinese(std::string_view text) {
  const std::u32string s = utf8::to_u32(utf8::repair(text));
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < s.size()) {
    // 百分之N → N%
    static const std::u32string kPercent = U"百分之";
    if (s.compare(i, kPercent.size(), kPercent) == 0 && i + 3 < s.size() && is_numeral(s[i + 3])) {
      size_t j = i + 3;
      while (j < s.size() && is_numeral(s[j])) ++j;
      std::u32string_view run(s.data() + i + 3, j - i - 3);
      const int64_t v = run == U"百" ? 100 : has_unit(run) ? parse_with_units(run) : -2;
      if (v == -1) {  // not a number after all: keep the text
        utf8::append(out, s[i]);
        ++i;
        continue;
      }
      std::string num = v >= 0 ? std::to_string(v) : digits_of(run);
      // decimals: 百分之三點五 → 3.5%
      if (j + 1 < s.size() && (s[j] == U'點' || s[j] == U'点') && digit_value(s[j + 1]) >= 0) {
        size_t k = j + 1;
        while (k < s.size() && digit_value(s[k]) >= 0) ++k;
        num += "." + digits_of(std::u32string_view(s.data() + j + 1, k - j - 1));
        j = k;
      }
      out += num + "%";
      i = j;
      continue;
    }
    if (!is_numeral(s[i])) {
      utf8::append(out, s[i]);
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_numeral(s[j])) ++j;
    std::u32string_view run(s.data() + i, j - i);
    // N點M → N.M (a decimal needs plain digits after 點, not a unit numeral: 八點二十分 is a time)
    size_t k = j + 1;
    while (k < s.size() && digit_value(s[k]) >= 0) ++k;
    if (j + 1 < s.size() && (s[j] == U'點' || s[j] == U'点') && digit_value(s[j + 1]) >= 0 &&
        !(k < s.size() && unit_value(s[k]) > 0)) {
      const std::string whole = has_unit(run) ? std::to_string(parse_with_units(run)) : digits_of(run);
      if (whole != "-1") {
        out += whole + "." + digits_of(std::u32string_view(s.data() + j + 1, k - j - 1));
        i = k;
        continue;
      }
    }
    bool converted;
    out += convert_run(run, i > 0 ? s[i - 1] : 0, j < s.size() ? s[j] : 0, &converted);
    i = j;
  }
  return out;
}

Expected<Normalizer> Normalizer::create() {
  Normalizer n;
  opencc_t od = opencc_open("s2twp.json");
  if (od == reinterpret_cast<opencc_t>(-1))  // NOLINT(performance-no-int-to-ptr): OpenCC's error value
    return Unavailable(fmt::format(
        "cannot load OpenCC's s2twp configuration: {} (is Debian's libopencc data installed?)", opencc_error()));
  n.opencc_ = od;
  return n;
}

Normalizer::Normalizer(Normalizer&& o) noexcept : opencc_(std::exchange(o.opencc_, nullptr)) {}
Normalizer& Normalizer::operator=(Normalizer&& o) noexcept {
  if (this != &o) {
    if (opencc_) opencc_close(static_cast<opencc_t>(opencc_));
    opencc_ = std::exchange(o.opencc_, nullptr);
  }
  return *this;
}
Normalizer::~Normalizer() {
  if (opencc_) opencc_close(static_cast<opencc_t>(opencc_));
}

std::string Normalizer::normalize(std::string_view text) const {
  // 1. NFKC + case fold.
  const std::string valid = utf8::repair(text);
  utf8proc_uint8_t* folded = nullptr;
  utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(valid.data()), valid.size(), &folded,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
  std::string s = n >= 0 ? std::string(reinterpret_cast<char*>(folded), n) : valid;
  std::free(folded);
  // 2. zh-CN → zh-TW.
  if (opencc_) {
    char* conv = opencc_convert_utf8(static_cast<opencc_t>(opencc_), s.c_str(), s.size());
    if (conv) {
      s = conv;
      opencc_convert_utf8_free(conv);
    }
  }
  // 3. Chinese ITN.
  s = itn_chinese(s);
  // 4. Punctuation out ('.' and '%' kept inside numbers), whitespace collapsed,
  //    spaces around CJK dropped.
  const std::u32string u = utf8::to_u32(s);
  std::u32string t;
  auto is_digit = [](char32_t c) { return c >= '0' && c <= '9'; };
  for (size_t i = 0; i < u.size(); ++i) {
    const char32_t c = u[i];
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    const bool space = utf8::is_space(c);
    const bool punct = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
    const bool symbol = cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO;
    const bool decimal_point = c == '.' && i > 0 && i + 1 < u.size() && is_digit(u[i - 1]) && is_digit(u[i + 1]);
    const bool percent = c == '%' && i > 0 && is_digit(u[i - 1]);
    // Apostrophes inside words ("don't") are letters for WER; drop them uniformly.
    if (c == '\'' && i > 0 && i + 1 < u.size() && !space) continue;
    if ((space || punct || symbol) && !decimal_point && !percent) {
      if (!t.empty() && t.back() != ' ') t.push_back(' ');
    } else {
      t.push_back(c);
    }
  }
  std::u32string r;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == ' ') {
      const bool at_edge = r.empty() || i + 1 == t.size();
      if (at_edge || is_cjk(r.back()) || is_cjk(t[i + 1])) continue;
    }
    r.push_back(t[i]);
  }
  return utf8::from_u32(r);
}

}  // namespace qasr
