// Word and character error rates (Levenshtein alignment) on normalized text.
#pragma once

#include <string>
#include <string_view>

namespace qasr {

struct ErrorCounts {
  int64_t substitutions = 0, deletions = 0, insertions = 0, reference_length = 0;
  // errors / reference length; an empty reference gives 0 for an empty hypothesis, else 1.
  double rate() const;
};

// Words: whitespace-separated tokens. Characters: code points, whitespace ignored.
ErrorCounts word_errors(std::string_view reference, std::string_view hypothesis);
ErrorCounts char_errors(std::string_view reference, std::string_view hypothesis);

// True when the text is mostly CJK (scored by CER, as the earlier study did).
bool prefers_cer(std::string_view text);

}  // namespace qasr
