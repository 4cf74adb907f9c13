// The model-switching memory benchmark (`qasr bench switch`), the earlier study
// done right: for N iterations, each model in turn is loaded, used for one
// transcription and fully unloaded (one model at a time), with memory probed at
// before_load, after_load, after_inference, after_unload and after_trim
// (malloc_trim(0)). Anonymous and file-backed memory are kept apart and swap is
// counted, because mapped weights make RSS alone misleading.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "bench/switch_results.h"

namespace qasr {

struct SwitchConfig {
  std::vector<std::string> models;
  std::string audio;
  std::string reference;  // for WER/CER; empty: not scored
  std::string language;   // canonical name; empty: detect
  int iterations = 50;
  int threads = 2;
  int max_new_tokens = 128;
  int warmup = -1;   // -1: detect
  bool trim = true;  // malloc_trim(0) after each unload (the after_trim phase)
  bool mlock = false;
  std::string allocator = "glibc";
  std::string mode = "switch";  // "switch" or "reuse"
  bool quiet = false;
};

// The machine description stored in results' config.
nlohmann::json machine_description();

// "qwen3-asr-0.6b-q4_0" from ".../qwen3-asr-0.6b-q4_0.bin".
std::string model_label(const std::string& path);

// The RunConfig of a run of `cfg` (models described by the caller).
RunConfig run_config_of(const SwitchConfig& cfg, const std::string& engine);

// Runs the benchmark; `progress` receives a live status line (may be empty).
Expected<SwitchResults> run_switch_bench(const SwitchConfig& cfg,
                                         const std::function<void(const std::string&)>& progress);

// Fills `summary` (per model, overall, blocks, warm-up, plateau, slope, verdict) from
// config, baseline and iterations; res.config.warmup ≥ 0 overrides the detection.
void analyse_switch_results(SwitchResults& res);

// Console tables laid out like the earlier study's summary.
std::string format_switch_summary(const SwitchResults& results);
// One CSV row per (iteration, model, phase).
std::string format_switch_csv(const SwitchResults& results);

}  // namespace qasr
