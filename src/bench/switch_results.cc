#include "bench/switch_results.h"

#include <fmt/format.h>

namespace qasr {
namespace {

using nlohmann::json;
constexpr double kMiB = 1048576.0;

// Reads fields of a JSON document, remembering the first problem (with the field's
// path) instead of throwing; later reads after an error are no-ops.
class Reader {
 public:
  Status status = Status::Ok();
  const json* field(const json& j, const std::string& key, const std::string& where) {
    if (!status.ok()) return nullptr;
    if (!j.is_object() || !j.contains(key)) {
      fail(where + "." + key + " is missing");
      return nullptr;
    }
    return &j[key];
  }
  double num(const json& j, const std::string& key, const std::string& where) {
    const json* v = field(j, key, where);
    if (!v) return 0;
    if (!v->is_number()) return fail(where + "." + key + " is not a number"), 0;
    return v->get<double>();
  }
  std::optional<double> opt_num(const json& j, const std::string& key, const std::string& where) {
    if (!status.ok() || !j.is_object() || !j.contains(key) || j[key].is_null()) return std::nullopt;
    if (!j[key].is_number()) return fail(where + "." + key + " is not a number or null"), std::nullopt;
    return j[key].get<double>();
  }
  int integer(const json& j, const std::string& key, const std::string& where) {
    const double v = num(j, key, where);
    if (v < -1e9 || v > 1e9) return fail(where + "." + key + " is out of range"), 0;
    return static_cast<int>(v);
  }
  std::string str(const json& j, const std::string& key, const std::string& where, bool optional = false) {
    if (optional && (!j.is_object() || !j.contains(key))) return "";
    const json* v = field(j, key, where);
    if (!v) return "";
    if (!v->is_string()) return fail(where + "." + key + " is not a string"), "";
    return v->get<std::string>();
  }
  bool boolean(const json& j, const std::string& key, const std::string& where, bool dflt) {
    if (!status.ok() || !j.is_object() || !j.contains(key)) return dflt;
    if (!j[key].is_boolean()) return fail(where + "." + key + " is not a boolean"), dflt;
    return j[key].get<bool>();
  }
  const json* array(const json& j, const std::string& key, const std::string& where, bool non_empty) {
    const json* v = field(j, key, where);
    if (!v) return nullptr;
    if (!v->is_array()) return fail(where + "." + key + " is not an array"), nullptr;
    if (non_empty && v->empty()) return fail(where + "." + key + " is empty"), nullptr;
    return v;
  }
  void fail(const std::string& m) {
    if (status.ok()) status = InvalidFormat("benchmark results: " + m);
  }
};

json opt(const std::optional<double>& v) {
  return v ? json(*v) : json(nullptr);
}

Probe read_probe(Reader& r, const json& j, const std::string& where) {
  Probe p;
  p.present = true;
  p.rss_mb = r.num(j, "rss_mb", where);
  p.rss_anon_mb = r.num(j, "rss_anon_mb", where);
  p.rss_file_mb = r.num(j, "rss_file_mb", where);
  p.rss_shmem_mb = r.num(j, "rss_shmem_mb", where);
  p.swap_mb = r.num(j, "swap_mb", where);
  p.pss_mb = r.opt_num(j, "pss_mb", where);
  p.hwm_mb = r.num(j, "hwm_mb", where);
  p.heap_in_use_mb = r.num(j, "heap_in_use_mb", where);
  p.heap_free_mb = r.num(j, "heap_free_mb", where);
  if (j.is_object() && j.contains("engine")) {
    const json& e = j["engine"];
    const std::string w = where + ".engine";
    p.engine =
        EngineHoldings{r.num(e, "mapped_mb", w), r.num(e, "model_owned_mb", w), r.num(e, "session_reserved_mb", w),
                       r.num(e, "kv_cache_reserved_mb", w), r.num(e, "scratch_mb", w)};
  }
  return p;
}

// RunMetrics fields by JSON name: one table for writing, reading and averaging.
struct MetricField {
  const char* key;
  double RunMetrics::*d;
  std::optional<double> RunMetrics::*o;
};
const MetricField kMetricFields[] = {
    {"load_ms", &RunMetrics::load_ms, nullptr},
    {"audio_ms", &RunMetrics::audio_ms, nullptr},
    {"mel_ms", &RunMetrics::mel_ms, nullptr},
    {"encoder_ms", &RunMetrics::encoder_ms, nullptr},
    {"prefill_ms", &RunMetrics::prefill_ms, nullptr},
    {"decode_ms", &RunMetrics::decode_ms, nullptr},
    {"first_token_ms", &RunMetrics::first_token_ms, nullptr},
    {"total_ms", &RunMetrics::total_ms, nullptr},
    {"rtf", nullptr, &RunMetrics::rtf},
    {"tokens_per_s", nullptr, &RunMetrics::tokens_per_s},
    {"chars_per_s", nullptr, &RunMetrics::chars_per_s},
    {"wer", nullptr, &RunMetrics::wer},
    {"cer", nullptr, &RunMetrics::cer},
    {"load_overhead_rss_mb", &RunMetrics::load_overhead_rss_mb, nullptr},
    {"load_overhead_anon_mb", &RunMetrics::load_overhead_anon_mb, nullptr},
    {"resident_overhead_rss_mb", &RunMetrics::resident_overhead_rss_mb, nullptr},
    {"resident_overhead_anon_mb", &RunMetrics::resident_overhead_anon_mb, nullptr},
    {"unload_release_rss_mb", &RunMetrics::unload_release_rss_mb, nullptr},
    {"unload_release_anon_mb", &RunMetrics::unload_release_anon_mb, nullptr},
    {"net_leak_rss_mb", &RunMetrics::net_leak_rss_mb, nullptr},
    {"net_leak_anon_mb", &RunMetrics::net_leak_anon_mb, nullptr},
};

json metrics_json(const RunMetrics& m) {
  json j = json::object();
  for (const MetricField& f : kMetricFields) j[f.key] = f.d ? json(m.*f.d) : opt(m.*f.o);
  j["generated_tokens"] = m.generated_tokens;
  j["chars"] = m.chars;
  return j;
}

RunMetrics read_metrics(Reader& r, const json& j, const std::string& where) {
  RunMetrics m;
  for (const MetricField& f : kMetricFields) {
    if (f.d)
      m.*f.d = r.num(j, f.key, where);
    else
      m.*f.o = r.opt_num(j, f.key, where);
  }
  m.generated_tokens = static_cast<int64_t>(r.num(j, "generated_tokens", where));
  m.chars = static_cast<int64_t>(r.num(j, "chars", where));
  return m;
}

json stats_json(const Stats& s) {
  return {{"mean_mb", s.mean}, {"stddev_mb", s.stddev}, {"min_mb", s.min},
          {"max_mb", s.max},   {"range_mb", s.range},   {"iterations", s.iterations}};
}

}  // namespace

Probe make_probe(const MemoryProbe& m) {
  Probe p;
  p.present = true;
  p.rss_mb = m.rss / kMiB;
  p.rss_anon_mb = m.rss_anon / kMiB;
  p.rss_file_mb = m.rss_file / kMiB;
  p.rss_shmem_mb = m.rss_shmem / kMiB;
  p.swap_mb = m.swap / kMiB;
  if (m.pss >= 0) p.pss_mb = m.pss / kMiB;
  p.hwm_mb = m.hwm / kMiB;
  p.heap_in_use_mb = m.heap_in_use / kMiB;
  p.heap_free_mb = m.heap_free / kMiB;
  return p;
}

void finish_run_metrics(ModelRun& run, double audio_seconds, bool trimmed) {
  RunMetrics& m = run.metrics;
  m.rtf = audio_seconds > 0 ? std::optional<double>(m.total_ms / (audio_seconds * 1000.0)) : std::nullopt;
  // Speeds over decode time only (the tokens after the first); absent when undefined.
  m.tokens_per_s = m.generated_tokens > 1 && m.decode_ms > 0
                       ? std::optional<double>((m.generated_tokens - 1) / (m.decode_ms / 1000.0))
                       : std::nullopt;
  m.chars_per_s =
      m.chars > 0 && m.decode_ms > 0 ? std::optional<double>(m.chars / (m.decode_ms / 1000.0)) : std::nullopt;
  const auto& p = run.phases;
  const Probe& last = p[trimmed && p[kAfterTrim].present ? kAfterTrim : kAfterUnload];
  m.load_overhead_rss_mb = p[kAfterLoad].rss_mb - p[kBeforeLoad].rss_mb;
  m.load_overhead_anon_mb = p[kAfterLoad].rss_anon_mb - p[kBeforeLoad].rss_anon_mb;
  m.resident_overhead_rss_mb = p[kAfterInference].rss_mb - p[kBeforeLoad].rss_mb;
  m.resident_overhead_anon_mb = p[kAfterInference].rss_anon_mb - p[kBeforeLoad].rss_anon_mb;
  m.unload_release_rss_mb = p[kAfterLoad].rss_mb - p[kAfterUnload].rss_mb;
  m.unload_release_anon_mb = p[kAfterLoad].rss_anon_mb - p[kAfterUnload].rss_anon_mb;
  m.net_leak_rss_mb = last.rss_mb - p[kBeforeLoad].rss_mb;
  m.net_leak_anon_mb = last.rss_anon_mb - p[kBeforeLoad].rss_anon_mb;
}

const std::vector<std::string>& averaged_metric_keys() {
  static const std::vector<std::string> kKeys = [] {
    std::vector<std::string> k;
    for (const MetricField& f : kMetricFields)
      if (std::string(f.key) != "audio_ms" && std::string(f.key) != "mel_ms") k.push_back(f.key);
    return k;
  }();
  return kKeys;
}

std::optional<double> metric_value(const RunMetrics& m, const std::string& key) {
  for (const MetricField& f : kMetricFields)
    if (key == f.key) return f.d ? std::optional<double>(m.*f.d) : m.*f.o;
  return std::nullopt;
}

json probe_to_json(const Probe& p) {
  json j = {{"rss_mb", p.rss_mb},
            {"rss_anon_mb", p.rss_anon_mb},
            {"rss_file_mb", p.rss_file_mb},
            {"rss_shmem_mb", p.rss_shmem_mb},
            {"swap_mb", p.swap_mb},
            {"pss_mb", opt(p.pss_mb)},
            {"hwm_mb", p.hwm_mb},
            {"heap_in_use_mb", p.heap_in_use_mb},
            {"heap_free_mb", p.heap_free_mb}};
  if (p.engine)
    j["engine"] = {{"mapped_mb", p.engine->mapped_mb},
                   {"model_owned_mb", p.engine->model_owned_mb},
                   {"session_reserved_mb", p.engine->session_reserved_mb},
                   {"kv_cache_reserved_mb", p.engine->kv_cache_reserved_mb},
                   {"scratch_mb", p.engine->scratch_mb}};
  return j;
}

Expected<Probe> probe_from_json(const json& j) {
  Reader r;
  Probe p = read_probe(r, j, "probe");
  if (!r.status.ok()) return r.status;
  return p;
}

json to_json(const SwitchResults& res) {
  const RunConfig& c = res.config;
  json models = json::array();
  for (const ModelInfo& m : c.models)
    models.push_back({{"name", m.name},
                      {"path", m.path},
                      {"format", m.format},
                      {"bytes", m.bytes},
                      {"random_weights", m.random_weights}});
  json cfg = {{"engine", c.engine},
              {"mode", c.mode},
              {"qasr_version", c.qasr_version},
              {"audio", {{"path", c.audio_path}, {"seconds", c.audio_seconds}}},
              {"reference", c.reference},
              {"language", c.language},
              {"iterations", c.iterations},
              {"threads", c.threads},
              {"max_new_tokens", c.max_new_tokens},
              {"warmup", c.warmup},
              {"trim", c.trim ? "after-unload" : "never"},
              {"mlock", c.mlock},
              {"allocator", c.allocator},
              {"allocator_preloaded", c.allocator_preloaded},
              {"machine", c.machine},
              {"models", models}};
  if (!c.chatllm_lib.empty()) cfg["chatllm_lib"] = c.chatllm_lib;
  json iters = json::array();
  for (const Iteration& it : res.iterations) {
    json ms = json::array();
    for (const ModelRun& m : it.models) {
      json phases = json::object();
      for (int p = 0; p < kPhaseCount; ++p)
        if (m.phases[p].present) phases[kPhaseNames[p]] = probe_to_json(m.phases[p]);
      ms.push_back({{"name", m.name},
                    {"text", m.text},
                    {"language", m.language},
                    {"phases", phases},
                    {"metrics", metrics_json(m.metrics)}});
    }
    iters.push_back({{"iteration", it.iteration}, {"models", ms}});
  }
  const SwitchSummary& s = res.summary;
  json sum = {{"verdict", s.verdict},
              {"evidence", s.evidence},
              {"series", s.series},
              {"slope_mb_per_iter", s.slope_mb_per_iter},
              {"slope_ci95_mb_per_iter", {s.ci_low, s.ci_high}},
              {"slope_r2", s.slope_r2},
              {"warmup_iterations", s.warmup_iterations},
              {"warmup_detected", s.warmup_detected},
              {"peak_rss_mb", s.peak_rss_mb},
              {"baseline_anon_mb", s.baseline_anon_mb},
              {"baseline_kind", s.baseline_kind},
              {"baseline_rss_mb", s.baseline_rss_mb}};
  if (s.has_overall) {
    sum["overall"] = {{"initial_anon_mb", s.initial_anon_mb},
                      {"final_anon_mb", s.final_anon_mb},
                      {"growth_anon_mb", s.growth_anon_mb},
                      {"growth_anon_per_iter_mb", s.growth_anon_per_iter_mb},
                      {"final_vs_baseline_anon_mb", s.final_vs_baseline_anon_mb},
                      {"initial_rss_mb", s.initial_rss_mb},
                      {"final_rss_mb", s.final_rss_mb},
                      {"growth_rss_mb", s.growth_rss_mb}};
    sum["plateau"] = stats_json(s.plateau);
    sum["warmup"] = stats_json(s.warmup);
    json blocks = json::array();
    for (const SummaryBlock& b : s.blocks)
      blocks.push_back({{"block", b.block},
                        {"first", b.first},
                        {"last", b.last},
                        {"mean_anon_mb", b.mean_anon_mb},
                        {"mean_rss_mb", b.mean_rss_mb},
                        {"delta_anon_mb", b.delta_anon_mb},
                        {"trend", b.trend}});
    sum["blocks"] = blocks;
  }
  json pm = json::object();
  for (const auto& [name, m] : s.per_model) {
    json e = json::object();
    for (const auto& [k, v] : m.avg) e["avg_" + k] = opt(v);
    e["peak_rss_mb"] = m.peak_rss_mb;
    e["runs"] = m.runs;
    pm[name] = e;
  }
  sum["per_model"] = pm;
  return {{"config", cfg}, {"baseline", probe_to_json(res.baseline)}, {"iterations", iters}, {"summary", sum}};
}

Expected<SwitchResults> switch_results_from_json(const json& j) {
  Reader r;
  SwitchResults res;
  if (!j.is_object()) return InvalidFormat("benchmark results: not a JSON object");
  const json* cfg = r.field(j, "config", "results");
  if (!cfg) return r.status;
  RunConfig& c = res.config;
  c.engine = r.str(*cfg, "engine", "config", true);
  c.mode = r.str(*cfg, "mode", "config");
  c.qasr_version = r.str(*cfg, "qasr_version", "config", true);
  if (const json* a = r.field(*cfg, "audio", "config")) {
    c.audio_path = r.str(*a, "path", "config.audio");
    c.audio_seconds = r.num(*a, "seconds", "config.audio");
  }
  c.reference = r.str(*cfg, "reference", "config", true);
  c.language = r.str(*cfg, "language", "config", true);
  c.iterations = r.integer(*cfg, "iterations", "config");
  c.threads = r.integer(*cfg, "threads", "config");
  c.max_new_tokens = r.integer(*cfg, "max_new_tokens", "config");
  c.warmup = cfg->contains("warmup") ? r.integer(*cfg, "warmup", "config") : -1;
  c.trim = r.str(*cfg, "trim", "config") != "never";
  c.mlock = r.boolean(*cfg, "mlock", "config", false);
  c.allocator = r.str(*cfg, "allocator", "config", true);
  c.allocator_preloaded = r.str(*cfg, "allocator_preloaded", "config", true);
  c.chatllm_lib = r.str(*cfg, "chatllm_lib", "config", true);
  if (cfg->contains("machine") && (*cfg)["machine"].is_object()) {
    c.machine = (*cfg)["machine"];
    // Printed as a string and an integer: drop either when it is not one.
    if (c.machine.contains("cpu") && !c.machine["cpu"].is_string()) c.machine.erase("cpu");
    if (c.machine.contains("cores") && !c.machine["cores"].is_number_integer()) c.machine.erase("cores");
  }
  if (const json* ms = r.array(*cfg, "models", "config", true))
    for (size_t i = 0; i < ms->size(); ++i) {
      const std::string w = fmt::format("config.models[{}]", i);
      const json& m = (*ms)[i];
      c.models.push_back({r.str(m, "name", w), r.str(m, "path", w), r.str(m, "format", w), r.num(m, "bytes", w),
                          r.boolean(m, "random_weights", w, false)});
    }
  if (const json* b = r.field(j, "baseline", "results")) res.baseline = read_probe(r, *b, "baseline");
  if (const json* its = r.array(j, "iterations", "results", true))
    for (size_t i = 0; i < its->size(); ++i) {
      const std::string w = fmt::format("iterations[{}]", i);
      Iteration it;
      it.iteration = r.integer((*its)[i], "iteration", w);
      if (const json* ms = r.array((*its)[i], "models", w, true))
        for (size_t k = 0; k < ms->size(); ++k) {
          const std::string wm = fmt::format("{}.models[{}]", w, k);
          const json& m = (*ms)[k];
          ModelRun run;
          run.name = r.str(m, "name", wm);
          run.text = r.str(m, "text", wm, true);
          run.language = r.str(m, "language", wm, true);
          if (const json* ph = r.field(m, "phases", wm))
            for (int p = 0; p < kPhaseCount; ++p) {
              if (!ph->is_object() || !ph->contains(kPhaseNames[p])) {
                if (p != kAfterTrim) r.fail(wm + ".phases." + kPhaseNames[p] + " is missing");
                continue;
              }
              run.phases[p] = read_probe(r, (*ph)[kPhaseNames[p]], wm + ".phases." + kPhaseNames[p]);
            }
          if (const json* mt = r.field(m, "metrics", wm)) run.metrics = read_metrics(r, *mt, wm + ".metrics");
          it.models.push_back(std::move(run));
        }
      if (r.status.ok() && it.models.size() != c.models.size())
        r.fail(fmt::format("{} has {} model runs, config lists {} models", w, it.models.size(), c.models.size()));
      res.iterations.push_back(std::move(it));
    }
  if (!r.status.ok()) return r.status;
  return res;
}

}  // namespace qasr
