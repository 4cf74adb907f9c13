#include "bench/switch_bench.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "base/clock.h"
#include "audio/audio.h"
#include "base/memory.h"
#include "base/thread_pool.h"
#include "base/utf8.h"
#include "bench/stats.h"
#include "kernels/dispatch.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"
#include "score/metrics.h"
#include "score/normalize.h"

namespace qasr {
namespace {

using nlohmann::json;
constexpr double kMiB = 1048576.0;

// What the engine says it holds right now.
struct Holdings {
  size_t mapped = 0, model_owned = 0, session_reserved = 0, kv_cache = 0, scratch = 0;
};

// One probe: what /proc says and what the engine holds. Plain data, so taking it
// allocates nothing (the benchmark's own bookkeeping must not look like a leak).
struct PhaseRec {
  bool present = false;
  MemoryProbe mem;
  Holdings h;
  size_t scratch = 0;
};

PhaseRec take_probe(const Holdings& h, const ThreadPool& pool) {
  PhaseRec p;
  p.present = true;
  p.mem = read_memory();
  p.h = h;
  p.scratch = pool.scratch_bytes();
  return p;
}

json probe_json(const PhaseRec& p) {
  json j = memory_probe_json(p.mem);
  const Holdings& h = p.h;
  j["engine"] = {{"mapped_mb", h.mapped / kMiB},
                 {"model_owned_mb", h.model_owned / kMiB},
                 {"session_reserved_mb", h.session_reserved / kMiB},
                 {"kv_cache_reserved_mb", h.kv_cache / kMiB},
                 {"scratch_mb", p.scratch / kMiB}};
  return j;
}

constexpr const char* kPhaseNames[5] = {"before_load", "after_load", "after_inference", "after_unload", "after_trim"};

// One (iteration, model) run, preallocated before the baseline is taken.
struct RunRec {
  int iteration = 0;
  size_t model = 0;
  PhaseRec phases[5];
  double load_ms = 0;
  Timings t;
  int64_t n_tok = 0, chars = 0;
  bool scored = false;
  double wer = 0, cer = 0;
  std::string text, language;
};

}  // namespace

json memory_probe_json(const MemoryProbe& m) {
  return {{"rss_mb", m.rss / kMiB},
          {"rss_anon_mb", m.rss_anon / kMiB},
          {"rss_file_mb", m.rss_file / kMiB},
          {"rss_shmem_mb", m.rss_shmem / kMiB},
          {"swap_mb", m.swap / kMiB},
          {"pss_mb", m.pss >= 0 ? json(m.pss / kMiB) : json(nullptr)},
          {"hwm_mb", m.hwm / kMiB},
          {"heap_in_use_mb", m.heap_in_use / kMiB},
          {"heap_free_mb", m.heap_free / kMiB}};
}

std::string model_label(const std::string& path) {
  std::string b = path;
  while (!b.empty() && b.back() == '/') b.pop_back();
  b = b.substr(b.find_last_of('/') + 1);
  for (const char* ext : {".gguf", ".bin"})
    if (b.size() > std::strlen(ext) && b.compare(b.size() - std::strlen(ext), std::strlen(ext), ext) == 0)
      b.resize(b.size() - std::strlen(ext));
  return b;
}

void add_memory_metrics(json& metrics, const json& phases, bool trimmed) {
  const char* last = trimmed ? "after_trim" : "after_unload";
  for (const char* key : {"rss_mb", "rss_anon_mb"}) {
    const std::string sfx = std::string(key) == "rss_mb" ? "rss" : "anon";
    auto g = [&](const char* p) { return phases.at(p).at(key).get<double>(); };
    metrics["load_overhead_" + sfx + "_mb"] = g("after_load") - g("before_load");
    metrics["resident_overhead_" + sfx + "_mb"] = g("after_inference") - g("before_load");
    metrics["unload_release_" + sfx + "_mb"] = g("after_load") - g("after_unload");
    metrics["net_leak_" + sfx + "_mb"] = g(last) - g("before_load");
  }
}

json machine_description() {
  json m;
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release, m["arch"] = u.machine;
  std::ifstream ci("/proc/cpuinfo");
  std::string line;
  while (std::getline(ci, line))
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = utf8::strip(line.substr(line.find(':') + 1));
      break;
    }
  m["cores"] = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  m["memory_mb"] = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE) / kMiB;
  m["kernel_isa"] = isa_name(quant_kernels().isa);
  return m;
}

