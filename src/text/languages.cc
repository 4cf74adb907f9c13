#include "text/languages.h"

#include <utf8proc.h>

#include "base/utf8.h"

namespace qasr {

const std::vector<LanguageName>& supported_languages() {
  static const std::vector<LanguageName> kLanguages = {
      {"Chinese", "zh"}, {"English", "en"}, {"Cantonese", "yue"}, {"Arabic", "ar"},     {"German", "de"},
      {"French", "fr"},  {"Spanish", "es"}, {"Portuguese", "pt"}, {"Indonesian", "id"}, {"Italian", "it"},
      {"Korean", "ko"},  {"Russian", "ru"}, {"Thai", "th"},       {"Vietnamese", "vi"}, {"Japanese", "ja"},
      {"Turkish", "tr"}, {"Hindi", "hi"},   {"Malay", "ms"},      {"Dutch", "nl"},      {"Swedish", "sv"},
      {"Danish", "da"},  {"Finnish", "fi"}, {"Polish", "pl"},     {"Czech", "cs"},      {"Filipino", "fil"},
      {"Persian", "fa"}, {"Greek", "el"},   {"Romanian", "ro"},   {"Hungarian", "hu"},  {"Macedonian", "mk"},
  };
  return kLanguages;
}

static std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::optional<std::string> resolve_language(std::string_view s) {
  std::string key = ascii_lower(utf8::strip(s));
  for (const LanguageName& l : supported_languages()) {
    if (key == ascii_lower(l.name) || key == l.code) return std::string(l.name);
  }
  if (key == "tl") return std::string("Filipino");  // Tagalog code, commonly used for Filipino
  return std::nullopt;
}

std::string supported_languages_list() {
  std::string out;
  for (const LanguageName& l : supported_languages()) {
    if (!out.empty()) out += ", ";
    out += std::string(l.name) + " (" + l.code + ")";
  }
  return out;
}

std::string normalize_language_name(std::string_view s) {
  std::u32string u = utf8::to_u32(utf8::repair(s));
  for (size_t i = 0; i < u.size(); ++i)
    u[i] = static_cast<char32_t>(i == 0 ? utf8proc_toupper(static_cast<utf8proc_int32_t>(u[i]))
                                        : utf8proc_tolower(static_cast<utf8proc_int32_t>(u[i])));
  return utf8::from_u32(u);
}

}  // namespace qasr
