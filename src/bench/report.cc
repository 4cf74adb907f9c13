#include "bench/report.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace qasr {
namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o.push_back(c);
    }
  }
  return o;
}

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"};

struct Point {
  double anon, file;
  int model;
  std::string label;
};

std::string chart(const SwitchResults& res) {
  std::vector<Point> pts;
  std::vector<std::string> names;
  for (const ModelInfo& m : res.config.models) names.push_back(m.name);
  for (const Iteration& it : res.iterations)
    for (const ModelRun& m : it.models) {
      const int mi = static_cast<int>(std::find(names.begin(), names.end(), m.name) - names.begin());
      for (int ph = 0; ph < kPhaseCount; ++ph)
        if (m.phases[ph].present)
          pts.push_back({m.phases[ph].rss_anon_mb, m.phases[ph].rss_file_mb, mi,
                         fmt::format("iteration {} {} {}", it.iteration, m.name, kPhaseNames[ph])});
    }
  const double W = 960, H = 360, L = 60, R = 20, T = 20, B = 40;
  double ymax = 1;
  for (const Point& p : pts) ymax = std::max({ymax, p.anon, p.file});
  ymax *= 1.08;
  auto X = [&](size_t i) { return L + (W - L - R) * (pts.size() > 1 ? double(i) / (pts.size() - 1) : 0.5); };
  auto Y = [&](double v) { return T + (H - T - B) * (1.0 - v / ymax); };
  std::string s = fmt::format(
      R"~(<svg id="memory-chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}">)~", W,
      H, W, H);
  s += fmt::format(R"~(<rect x="0" y="0" width="{}" height="{}" fill="#fff"/>)~", W, H);
  for (int g = 0; g <= 5; ++g) {
    const double v = ymax * g / 5, y = Y(v);
    s += fmt::format(
        R"~(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#ddd"/><text x="{}" y="{:.1f}" font-size="11" text-anchor="end" fill="#333">{:.0f}</text>)~",
        L, y, W - R, y, L - 6, y + 4, v);
  }
  s += fmt::format(R"~(<text x="14" y="{}" font-size="12" transform="rotate(-90 14 {})" fill="#333">MiB</text>)~",
                   H / 2, H / 2);
  s += fmt::format(
      R"~(<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="#333">probe (iteration × model × phase)</text>)~",
      (L + W - R) / 2, H - 8);
  // One segment per consecutive pair, coloured by the model of the later probe.
  for (size_t i = 1; i < pts.size(); ++i) {
    const char* col = kColors[pts[i].model % 6];
    s += fmt::format(
        R"~(<line class="anon" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="2"/>)~",
        X(i - 1), Y(pts[i - 1].anon), X(i), Y(pts[i].anon), col);
    s += fmt::format(
        R"~(<line class="file" x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="1.5" stroke-dasharray="4 3"/>)~",
        X(i - 1), Y(pts[i - 1].file), X(i), Y(pts[i].file), col);
  }
  for (size_t i = 0; i < pts.size(); ++i)
    s += fmt::format(
        R"~(<circle cx="{:.1f}" cy="{:.1f}" r="2" fill="{}"><title>{}: anon {:.2f} MiB, file {:.1f} MiB</title></circle>)~",
        X(i), Y(pts[i].anon), kColors[pts[i].model % 6], esc(pts[i].label), pts[i].anon, pts[i].file);
  double lx = L + 10;
  for (size_t m = 0; m < names.size(); ++m) {
    s += fmt::format(
        R"~(<rect x="{}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}" font-size="12">{}</text>)~", lx,
        T + 4, kColors[m % 6], lx + 16, T + 14, esc(names[m]));
    lx += 40 + 7 * names[m].size();
  }
  s += fmt::format(
      R"~(<text x="{}" y="{}" font-size="12">solid: anonymous (RssAnon) · dashed: file-backed (RssFile)</text>)~",
      lx + 10, T + 14);
  s += "</svg>";
  return s;
}

std::string num(std::optional<double> v, const char* f = "{:.2f}") {
  return v ? fmt::format(fmt::runtime(f), *v) : "n/a";
}

}  // namespace

