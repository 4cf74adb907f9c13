// `qasr bench speed`: repeated transcription of one clip, stage by stage, against
// the machine's measured peaks, optionally side by side with chatllm.cpp on the
// very same model files.
//
// A forced-aligner model runs alignment instead (one pass over audio + text; its time per
// audio second beside the ASR models').
//
// Every engine run happens in a fresh child process (fork), so its peak resident
// memory (VmHWM) is that of the process doing the transcription and nothing else:
//   qasr:    load the model once, one warm-up transcription (not counted), then
//            `runs` transcriptions, each from the audio file (decode + mel +
//            encoder + prefill + decode);
//   chatllm: libchatllm through dlopen (bench/chatllm_engine), `runs` + 1
//            load → transcribe → unload iterations, the first not counted; its
//            time after load includes its own ffmpeg decode, as ours includes ours.
// Medians and [min, max] per stage; derived: tokens/s, real-time factor, GFLOP/s of
// encoder and prefill (analytic FLOP counts from the model's shapes) against the
// f32 FMA peak, decode GB/s (weight bytes per token) against the read bandwidth.
// With `noise` > 0, every qasr measurement is repeated beside that many spinning
// processes and the ratios noisy / quiet are reported.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace qasr {

struct SpeedConfig {
  std::vector<std::string> models;
  std::string audio;
  int runs = 5;
  std::vector<int> threads = {2};  // each count is measured (scaling); chatllm runs at the first
  int max_new_tokens = 32;
  bool ignore_eos = true;   // fixed work per run
  std::string language;     // canonical name; empty = detect
  std::string chatllm_lib;  // empty: qasr only (and never for a forced aligner)
  std::string align_text;   // what a forced aligner aligns; empty: one word per 0.4 s of audio
  bool measure_peaks = true;
  // Also measure each thread count with this many busy processes competing for the
  // cores (one spinning child each), and print the slowdown against the quiet run:
  // a shared machine should cost time in proportion, not stall at barriers.
  int noise = 0;
};

Expected<nlohmann::json> run_speed_bench(const SpeedConfig& cfg,
                                         const std::function<void(const std::string&)>& progress);

// The human-readable table of a run_speed_bench result.
void print_speed_table(const nlohmann::json& results, std::FILE* out);

}  // namespace qasr
