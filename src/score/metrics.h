// Word and character error rates (Levenshtein alignment) on normalized text.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace qasr {

struct ErrorCounts {
  int64_t substitutions = 0, deletions = 0, insertions = 0, reference_length = 0;
  // errors / reference length; an empty reference gives 0 for an empty hypothesis, else 1.
  double rate() const;
};

// Words: whitespace-separated tokens. Characters: code points, whitespace ignored.
// The alignment is O(|ref|·|hyp|) in time (linear in memory): inputs whose product
// exceeds kMaxAlignmentCells (a few seconds of work) are refused with TooLarge.
inline constexpr int64_t kMaxAlignmentCells = int64_t{1} << 30;
Expected<ErrorCounts> word_errors(std::string_view reference, std::string_view hypothesis);
Expected<ErrorCounts> char_errors(std::string_view reference, std::string_view hypothesis);

// True when the text is mostly CJK (scored by CER, as the earlier study did).
bool prefers_cer(std::string_view text);

}  // namespace qasr
