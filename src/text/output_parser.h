// Parsing of the generated text (spec §5.4, official parse_asr_output):
//   "language English<asr_text>Hello." → {"English", "Hello."}
// including the official repetition fix (detect_and_fix_repetitions, threshold
// 20) and "language None" (silence: empty language, usually empty text).
// All string operations are on Unicode code points, as in Python.
#pragma once

#include <string>
#include <string_view>

namespace qasr {

struct AsrOutput {
  std::string language;  // "" when unknown or no speech
  std::string text;
};

// `forced_language`: non-empty when the prompt forced a language; the raw output
// is then the transcript alone.
AsrOutput parse_asr_output(std::string_view raw, std::string_view forced_language = {});

// The official repetition fix: runs of more than `threshold` identical characters
// collapse to one; the first pattern of length 1..20 repeated ≥ threshold times
// back-to-back keeps one copy, and the remainder is processed the same way.
std::string fix_repetitions(std::string_view text, int threshold = 20);

}  // namespace qasr
