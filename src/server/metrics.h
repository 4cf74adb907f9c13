// Prometheus metrics of `qasr serve` (text exposition format 0.0.4; server-api.md §2.3):
// `qasr_` prefix, base units (seconds, bytes), counters ending in `_total`, labels bounded
// by the configuration (model names, formats, status codes, reasons). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace qasr {

class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // `help` and `type` are registered on first use of a name.
  void add(const std::string& name, const Labels& labels, double v, const char* help);      // counter
  void set(const std::string& name, const Labels& labels, double v, const char* help);      // gauge
  void observe(const std::string& name, const Labels& labels, double v, const char* help);  // histogram (seconds)
  double value(const std::string& name, const Labels& labels) const;                        // counter or gauge (tests)
  // The exposition text, families in name order.
  std::string render() const;

 private:
  struct Histogram {
    std::vector<double> counts;  // per bucket (cumulative at render)
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string type, help;
    std::map<std::string, double> values;  // label text → value
    std::map<std::string, Histogram> histograms;
  };
  static std::string label_text(const Labels& l);
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace qasr
