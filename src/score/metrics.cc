#include "score/metrics.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "base/utf8.h"

namespace qasr {
namespace {

template <typename T>
Expected<ErrorCounts> align(const std::vector<T>& ref, const std::vector<T>& hyp, const char* unit) {
  if (!ref.empty() && static_cast<double>(ref.size()) * static_cast<double>(hyp.size()) > kMaxAlignmentCells)
    return TooLarge(fmt::format("scoring {} reference {} against {} would take {:.0e} alignment steps (limit {:.0e})",
                                ref.size(), unit, hyp.size(), static_cast<double>(ref.size()) * hyp.size(),
                                static_cast<double>(kMaxAlignmentCells)));
  // Levenshtein with backtrace counts; O(|ref|·|hyp|) time, O(|hyp|) rows kept.
  const size_t n = ref.size(), m = hyp.size();
  struct Cell {
    int64_t cost, s, d, i;
  };
  std::vector<Cell> prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = {static_cast<int64_t>(j), 0, 0, static_cast<int64_t>(j)};
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = {static_cast<int64_t>(i), 0, static_cast<int64_t>(i), 0};
    for (size_t j = 1; j <= m; ++j) {
      Cell best;
      if (ref[i - 1] == hyp[j - 1]) {
        best = prev[j - 1];
      } else {
        best = prev[j - 1];
        best.cost++, best.s++;
      }
      Cell del = prev[j];
      del.cost++, del.d++;
      Cell ins = cur[j - 1];
      ins.cost++, ins.i++;
      if (del.cost < best.cost) best = del;
      if (ins.cost < best.cost) best = ins;
      cur[j] = best;
    }
    std::swap(prev, cur);
  }
  ErrorCounts e;
  e.substitutions = prev[m].s;
  e.deletions = prev[m].d;
  e.insertions = prev[m].i;
  e.reference_length = static_cast<int64_t>(n);
  return e;
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char32_t c : utf8::to_u32(utf8::repair(s))) {
    if (utf8::is_space(c)) {
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
    } else {
      utf8::append(cur, c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::vector<char32_t> chars(std::string_view s) {
  std::vector<char32_t> out;
  for (char32_t c : utf8::to_u32(utf8::repair(s)))
    if (!utf8::is_space(c)) out.push_back(c);
  return out;
}

}  // namespace

double ErrorCounts::rate() const {
  const int64_t errors = substitutions + deletions + insertions;
  if (reference_length == 0) return errors == 0 ? 0.0 : 1.0;
  return static_cast<double>(errors) / static_cast<double>(reference_length);
}

Expected<ErrorCounts> word_errors(std::string_view r, std::string_view h) {
  return align(words(r), words(h), "words");
}
Expected<ErrorCounts> char_errors(std::string_view r, std::string_view h) {
  return align(chars(r), chars(h), "characters");
}

bool prefers_cer(std::string_view text) {
  int64_t cjk = 0, other = 0;
  for (char32_t c : utf8::to_u32(utf8::repair(text))) {
    if (utf8::is_space(c)) continue;
    if ((c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF))
      ++cjk;
    else
      ++other;
  }
  return cjk > 0 && cjk >= other / 2;
}

}  // namespace qasr
