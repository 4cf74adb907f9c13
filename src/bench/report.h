// Self-contained HTML report of a benchmark results document: inline SVG memory
// timeline (anonymous and file-backed memory at every phase, one colour per model),
// per-model table, 10-iteration blocks and the verdict. No network needed to view.
#pragma once

#include <string>

#include "bench/switch_results.h"

namespace qasr {

std::string render_html_report(const SwitchResults& results);

}  // namespace qasr
