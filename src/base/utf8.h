// UTF-8 helpers shared by the tokenizer, the output parser and scoring.
// Decoding follows Python's `bytes.decode("utf-8", errors="replace")`: each
// maximal ill-formed subpart becomes one U+FFFD (Unicode "best practice").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace qasr::utf8 {

// Bytes → valid UTF-8, ill-formed subparts replaced by U+FFFD.
std::string repair(std::string_view bytes);

// Length of the longest prefix of `bytes` that does not end inside an incomplete
// (but so far valid) multi-byte sequence. Used by streaming: emit only whole chars.
size_t complete_prefix(std::string_view bytes);

// Valid UTF-8 → code points (input must be valid, e.g. the output of repair()).
std::u32string to_u32(std::string_view s);
std::string from_u32(std::u32string_view s);
void append(std::string& out, char32_t cp);

// Python str.isspace() for one code point.
bool is_space(char32_t cp);
// Python str.strip() with no arguments, on code points.
std::u32string_view strip(std::u32string_view s);
std::string strip(std::string_view s);

}  // namespace qasr::utf8