namespace {


}  // namespace

Expected<json> run_switch_bench(const SwitchConfig& c, const std::function<void(const std::string&)>& progress) {
  if (c.models.empty()) return InvalidArgument("bench: give at least one --model");
  if (c.iterations < 1) return InvalidArgument("bench: --iterations must be at least 1");
  const double t_audio = now_ms();
  auto pcm = load_audio_file(c.audio);
  if (!pcm.ok()) return pcm.status();
  const double audio_ms = now_ms() - t_audio;
  std::unique_ptr<Normalizer> norm;
  std::string ref_norm;
  if (!c.reference.empty()) {
    auto n = Normalizer::create();
    if (!n.ok()) return n.status();
    norm = std::make_unique<Normalizer>(std::move(n).value());
    ref_norm = norm->normalize(c.reference);
  }
  ThreadPool pool(c.threads);
  json results;
  json cfg = {{"engine", "qasr"},
              {"mode", c.mode},
              {"qasr_version", QASR_VERSION},
              {"audio", {{"path", c.audio}, {"seconds", pcm->seconds()}}},
              {"reference", c.reference},
              {"language", c.language},
              {"iterations", c.iterations},
              {"threads", c.threads},
              {"max_new_tokens", c.max_new_tokens},
              {"trim", c.trim ? "after-unload" : "never"},
              {"mlock", c.mlock},
              {"allocator", c.allocator},
              {"allocator_preloaded", std::getenv("QASR_ALLOCATOR_ACTIVE") ? std::getenv("QASR_ALLOCATOR_ACTIVE") : "none"},
              {"machine", machine_description()},
              {"models", json::array()}};
  // Describe the models once (load + unload before the baseline, so the baseline
  // already includes one-time process state such as libraries' static data).
  for (const std::string& path : c.models) {
    auto m = Model::load(path);
    if (!m.ok()) return m.status();
    cfg["models"].push_back({{"name", model_label(path)},
                             {"path", path},
                             {"format", (*m)->format()},
                             {"bytes", (*m)->mapped_bytes()},
                             {"random_weights", (*m)->source().synthetic}});
  }
  // Every record the loop will fill, allocated now (texts get room for 4 KiB).
  std::vector<RunRec> runs(static_cast<size_t>(c.iterations) * c.models.size());
  for (RunRec& r : runs) r.text.reserve(4096), r.language.reserve(64);
  std::string hyp_norm;
  hyp_norm.reserve(16384);
  // One-time process state (OpenBLAS's per-thread buffers) before the baseline.
  ops::warm_up(pool);
  if (c.trim) trim_heap();
  results["config"] = cfg;
  Holdings none;
  const PhaseRec baseline = take_probe(none, pool);

  std::vector<std::shared_ptr<const Model>> kept;  // reuse mode: loaded once
  size_t ri = 0;
  for (int it = 0; it < c.iterations; ++it) {
    for (size_t mi = 0; mi < c.models.size(); ++mi, ++ri) {
      RunRec& rec = runs[ri];
      rec.iteration = it + 1;
      rec.model = mi;
      const std::string& path = c.models[mi];
      Holdings h;
      rec.phases[0] = take_probe(h, pool);
      const double t0 = now_ms();
      std::shared_ptr<const Model> model;
      if (c.mode == "reuse" && kept.size() > mi) {
        model = kept[mi];
      } else {
        LoadOptions lo;
        lo.mlock = c.mlock;
        auto m = Model::load(path, lo);
        if (!m.ok()) return m.status();
        model = *m;
        if (c.mode == "reuse") kept.push_back(model);
      }
      rec.load_ms = now_ms() - t0;
      h.mapped = model->mapped_bytes();
      h.model_owned = model->owned_bytes();
      rec.phases[1] = take_probe(h, pool);
      SessionLimits lim;
      lim.max_audio_seconds = std::max(30.0, pcm->seconds() + 1);
      lim.max_new_tokens = c.max_new_tokens;
      auto session = Session::create(model, lim);
      if (!session.ok()) return session.status();
      h.session_reserved = (*session)->reserved_bytes();
      h.kv_cache = (*session)->kv_cache_bytes();
      TranscribeOptions o;
      o.language = c.language;
      o.max_new_tokens = c.max_new_tokens;
      auto r = transcribe(**session, pool, *pcm, o);
      if (!r.ok()) return r.status().annotate("'" + path + "'");
      rec.phases[2] = take_probe(h, pool);
      rec.t = r->timings;
      rec.n_tok = static_cast<int64_t>(r->token_ids.size());
      rec.chars = static_cast<int64_t>(utf8::to_u32(r->text).size());
      rec.text.assign(r->text, 0, std::min<size_t>(r->text.size(), 4096));
      rec.language.assign(r->language, 0, std::min<size_t>(r->language.size(), 64));
      if (norm) {
        hyp_norm = norm->normalize(r->text);
        rec.scored = true;
        rec.wer = word_errors(ref_norm, hyp_norm).rate();
        rec.cer = char_errors(ref_norm, hyp_norm).rate();
      }
      r = Internal("released");  // drop the transcript before probing
      session->reset();                // the session dies here
      model.reset();
      h = Holdings{};
      if (c.mode == "reuse") {
        h.mapped = kept[mi]->mapped_bytes();
        h.model_owned = kept[mi]->owned_bytes();
      } else {
        pool.release_scratch();
      }
      rec.phases[3] = take_probe(h, pool);
      if (c.trim) {
        trim_heap();
        rec.phases[4] = take_probe(h, pool);
      }
      if (progress && !c.quiet) {
        const PhaseRec& last = rec.phases[c.trim ? 4 : 3];
        progress(fmt::format("iteration {}/{} {}: after unload rss {:.0f} MiB, anon {:.2f} MiB, file {:.0f} MiB; "
                             "load {:.0f} ms, first token {:.0f} ms",
                             it + 1, c.iterations, model_label(path), last.mem.rss / kMiB, last.mem.rss_anon / kMiB,
                             last.mem.rss_file / kMiB, rec.load_ms, rec.t.first_token));
      }
    }
  }
  kept.clear();

  // Only now build the JSON document.
  results["baseline"] = probe_json(baseline);
  results["iterations"] = json::array();
  for (size_t i = 0; i < runs.size(); i += c.models.size()) {
    json iter = {{"iteration", runs[i].iteration}, {"models", json::array()}};
    for (size_t k = 0; k < c.models.size(); ++k) {
      const RunRec& rec = runs[i + k];
      json phases;
      for (int p = 0; p < 5; ++p)
        if (rec.phases[p].present) phases[kPhaseNames[p]] = probe_json(rec.phases[p]);
      const Timings& t = rec.t;
      json metrics = {{"load_ms", rec.load_ms},
                      {"audio_ms", audio_ms},
                      {"mel_ms", t.mel},
                      {"encoder_ms", t.encoder},
                      {"prefill_ms", t.prefill},
                      {"decode_ms", t.decode},
                      {"first_token_ms", t.first_token},
                      {"total_ms", t.total},
                      {"generated_tokens", rec.n_tok},
                      {"chars", rec.chars},
                      {"rtf", t.total / (pcm->seconds() * 1000.0)}};
      // Speeds over decode time only (the tokens after the first); null when undefined.
      metrics["tokens_per_s"] = rec.n_tok > 1 && t.decode > 0 ? json((rec.n_tok - 1) / (t.decode / 1000.0)) : json(nullptr);
      metrics["chars_per_s"] = rec.chars > 0 && t.decode > 0 ? json(rec.chars / (t.decode / 1000.0)) : json(nullptr);
      if (rec.scored) metrics["wer"] = rec.wer, metrics["cer"] = rec.cer;
      add_memory_metrics(metrics, phases, c.trim);
      iter["models"].push_back({{"name", model_label(c.models[rec.model])},
                                {"text", rec.text},
                                {"language", rec.language},
                                {"phases", phases},
                                {"metrics", metrics}});
    }
    results["iterations"].push_back(iter);
  }
  analyse_switch_results(results, c.warmup);
  return results;
}