std::string render_html_report(const SwitchResults& res) {
  const SwitchSummary& s = res.summary;
  const RunConfig& cfg = res.config;
  std::string h =
      R"~(<!doctype html><html><head><meta charset="utf-8"><title>qasr model-switching memory benchmark</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.verdict{font-size:20px;font-weight:bold}.warn{color:#a00}</style></head><body>)~";
  h += "<h1>Model-switching memory benchmark</h1>";
  h += fmt::format(R"~(<p class="verdict" id="verdict">Verdict: {}</p><p>{}</p>)~", esc(s.verdict), esc(s.evidence));
  bool random = false;
  h += "<p>";
  for (const ModelInfo& m : cfg.models) {
    h += fmt::format("Model <b>{}</b>: {} ({}, {:.0f} MB){}<br>", esc(m.name), esc(m.path), esc(m.format),
                     m.bytes / 1e6, m.random_weights ? " <span class=warn>random weights</span>" : "");
    random = random || m.random_weights;
  }
  h += fmt::format(
      "Audio: {} ({:.2f} s) · iterations {} · threads {} · mode {} · trim {} · allocator {} · machine {} ({} cores) · "
      "qasr {}</p>",
      esc(cfg.audio_path), cfg.audio_seconds, cfg.iterations, cfg.threads, esc(cfg.mode),
      cfg.trim ? "after-unload" : "never", esc(cfg.allocator), esc(cfg.machine.value("cpu", "?")),
      cfg.machine.value("cores", 0), esc(cfg.qasr_version));
  if (random)
    h +=
        "<p class=warn>Random-weight models: WER/CER and transcripts are meaningless; memory and timings are real.</p>";
  h += "<h2>Memory timeline</h2>" + chart(res);
  h += fmt::format(
      "<p>Slope of anonymous memory after unload: {} MiB/iteration, 95% CI [{}, {}]; warm-up {} iteration(s); peak RSS "
      "{} MiB; baseline anon {} MiB.</p>",
      num(s.slope_mb_per_iter, "{:+.4f}"), num(s.ci_low, "{:+.4f}"), num(s.ci_high, "{:+.4f}"), s.warmup_iterations,
      num(s.peak_rss_mb, "{:.1f}"), num(s.baseline_anon_mb));
  h += "<h2>Per model</h2><table><tr><th>metric</th>";
  for (const auto& [name, m] : s.per_model) h += "<th>" + esc(name) + "</th>";
  h += "</tr>";
  const std::pair<const char*, const char*> rows[] = {{"load (ms)", "load_ms"},
                                                      {"load overhead, anon (MB)", "load_overhead_anon_mb"},
                                                      {"resident overhead, RSS (MB)", "resident_overhead_rss_mb"},
                                                      {"unload release, anon (MB)", "unload_release_anon_mb"},
                                                      {"net leak per switch, anon (MB)", "net_leak_anon_mb"},
                                                      {"net leak per switch, RSS (MB)", "net_leak_rss_mb"},
                                                      {"peak RSS (MB)", "peak_rss_mb"},
                                                      {"time to first token (ms)", "first_token_ms"},
                                                      {"tokens/s (decode)", "tokens_per_s"},
                                                      {"chars/s (decode)", "chars_per_s"},
                                                      {"real-time factor", "rtf"},
                                                      {"WER (fraction)", "wer"},
                                                      {"CER (fraction)", "cer"}};
  for (const auto& [label, key] : rows) {
    h += std::string("<tr><td>") + label + "</td>";
    for (const auto& [name, m] : s.per_model) {
      auto it = m.avg.find(key);
      h += "<td>" +
           num(std::string(key) == "peak_rss_mb" ? std::optional<double>(m.peak_rss_mb)
               : it == m.avg.end()               ? std::nullopt
                                                 : it->second) +
           "</td>";
    }
    h += "</tr>";
  }
  h += "</table><h2>10-iteration blocks</h2><table id=blocks><tr><th>block</th><th>iterations</th><th>avg anon "
       "(MB)</th><th>avg RSS (MB)</th><th>trend</th></tr>";
  for (const SummaryBlock& b : s.blocks)
    h += fmt::format("<tr><td>{}</td><td>{}–{}</td><td>{:.2f}</td><td>{:.1f}</td><td>{}</td></tr>", b.block, b.first,
                     b.last, b.mean_anon_mb, b.mean_rss_mb, esc(b.trend));
  h += "</table></body></html>\n";
  return h;
}

}  // namespace qasr
