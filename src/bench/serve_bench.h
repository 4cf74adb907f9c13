// `qasr bench serve`: a load generator over loopback HTTP against a `qasr serve` it starts
// (or one at --url, e.g. a balancer): C concurrent clients send a request mix over the
// configured models, for a number of requests or a duration. Reports throughput (requests/s,
// audio seconds per second), latency p50/p95/p99 and time to first token per model, errors
// by kind, loads and evictions (from /metrics), /health latency while the workers are busy,
// and the server's memory timeline (RssAnon/RssFile from /proc/PID by pid) with the same
// slope, interval and verdict as `bench switch` (the series: RssAnon after each unload, from
// the server's own log). With --compare-cli it also times `qasr transcribe` of the same clip
// and prints the server's overhead. JSON and a self-contained HTML page.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace qasr {

struct ServeBenchConfig {
  std::string url;                        // empty: start `self serve` with server_args
  std::string self;                       // this qasr binary
  std::vector<std::string> server_args;   // e.g. --model a=PATH --model b=PATH --max-loaded 1
  std::vector<std::string> models;        // request mix (each client alternates through it)
  std::vector<std::string> replica_urls;  // replicas behind --url: their /metrics and /models are read
  std::string audio;
  std::string response_format = "json";
  bool stream = false;
  bool model_header = false;  // send X-Model (for a balancer that routes on it)
  std::string api_key;
  int clients = 2;
  int requests = 0;  // total; 0: by duration
  double duration_s = 0;
  double sample_interval_s = 0.25;
  double health_interval_s = 0.05;
  std::string compare_cli_model;  // path: also time `qasr transcribe` of the clip with it
  int threads = 0;                // for the CLI comparison
  std::string work_dir = "results/bench_serve";
};

Expected<nlohmann::json> run_serve_bench(const ServeBenchConfig& cfg);
std::string format_serve_summary(const nlohmann::json& results);
std::string render_serve_report(const nlohmann::json& results);

}  // namespace qasr
