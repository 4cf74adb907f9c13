#include "text/output_parser.h"

#include <utf8proc.h>

#include <vector>

#include "base/utf8.h"
#include "text/languages.h"

namespace qasr {
namespace {

using U32 = std::u32string;
using U32View = std::u32string_view;

U32 fix_char_repeats(U32View s, int thresh) {
  U32 res;
  res.reserve(s.size());
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    size_t count = 1;
    while (i + count < n && s[i + count] == s[i]) ++count;
    if (count > static_cast<size_t>(thresh))
      res.push_back(s[i]);
    else
      res.append(s.substr(i, count));
    i += count;
  }
  return res;
}

// Iterative form of the official recursive fix_pattern_repeats: after a pattern is
// collapsed, the remainder is processed from its start with the same rules.
U32 fix_pattern_repeats(U32View s, int thresh, int max_len = 20) {
  U32 result;
  result.reserve(s.size());
  const size_t th = static_cast<size_t>(thresh);
  for (;;) {
    const size_t n = s.size();
    if (n < th * 2) {
      result.append(s);
      return result;
    }
    size_t i = 0;
    bool found = false;
    while (i <= n - th * 2) {
      for (size_t k = 1; k <= static_cast<size_t>(max_len); ++k) {
        if (i + k * th > n) break;
        U32View pattern = s.substr(i, k);
        bool valid = true;
        for (size_t rep = 1; rep < th; ++rep) {
          if (s.substr(i + rep * k, k) != pattern) {
            valid = false;
            break;
          }
        }
        if (valid) {
          size_t end = i + th * k;
          while (end + k <= n && s.substr(end, k) == pattern) end += k;
          result.append(pattern);
          s = s.substr(end);
          found = true;
          break;
        }
      }
      if (found) break;
      result.push_back(s[i]);
      ++i;
    }
    if (!found) {
      result.append(s.substr(i));
      return result;
    }
  }
}

// Python str.splitlines() boundaries.
bool is_line_break(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
         c == 0x2028 || c == 0x2029;
}

U32 lower(U32View s) {
  U32 out(s);
  for (char32_t& c : out) c = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  return out;
}

// Python str.splitlines() (no keepends).
std::vector<U32View> split_lines(U32View s) {
  std::vector<U32View> lines;
  size_t start = 0, i = 0;
  while (i < s.size()) {
    if (is_line_break(s[i])) {
      lines.push_back(s.substr(start, i - start));
      i += (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
      start = i;
    } else {
      ++i;
    }
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

}  // namespace

std::string fix_repetitions(std::string_view text, int threshold) {
  U32 u = utf8::to_u32(utf8::repair(text));
  U32 a = fix_char_repeats(u, threshold);
  return utf8::from_u32(fix_pattern_repeats(a, threshold));
}

AsrOutput parse_asr_output(std::string_view raw, std::string_view forced_language) {
  U32 full = utf8::to_u32(utf8::repair(raw));
  U32View stripped = utf8::strip(U32View(full));
  if (stripped.empty()) return {};
  U32 s = fix_pattern_repeats(fix_char_repeats(stripped, 20), 20);
  if (!forced_language.empty()) return {std::string(forced_language), utf8::from_u32(s)};

  static const U32 kTag = U"<asr_text>";
  size_t tag = s.find(kTag);
  if (tag == U32::npos) return {"", utf8::from_u32(utf8::strip(U32View(s)))};
  U32View meta = U32View(s).substr(0, tag);
  U32View text = U32View(s).substr(tag + kTag.size());
  if (lower(meta).find(U"language none") != U32::npos) return {"", utf8::from_u32(utf8::strip(text))};

  // The language is taken from the first non-empty line that starts with "language ".
  std::string lang;
  static const U32 kPrefix = U"language ";
  for (U32View raw_line : split_lines(meta)) {
    U32View line = utf8::strip(raw_line);
    if (line.empty()) continue;
    if (lower(line).rfind(kPrefix, 0) == 0) {
      U32View val = utf8::strip(line.substr(kPrefix.size()));
      if (!val.empty()) lang = normalize_language_name(utf8::from_u32(val));
      break;
    }
  }
  return {lang, utf8::from_u32(utf8::strip(text))};
}

}  // namespace qasr
