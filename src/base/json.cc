#include "base/json.h"

#include <fmt/format.h>

namespace qasr {

int json_depth(std::string_view t, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // skip the escaped character
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return -1;
      if (depth > deepest) deepest = depth;
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
  }
  return deepest;
}

Expected<nlohmann::json> parse_json(std::string_view text, std::string_view what, int max_depth) {
  if (json_depth(text, max_depth) < 0)
    return InvalidFormat(fmt::format("{}: JSON nested deeper than {} levels", what, max_depth));
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidFormat(fmt::format("{}: not valid JSON", what));
  return j;
}

std::string dump_json(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace qasr