void analyse_switch_results(json& res, int warmup_override) {
  const json& iters = res.at("iterations");
  const bool trimmed = !iters.empty() && iters[0]["models"][0]["phases"].contains("after_trim");
  const char* end_phase = trimmed ? "after_trim" : "after_unload";
  // The leak series: anonymous memory at the end of each iteration (all models unloaded).
  std::vector<double> anon, rss;
  double peak = res.at("baseline").value("hwm_mb", 0.0);
  std::map<std::string, std::vector<const json*>> per_model;
  for (const json& it : iters) {
    const json& last = it["models"].back()["phases"][end_phase];
    anon.push_back(last["rss_anon_mb"].get<double>());
    rss.push_back(last["rss_mb"].get<double>());
    for (const json& m : it["models"]) {
      per_model[m["name"].get<std::string>()].push_back(&m);
      for (auto& [ph, p] : m["phases"].items()) peak = std::max(peak, p["rss_mb"].get<double>());
    }
  }
  const int n = static_cast<int>(anon.size());
  const int warmup = warmup_override >= 0 ? std::min(warmup_override, std::max(0, n - 1))
                                          : detect_warmup(anon, 0.5, std::max(1, n / 5));
  std::vector<double> post(anon.begin() + warmup, anon.end());
  const Slope sl = fit_slope(post);
  // In reuse mode the models stay loaded by design: compare with the first
  // iteration's end state instead of the empty process.
  const bool reuse = res.at("config").value("mode", "switch") == "reuse";
  const double baseline = reuse && !anon.empty() ? anon.front() : res.at("baseline")["rss_anon_mb"].get<double>();
  const Verdict v = judge(sl, anon.empty() ? 0.0 : anon.back() - baseline);
  json s;
  s["verdict"] = v.verdict;
  s["evidence"] = v.evidence;
  s["series"] = fmt::format("rss_anon_mb at {} of the last model of each iteration", end_phase);
  s["slope_mb_per_iter"] = sl.slope;
  s["slope_ci95_mb_per_iter"] = {sl.ci_low, sl.ci_high};
  s["slope_r2"] = sl.r2;
  s["warmup_iterations"] = warmup;
  s["warmup_detected"] = warmup_override < 0;
  s["peak_rss_mb"] = peak;
  s["baseline_anon_mb"] = baseline;
  s["baseline_kind"] = reuse ? "end of iteration 1 (models stay loaded in reuse mode)" : "before the first load";
  s["baseline_rss_mb"] = res.at("baseline")["rss_mb"].get<double>();
  if (n > 0) {
    s["overall"] = {{"initial_anon_mb", anon.front()}, {"final_anon_mb", anon.back()},
                    {"growth_anon_mb", anon.back() - anon.front()},
                    {"growth_anon_per_iter_mb", n > 1 ? (anon.back() - anon.front()) / (n - 1) : 0.0},
                    {"final_vs_baseline_anon_mb", anon.back() - baseline},
                    {"initial_rss_mb", rss.front()}, {"final_rss_mb", rss.back()},
                    {"growth_rss_mb", rss.back() - rss.front()}};
    const Summary ps = summarize(post.empty() ? anon : post);
    s["plateau"] = {{"mean_mb", ps.mean}, {"stddev_mb", ps.stddev}, {"min_mb", ps.min}, {"max_mb", ps.max},
                    {"range_mb", ps.range}, {"iterations", ps.n}};
    const Summary ws = summarize(std::vector<double>(anon.begin(), anon.begin() + warmup));
    s["warmup"] = {{"mean_mb", ws.mean}, {"stddev_mb", ws.stddev}, {"min_mb", ws.min}, {"max_mb", ws.max},
                   {"iterations", ws.n}};
    json blocks = json::array();
    const auto anon_blocks = blocks_of(anon, 10, 0.5), rss_blocks = blocks_of(rss, 10, 0.5);
    for (size_t b = 0; b < anon_blocks.size(); ++b)
      blocks.push_back({{"block", b + 1}, {"first", anon_blocks[b].first}, {"last", anon_blocks[b].last},
                        {"mean_anon_mb", anon_blocks[b].mean}, {"mean_rss_mb", rss_blocks[b].mean},
                        {"delta_anon_mb", anon_blocks[b].delta}, {"trend", anon_blocks[b].trend}});
    s["blocks"] = blocks;
  }
  json pm = json::object();
  for (auto& entry : per_model) {
    const std::string& name = entry.first;
    const std::vector<const json*>& runs = entry.second;  // (clang-14 cannot capture structured bindings)
    json m;
    auto avg = [&](const char* key) -> json {
      double sum = 0;
      int k = 0;
      for (const json* r : runs) {
        const json& v = (*r)["metrics"][key];
        if (v.is_number()) sum += v.get<double>(), ++k;
      }
      return k ? json(sum / k) : json(nullptr);
    };
    for (const char* key : {"load_ms", "first_token_ms", "encoder_ms", "prefill_ms", "decode_ms", "total_ms",
                            "tokens_per_s", "chars_per_s", "rtf", "wer", "cer", "load_overhead_rss_mb",
                            "load_overhead_anon_mb", "resident_overhead_rss_mb", "resident_overhead_anon_mb",
                            "unload_release_rss_mb", "unload_release_anon_mb", "net_leak_rss_mb", "net_leak_anon_mb"})
      m[std::string("avg_") + key] = avg(key);
    double mp = 0;
    for (const json* r : runs)
      for (auto& [ph, p] : (*r)["phases"].items()) mp = std::max(mp, p["rss_mb"].get<double>());
    m["peak_rss_mb"] = mp;
    m["runs"] = runs.size();
    pm[name] = m;
  }
  s["per_model"] = pm;
  res["summary"] = s;
}

