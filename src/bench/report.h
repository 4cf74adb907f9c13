// Self-contained HTML report of a benchmark results document: inline SVG memory
// timeline (anonymous and file-backed memory at every phase, one colour per model),
// per-model table, 10-iteration blocks and the verdict. No network needed to view.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace qasr {

std::string render_html_report(const nlohmann::json& results);

}  // namespace qasr
