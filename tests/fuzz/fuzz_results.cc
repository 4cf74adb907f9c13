// libFuzzer harness: JSON from files (depth-checked parse_json) and the benchmark results
// reader `qasr report` uses, then the analysis and the HTML report on what it accepted.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/json.h"
#include "bench/report.h"
#include "bench/switch_bench.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = qasr::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!j.ok()) return 0;
  auto r = qasr::switch_results_from_json(*j);
  if (!r.ok()) return 0;
  qasr::analyse_switch_results(*r);
  (void)qasr::render_html_report(*r);
  (void)qasr::format_switch_summary(*r);
  (void)qasr::format_switch_csv(*r);
  return 0;
}