std::string format_switch_summary(const json& res) {
  const json& s = res.at("summary");
  const json& cfg = res.at("config");
  std::string o;
  const std::string bar(78, '=');
  o += bar + "\nModel Switching Memory Benchmark (qasr " + cfg.value("qasr_version", "") + ", mode " +
       cfg.value("mode", "switch") + ")\n" + bar + "\n";
  bool random = false;
  for (const json& m : cfg["models"]) {
    o += fmt::format("Model: {} ({}, {:.0f} MB){}\n", m["path"].get<std::string>(), m["format"].get<std::string>(),
                     m["bytes"].get<double>() / 1e6, m.value("random_weights", false) ? " RANDOM WEIGHTS" : "");
    random = random || m.value("random_weights", false);
  }
  o += fmt::format("Audio: {} ({:.2f} s)\nReference: {}\nInference threads: {}\nIterations: {}\nMachine: {}, {} cores\n",
                   cfg["audio"]["path"].get<std::string>(), cfg["audio"]["seconds"].get<double>(),
                   cfg.value("reference", "").empty() ? "(none)" : cfg["reference"].get<std::string>(),
                   cfg["threads"].get<int>(), cfg["iterations"].get<int>(),
                   cfg["machine"].value("cpu", "?"), cfg["machine"].value("cores", 0));
  o += "\n" + bar + fmt::format("\nSummary ({} iterations; memory in MiB; anon = RssAnon, rss = VmRSS)\n",
                                cfg["iterations"].get<int>()) + bar + "\n\n";
  std::vector<std::string> names;
  for (auto& [k, v] : s["per_model"].items()) names.push_back(k);
  std::string header = fmt::format("{:<40}", "Metric");
  for (const auto& n : names) header += fmt::format("{:>18}", n.substr(0, 17));
  o += header + "\n" + std::string(header.size(), '-') + "\n";
  auto row = [&](const char* label, const char* key, const char* f, double scale = 1.0) {
    std::string r = fmt::format("{:<40}", label);
    for (const auto& n : names) {
      const json& v = s["per_model"][n][key];
      r += v.is_number() ? fmt::format(fmt::runtime(f), scale * v.get<double>()) : fmt::format("{:>18}", "n/a");
    }
    o += r + "\n";
  };
  row("Avg Load Time (ms)", "avg_load_ms", "{:>18.1f}");
  row("Avg Load Overhead, anon (MB)", "avg_load_overhead_anon_mb", "{:>18.2f}");
  row("Avg Load Overhead, RSS (MB)", "avg_load_overhead_rss_mb", "{:>18.2f}");
  row("Avg Resident Overhead, RSS (MB)", "avg_resident_overhead_rss_mb", "{:>18.2f}");
  row("Avg Unload Release, anon (MB)", "avg_unload_release_anon_mb", "{:>18.2f}");
  row("Avg Unload Release, RSS (MB)", "avg_unload_release_rss_mb", "{:>18.2f}");
  row("Avg Net Leak per Switch, anon (MB)", "avg_net_leak_anon_mb", "{:>18.3f}");
  row("Avg Net Leak per Switch, RSS (MB)", "avg_net_leak_rss_mb", "{:>18.3f}");
  row("Peak RSS (MB)", "peak_rss_mb", "{:>18.1f}");
  o += std::string(header.size(), '-') + "\n";
  row("Avg TTFT (ms)", "avg_first_token_ms", "{:>18.1f}");
  row("Avg Encoder (ms)", "avg_encoder_ms", "{:>18.1f}");
  row("Avg Prefill (ms)", "avg_prefill_ms", "{:>18.1f}");
  row("Avg Decode (ms)", "avg_decode_ms", "{:>18.1f}");
  row("Avg Speed (tokens/sec, decode)", "avg_tokens_per_s", "{:>18.2f}");
  row("Avg Speed (chars/sec, decode)", "avg_chars_per_s", "{:>18.2f}");
  row("Avg Real-time Factor", "avg_rtf", "{:>18.3f}");
  row("Avg WER (%)", "avg_wer", "{:>18.2f}", 100.0);
  row("Avg CER (%)", "avg_cer", "{:>18.2f}", 100.0);
  if (random) o += "(RANDOM WEIGHTS: WER/CER and transcripts are meaningless; memory and timings are real)\n";
  o += "\n| Block | Iterations | Avg anon (MB) | Avg RSS (MB) | Trend |\n|-------|------------|---------------|--------------|-------|\n";
  for (const json& b : s.value("blocks", json::array()))
    o += fmt::format("| {} | {}-{} | {:.2f} | {:.1f} | {} |\n", b["block"].get<int>(), b["first"].get<int>(),
                     b["last"].get<int>(), b["mean_anon_mb"].get<double>(), b["mean_rss_mb"].get<double>(),
                     b["trend"].get<std::string>());
  if (s.contains("overall")) {
    const json& ov = s["overall"];
    o += fmt::format("\nBaseline ({}): anon {:.2f} MB; process RSS before the first load {:.1f} MB\n",
                     s.value("baseline_kind", "before the first load"), s["baseline_anon_mb"].get<double>(),
                     s["baseline_rss_mb"].get<double>());
    o += fmt::format("Initial → final anon: {:.2f} → {:.2f} MB (growth {:+.2f} MB, {:+.4f} MB/iteration)\n",
                     ov["initial_anon_mb"].get<double>(), ov["final_anon_mb"].get<double>(),
                     ov["growth_anon_mb"].get<double>(), ov["growth_anon_per_iter_mb"].get<double>());
    const json& pl = s["plateau"];
    o += fmt::format("Warm-up: {} iteration(s){}; plateau: mean {:.2f} MB, std dev {:.3f}, min {:.2f}, max {:.2f}, range {:.3f}\n",
                     s["warmup_iterations"].get<int>(), s["warmup_detected"].get<bool>() ? " (detected)" : "",
                     pl["mean_mb"].get<double>(), pl["stddev_mb"].get<double>(), pl["min_mb"].get<double>(),
                     pl["max_mb"].get<double>(), pl["range_mb"].get<double>());
  }
  o += fmt::format("\nVerdict: {}\nEvidence: {}\n", s["verdict"].get<std::string>(), s["evidence"].get<std::string>());
  return o;
}

