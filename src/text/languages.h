// The 30 languages Qwen3-ASR can be forced to (official SUPPORTED_LANGUAGES),
// with ISO 639 codes for the command line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qasr {

struct LanguageName {
  const char* name;  // canonical, as written in the prompt: "English"
  const char* code;  // ISO 639-1 where one exists ("yue", "fil" otherwise)
};

const std::vector<LanguageName>& supported_languages();

// "english", "EN", "English" → "English"; unknown → nullopt.
std::optional<std::string> resolve_language(std::string_view name_or_code);

// "Chinese (zh), English (en), ..." for error messages.
std::string supported_languages_list();

// Python's s[:1].upper() + s[1:].lower() (the official normalize_language_name).
std::string normalize_language_name(std::string_view s);

}  // namespace qasr
