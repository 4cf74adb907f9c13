// JSON from files and requests, parsed safely: nesting deeper than a limit is refused
// before nlohmann sees it (its parser is iterative, but copying, comparing and dumping a
// value recurse, so a hostile 100k-deep header would overflow the stack later), and a
// syntax error is a Status, never an exception.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace qasr {

inline constexpr int kMaxJsonDepth = 64;

// `what` names the document in messages ("'x/config.json'"). Errors are InvalidFormat.
Expected<nlohmann::json> parse_json(std::string_view text, std::string_view what, int max_depth = kMaxJsonDepth);

// Depth of the deepest nesting of arrays/objects in `text` (strings skipped), or -1 as
// soon as it exceeds `limit`.
int json_depth(std::string_view text, int limit);

// j.dump() that never throws: invalid UTF-8 is replaced (U+FFFD).
std::string dump_json(const nlohmann::json& j, int indent = -1);

}  // namespace qasr