std::string format_switch_csv(const json& res) {
  std::string o = "iteration,model,phase,rss_mb,rss_anon_mb,rss_file_mb,rss_shmem_mb,swap_mb,pss_mb,heap_in_use_mb,"
                  "heap_free_mb,mapped_mb,session_reserved_mb,load_ms,first_token_ms,total_ms\n";
  for (const json& it : res.at("iterations"))
    for (const json& m : it["models"])
      for (const char* ph : {"before_load", "after_load", "after_inference", "after_unload", "after_trim"}) {
        if (!m["phases"].contains(ph)) continue;
        const json& p = m["phases"][ph];
        o += fmt::format("{},{},{},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{},{:.3f},{:.3f},{:.3f},{:.3f},{:.1f},{:.1f},{:.1f}\n",
                         it["iteration"].get<int>(), m["name"].get<std::string>(), ph, p["rss_mb"].get<double>(),
                         p["rss_anon_mb"].get<double>(), p["rss_file_mb"].get<double>(), p["rss_shmem_mb"].get<double>(),
                         p["swap_mb"].get<double>(), p["pss_mb"].is_number() ? fmt::format("{:.3f}", p["pss_mb"].get<double>()) : "",
                         p["heap_in_use_mb"].get<double>(), p["heap_free_mb"].get<double>(),
                         p.contains("engine") ? p["engine"]["mapped_mb"].get<double>() : 0.0,
                         p.contains("engine") ? p["engine"]["session_reserved_mb"].get<double>() : 0.0,
                         m["metrics"]["load_ms"].get<double>(), m["metrics"]["first_token_ms"].get<double>(),
                         m["metrics"]["total_ms"].get<double>());
      }
  return o;
}

}  // namespace qasr
