#include "server/metrics.h"

#include <cmath>

#include <fmt/format.h>

namespace qasr {
namespace {

// Buckets in seconds: from a health check to a long transcription.
const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};

std::string escape(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o.push_back('\\');
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o.push_back(c);
  }
  return o;
}

std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

}  // namespace

std::string Metrics::label_text(const Labels& l) {
  std::string s;
  for (const auto& [k, v] : l) s += (s.empty() ? "" : ",") + k + "=\"" + escape(v) + "\"";
  return s;
}

void Metrics::add(const std::string& name, const Labels& labels, double v, const char* help) {
  std::lock_guard<std::mutex> lk(mu_);
  Family& f = families_[name];
  if (f.type.empty()) f.type = "counter", f.help = help;
  f.values[label_text(labels)] += v;
}

void Metrics::set(const std::string& name, const Labels& labels, double v, const char* help) {
  std::lock_guard<std::mutex> lk(mu_);
  Family& f = families_[name];
  if (f.type.empty()) f.type = "gauge", f.help = help;
  f.values[label_text(labels)] = v;
}

void Metrics::observe(const std::string& name, const Labels& labels, double v, const char* help) {
  std::lock_guard<std::mutex> lk(mu_);
  Family& f = families_[name];
  if (f.type.empty()) f.type = "histogram", f.help = help;
  Histogram& h = f.histograms[label_text(labels)];
  if (h.counts.empty()) h.counts.assign(kBuckets.size(), 0);
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (v <= kBuckets[i]) {
      h.counts[i] += 1;
      break;
    }
  h.sum += v;
  ++h.count;
}

double Metrics::value(const std::string& name, const Labels& labels) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return 0;
  auto v = f->second.values.find(label_text(labels));
  return v == f->second.values.end() ? 0 : v->second;
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::string o;
  for (const auto& [name, f] : families_) {
    o += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const auto& [labels, v] : f.values)
      o += labels.empty() ? fmt::format("{} {}\n", name, num(v)) : fmt::format("{}{{{}}} {}\n", name, labels, num(v));
    for (const auto& [labels, h] : f.histograms) {
      const std::string sep = labels.empty() ? "" : ",";
      double cum = 0;
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cum += h.counts[i];
        o += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, num(kBuckets[i]), num(cum));
      }
      o += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, h.count);
      const std::string lb = labels.empty() ? "" : "{" + labels + "}";
      o += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, lb, num(h.sum), name, lb, h.count);
    }
  }
  return o;
}

}  // namespace qasr
