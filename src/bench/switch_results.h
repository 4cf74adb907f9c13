// The results of `qasr bench switch|reuse` (both engines) as typed records: what the
// benchmark fills, what the analysis reads, what the console summary, the CSV and the
// HTML report print. Serialised to JSON in one place (to_json) and read back in one
// place (switch_results_from_json), which checks every field, so a results file that
// is short, truncated or hand-edited is refused with a message instead of read out of
// bounds. Memory figures are MiB (2^20 bytes) in fields named *_mb.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/memory.h"
#include "base/status.h"

namespace qasr {

enum Phase { kBeforeLoad, kAfterLoad, kAfterInference, kAfterUnload, kAfterTrim, kPhaseCount };
inline constexpr const char* kPhaseNames[kPhaseCount] = {"before_load", "after_load", "after_inference", "after_unload",
                                                         "after_trim"};

// What the engine says it holds (qasr only).
struct EngineHoldings {
  double mapped_mb = 0, model_owned_mb = 0, session_reserved_mb = 0, kv_cache_reserved_mb = 0, scratch_mb = 0;
};

struct Probe {
  bool present = false;
  double rss_mb = 0, rss_anon_mb = 0, rss_file_mb = 0, rss_shmem_mb = 0, swap_mb = 0, hwm_mb = 0;
  std::optional<double> pss_mb;
  double heap_in_use_mb = 0, heap_free_mb = 0;
  std::optional<EngineHoldings> engine;
};
Probe make_probe(const MemoryProbe& m);

// Per (iteration, model) figures. The derived ones (rtf, speeds, memory deltas) are
// computed by finish_run_metrics only.
struct RunMetrics {
  double load_ms = 0, audio_ms = 0, mel_ms = 0, encoder_ms = 0, prefill_ms = 0, decode_ms = 0, first_token_ms = 0,
         total_ms = 0;
  int64_t generated_tokens = 0, chars = 0;
  std::optional<double> rtf, tokens_per_s, chars_per_s, wer, cer;
  // The study's metrics, on RSS and on RssAnon: load overhead (after_load − before_load),
  // resident overhead (after_inference − before_load), unload release (after_load −
  // after_unload), net leak (after_trim, or after_unload untrimmed, − before_load).
  double load_overhead_rss_mb = 0, load_overhead_anon_mb = 0, resident_overhead_rss_mb = 0,
         resident_overhead_anon_mb = 0, unload_release_rss_mb = 0, unload_release_anon_mb = 0, net_leak_rss_mb = 0,
         net_leak_anon_mb = 0;
};

struct ModelRun {
  std::string name, text, language;
  std::array<Probe, kPhaseCount> phases;
  RunMetrics metrics;
};
// Fills the derived metrics of `r` from its timings, counts and phases.
void finish_run_metrics(ModelRun& r, double audio_seconds, bool trimmed);

struct Iteration {
  int iteration = 0;
  std::vector<ModelRun> models;
};

struct ModelInfo {
  std::string name, path, format;
  double bytes = 0;
  bool random_weights = false;
};

struct RunConfig {
  std::string engine = "qasr", chatllm_lib, mode = "switch", qasr_version, audio_path, reference, language;
  double audio_seconds = 0;
  int iterations = 0, threads = 0, max_new_tokens = 0;
  int warmup = -1;  // warm-up iterations given on the command line; -1: detected
  bool trim = true, mlock = false;
  std::string allocator = "glibc", allocator_preloaded = "none";
  nlohmann::json machine = nlohmann::json::object();  // machine_description(): free-form facts
  std::vector<ModelInfo> models;
};

struct SummaryBlock {
  int block = 0, first = 0, last = 0;
  double mean_anon_mb = 0, mean_rss_mb = 0, delta_anon_mb = 0;
  std::string trend;
};
struct Stats {
  double mean = 0, stddev = 0, min = 0, max = 0, range = 0;
  int iterations = 0;
};
struct ModelSummary {
  // avg_<metric> over the model's runs, absent when no run had a value.
  std::map<std::string, std::optional<double>> avg;
  double peak_rss_mb = 0;
  int runs = 0;
};
struct SwitchSummary {
  std::string verdict, evidence, series, baseline_kind;
  double slope_mb_per_iter = 0, ci_low = 0, ci_high = 0, slope_r2 = 0;
  int warmup_iterations = 0;
  bool warmup_detected = false;
  double peak_rss_mb = 0, baseline_anon_mb = 0, baseline_rss_mb = 0;
  bool has_overall = false;
  double initial_anon_mb = 0, final_anon_mb = 0, growth_anon_mb = 0, growth_anon_per_iter_mb = 0,
         final_vs_baseline_anon_mb = 0, initial_rss_mb = 0, final_rss_mb = 0, growth_rss_mb = 0;
  Stats plateau, warmup;
  std::vector<SummaryBlock> blocks;
  std::map<std::string, ModelSummary> per_model;
};

struct SwitchResults {
  RunConfig config;
  Probe baseline;
  std::vector<Iteration> iterations;
  SwitchSummary summary;
};

// The metric keys averaged per model (RunMetrics fields by their JSON names).
const std::vector<std::string>& averaged_metric_keys();
std::optional<double> metric_value(const RunMetrics& m, const std::string& key);

nlohmann::json to_json(const SwitchResults& r);
// Reads a results document back; every field is checked (InvalidFormat naming it).
Expected<SwitchResults> switch_results_from_json(const nlohmann::json& j);
// Reads one probe (a phase of the chatllm child's reports, or of a results file).
Expected<Probe> probe_from_json(const nlohmann::json& j);
nlohmann::json probe_to_json(const Probe& p);

}  // namespace qasr
