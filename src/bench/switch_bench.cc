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

#include "audio/audio.h"
#include "base/clock.h"
#include "base/memory.h"
#include "base/thread_pool.h"
#include "base/utf8.h"
#include "bench/stats.h"
#include "kernels/dispatch.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "pipeline/aligner.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"
#include "score/metrics.h"
#include "score/normalize.h"

namespace qasr {
namespace {

constexpr double kMiB = 1048576.0;

// A probe of /proc plus what the engine holds. Plain data: taking one allocates nothing
// (the benchmark's own bookkeeping must not look like a leak).
Probe take_probe(const EngineHoldings& h, const ThreadPool& pool) {
  Probe p = make_probe(read_memory());
  p.engine = h;
  p.engine->scratch_mb = pool.scratch_bytes() / kMiB;
  return p;
}

}  // namespace

std::string model_label(const std::string& path) {
  std::string b = path;
  while (!b.empty() && b.back() == '/') b.pop_back();
  b = b.substr(b.find_last_of('/') + 1);
  for (const char* ext : {".gguf", ".bin"})
    if (b.size() > std::strlen(ext) && b.compare(b.size() - std::strlen(ext), std::strlen(ext), ext) == 0)
      b.resize(b.size() - std::strlen(ext));
  return b;
}

nlohmann::json machine_description() {
  nlohmann::json m;
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

RunConfig run_config_of(const SwitchConfig& c, const std::string& engine) {
  RunConfig r;
  r.engine = engine;
  r.mode = c.mode;
  r.qasr_version = QASR_VERSION;
  r.audio_path = c.audio;
  r.reference = c.reference;
  r.language = c.language;
  r.iterations = c.iterations;
  r.threads = c.threads;
  r.max_new_tokens = c.max_new_tokens;
  r.warmup = c.warmup;
  r.trim = c.trim;
  r.mlock = c.mlock;
  r.allocator = c.allocator;
  const char* pre = std::getenv("QASR_ALLOCATOR_ACTIVE");
  r.allocator_preloaded = pre ? pre : "none";
  r.machine = machine_description();
  return r;
}

Expected<SwitchResults> run_switch_bench(const SwitchConfig& c,
                                         const std::function<void(const std::string&)>& progress) {
  if (c.models.empty()) return InvalidArgument("bench: give at least one --model");
  if (c.iterations < 1 || c.iterations > 100000) return InvalidArgument("bench: --iterations must be in [1, 100000]");
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
  SwitchResults res;
  res.config = run_config_of(c, "qasr");
  res.config.audio_seconds = pcm->seconds();
  // Describe the models once (load + unload before the baseline, so the baseline
  // already includes one-time process state such as libraries' static data).
  for (const std::string& path : c.models) {
    auto m = Model::load(path);
    if (!m.ok()) return m.status();
    if ((*m)->config().kind == ModelKind::kForcedAligner && c.reference.empty())
      return InvalidArgument(fmt::format("bench: '{}' is a forced aligner; it aligns --reference, so give one", path));
    res.config.models.push_back(
        {model_label(path), path, (*m)->format(), static_cast<double>((*m)->mapped_bytes()), (*m)->source().synthetic});
  }
  // Every record the loop will fill, allocated now (texts get room for 4 KiB).
  std::vector<ModelRun> runs(static_cast<size_t>(c.iterations) * c.models.size());
  for (ModelRun& r : runs) r.text.reserve(4096), r.language.reserve(64), r.name.reserve(256);
  std::string hyp_norm;
  hyp_norm.reserve(16384);
  // One-time process state (OpenBLAS's per-thread buffers) before the baseline.
  ops::warm_up(pool);
  if (c.trim) trim_heap();
  res.baseline = take_probe({}, pool);

  std::vector<std::shared_ptr<const Model>> kept;  // reuse mode: loaded once
  const SessionLimits lim = SessionLimits::for_audio(pcm->seconds(), c.max_new_tokens);
  size_t ri = 0;
  for (int it = 0; it < c.iterations; ++it) {
    for (size_t mi = 0; mi < c.models.size(); ++mi, ++ri) {
      ModelRun& rec = runs[ri];
      RunMetrics& m = rec.metrics;
      const std::string& path = c.models[mi];
      rec.name.assign(res.config.models[mi].name);
      EngineHoldings h;
      rec.phases[kBeforeLoad] = take_probe(h, pool);
      const double t0 = now_ms();
      std::shared_ptr<const Model> model;
      if (c.mode == "reuse" && kept.size() > mi) {
        model = kept[mi];
      } else {
        LoadOptions lo;
        lo.mlock = c.mlock;
        auto loaded = Model::load(path, lo);
        if (!loaded.ok()) return loaded.status();
        model = *loaded;
        if (c.mode == "reuse") kept.push_back(model);
      }
      m.load_ms = now_ms() - t0;
      h.mapped_mb = model->mapped_bytes() / kMiB;
      h.model_owned_mb = model->owned_bytes() / kMiB;
      rec.phases[kAfterLoad] = take_probe(h, pool);
      auto report = [&] {
        if (!progress || c.quiet) return;
        const Probe& last = rec.phases[c.trim ? kAfterTrim : kAfterUnload];
        progress(
            fmt::format("iteration {}/{} {}: after unload rss {:.0f} MiB, anon {:.2f} MiB, file {:.0f} MiB; "
                        "load {:.0f} ms, first token {:.0f} ms",
                        it + 1, c.iterations, rec.name, last.rss_mb, last.rss_anon_mb, last.rss_file_mb, m.load_ms,
                        m.first_token_ms));
      };
      if (model->config().kind == ModelKind::kForcedAligner) {
        // The aligner's job: one pass aligning the reference text (its state lives only
        // during the call).
        AlignOptions ao;
        ao.language = c.language;
        auto a = align(*model, pool, *pcm, c.reference, ao);
        if (!a.ok()) return a.status().annotate("'" + path + "'");
        rec.phases[kAfterInference] = take_probe(h, pool);
        m.audio_ms = audio_ms, m.encoder_ms = a->encoder_ms, m.prefill_ms = a->forward_ms - a->encoder_ms;
        m.first_token_ms = a->forward_ms, m.total_ms = a->forward_ms;
        m.chars = static_cast<int64_t>(a->words.size());
        rec.text.assign(fmt::format("aligned {} words, {:.3f}–{:.3f} s", a->words.size(),
                                    a->words.empty() ? 0.0 : a->words.front().start,
                                    a->words.empty() ? 0.0 : a->words.back().end));
        a = Internal("released");
        model.reset();
        h = EngineHoldings{};
        if (c.mode == "reuse") {
          h.mapped_mb = kept[mi]->mapped_bytes() / kMiB;
          h.model_owned_mb = kept[mi]->owned_bytes() / kMiB;
        } else {
          pool.release_scratch();
        }
        rec.phases[kAfterUnload] = take_probe(h, pool);
        if (c.trim) {
          trim_heap();
          rec.phases[kAfterTrim] = take_probe(h, pool);
        }
        report();
        continue;
      }
      auto session = Session::create(model, lim);
      if (!session.ok()) return session.status();
      h.session_reserved_mb = (*session)->reserved_bytes() / kMiB;
      h.kv_cache_reserved_mb = (*session)->kv_cache_bytes() / kMiB;
      TranscribeOptions o;
      o.language = c.language;
      o.max_new_tokens = c.max_new_tokens;
      auto r = transcribe(**session, pool, *pcm, o);
      if (!r.ok()) return r.status().annotate("'" + path + "'");
      rec.phases[kAfterInference] = take_probe(h, pool);
      const Timings& t = r->timings;
      m.audio_ms = audio_ms, m.mel_ms = t.mel, m.encoder_ms = t.encoder, m.prefill_ms = t.prefill;
      m.decode_ms = t.decode, m.first_token_ms = t.first_token, m.total_ms = t.total;
      m.generated_tokens = static_cast<int64_t>(r->token_ids.size());
      m.chars = static_cast<int64_t>(utf8::to_u32(r->text).size());
      rec.text.assign(r->text, 0, std::min<size_t>(r->text.size(), 4096));
      rec.language.assign(r->language, 0, std::min<size_t>(r->language.size(), 64));
      if (norm) {
        hyp_norm = norm->normalize(r->text);
        auto w = word_errors(ref_norm, hyp_norm);
        auto ce = char_errors(ref_norm, hyp_norm);
        if (w.ok()) m.wer = w->rate();
        if (ce.ok()) m.cer = ce->rate();
      }
      r = Internal("released");  // drop the transcript before probing
      session->reset();          // the session dies here
      model.reset();
      h = EngineHoldings{};
      if (c.mode == "reuse") {
        h.mapped_mb = kept[mi]->mapped_bytes() / kMiB;
        h.model_owned_mb = kept[mi]->owned_bytes() / kMiB;
      } else {
        pool.release_scratch();
      }
      rec.phases[kAfterUnload] = take_probe(h, pool);
      if (c.trim) {
        trim_heap();
        rec.phases[kAfterTrim] = take_probe(h, pool);
      }
      report();
    }
  }
  kept.clear();

  // Only now build the document.
  for (size_t i = 0; i < runs.size(); i += c.models.size()) {
    Iteration iter;
    iter.iteration = static_cast<int>(i / c.models.size()) + 1;
    for (size_t k = 0; k < c.models.size(); ++k) {
      finish_run_metrics(runs[i + k], pcm->seconds(), c.trim);
      iter.models.push_back(std::move(runs[i + k]));
    }
    res.iterations.push_back(std::move(iter));
  }
  analyse_switch_results(res);
  return res;
}

void analyse_switch_results(SwitchResults& res) {
  const RunConfig& cfg = res.config;
  const bool trimmed = cfg.trim;
  const Phase end_phase = trimmed ? kAfterTrim : kAfterUnload;
  // The leak series: anonymous memory at the end of each iteration (all models unloaded).
  std::vector<double> anon, rss;
  double peak = res.baseline.hwm_mb;
  std::map<std::string, std::vector<const ModelRun*>> per_model;
  for (const Iteration& it : res.iterations) {
    if (it.models.empty()) continue;
    const Probe& last = it.models.back().phases[end_phase];
    anon.push_back(last.rss_anon_mb);
    rss.push_back(last.rss_mb);
    for (const ModelRun& m : it.models) {
      per_model[m.name].push_back(&m);
      for (const Probe& p : m.phases)
        if (p.present) peak = std::max(peak, p.rss_mb);
    }
  }
  const int n = static_cast<int>(anon.size());
  const int warmup =
      cfg.warmup >= 0 ? std::min(cfg.warmup, std::max(0, n - 1)) : detect_warmup(anon, 0.5, std::max(1, n / 5));
  std::vector<double> post(anon.begin() + std::min(warmup, n), anon.end());
  const Slope sl = fit_slope(post);
  // In reuse mode the models stay loaded by design: compare with the first
  // iteration's end state instead of the empty process.
  const bool reuse = cfg.mode == "reuse";
  const double baseline = reuse && !anon.empty() ? anon.front() : res.baseline.rss_anon_mb;
  const Verdict v = judge(sl, anon.empty() ? 0.0 : anon.back() - baseline);
  SwitchSummary s;
  s.verdict = v.verdict;
  s.evidence = v.evidence;
  s.series = fmt::format("rss_anon_mb at {} of the last model of each iteration", kPhaseNames[end_phase]);
  s.slope_mb_per_iter = sl.slope;
  s.ci_low = sl.ci_low;
  s.ci_high = sl.ci_high;
  s.slope_r2 = sl.r2;
  s.warmup_iterations = warmup;
  s.warmup_detected = cfg.warmup < 0;
  s.peak_rss_mb = peak;
  s.baseline_anon_mb = baseline;
  s.baseline_kind = reuse ? "end of iteration 1 (models stay loaded in reuse mode)" : "before the first load";
  s.baseline_rss_mb = res.baseline.rss_mb;
  if (n > 0) {
    s.has_overall = true;
    s.initial_anon_mb = anon.front();
    s.final_anon_mb = anon.back();
    s.growth_anon_mb = anon.back() - anon.front();
    s.growth_anon_per_iter_mb = n > 1 ? (anon.back() - anon.front()) / (n - 1) : 0.0;
    s.final_vs_baseline_anon_mb = anon.back() - baseline;
    s.initial_rss_mb = rss.front();
    s.final_rss_mb = rss.back();
    s.growth_rss_mb = rss.back() - rss.front();
    auto stats = [](const std::vector<double>& x) {
      const Summary z = summarize(x);
      return Stats{z.mean, z.stddev, z.min, z.max, z.range, z.n};
    };
    s.plateau = stats(post.empty() ? anon : post);
    s.warmup = stats(std::vector<double>(anon.begin(), anon.begin() + std::min(warmup, n)));
    const auto anon_blocks = blocks_of(anon, 10, 0.5), rss_blocks = blocks_of(rss, 10, 0.5);
    for (size_t b = 0; b < anon_blocks.size() && b < rss_blocks.size(); ++b)
      s.blocks.push_back({static_cast<int>(b + 1), anon_blocks[b].first, anon_blocks[b].last, anon_blocks[b].mean,
                          rss_blocks[b].mean, anon_blocks[b].delta, anon_blocks[b].trend});
  }
  for (const auto& entry : per_model) {
    const std::vector<const ModelRun*>& runs = entry.second;  // (clang-14 cannot capture structured bindings)
    ModelSummary m;
    for (const std::string& key : averaged_metric_keys()) {
      double sum = 0;
      int k = 0;
      for (const ModelRun* r : runs)
        if (auto v = metric_value(r->metrics, key)) sum += *v, ++k;
      m.avg[key] = k ? std::optional<double>(sum / k) : std::nullopt;
    }
    for (const ModelRun* r : runs)
      for (const Probe& p : r->phases)
        if (p.present) m.peak_rss_mb = std::max(m.peak_rss_mb, p.rss_mb);
    m.runs = static_cast<int>(runs.size());
    s.per_model[entry.first] = m;
  }
  res.summary = s;
}

std::string format_switch_summary(const SwitchResults& res) {
  const SwitchSummary& s = res.summary;
  const RunConfig& cfg = res.config;
  std::string o;
  const std::string bar(78, '=');
  o += bar + "\nModel Switching Memory Benchmark (qasr " + cfg.qasr_version + ", mode " + cfg.mode + ")\n" + bar + "\n";
  bool random = false;
  for (const ModelInfo& m : cfg.models) {
    o += fmt::format("Model: {} ({}, {:.0f} MB){}\n", m.path, m.format, m.bytes / 1e6,
                     m.random_weights ? " RANDOM WEIGHTS" : "");
    random = random || m.random_weights;
  }
  o +=
      fmt::format("Audio: {} ({:.2f} s)\nReference: {}\nInference threads: {}\nIterations: {}\nMachine: {}, {} cores\n",
                  cfg.audio_path, cfg.audio_seconds, cfg.reference.empty() ? "(none)" : cfg.reference, cfg.threads,
                  cfg.iterations, cfg.machine.value("cpu", "?"), cfg.machine.value("cores", 0));
  o += "\n" + bar +
       fmt::format("\nSummary ({} iterations; memory in MiB; anon = RssAnon, rss = VmRSS)\n", cfg.iterations) + bar +
       "\n\n";
  std::vector<std::string> names;
  for (const auto& [k, v] : s.per_model) names.push_back(k);
  std::string header = fmt::format("{:<40}", "Metric");
  for (const auto& n : names) header += fmt::format("{:>18}", n.substr(0, 17));
  o += header + "\n" + std::string(header.size(), '-') + "\n";
  auto row = [&](const char* label, const std::string& key, const char* f, double scale = 1.0) {
    std::string r = fmt::format("{:<40}", label);
    for (const auto& n : names) {
      const ModelSummary& m = s.per_model.at(n);
      std::optional<double> v = key == "peak_rss_mb" ? std::optional<double>(m.peak_rss_mb) : m.avg.at(key);
      r += v ? fmt::format(fmt::runtime(f), scale * *v) : fmt::format("{:>18}", "n/a");
    }
    o += r + "\n";
  };
  row("Avg Load Time (ms)", "load_ms", "{:>18.1f}");
  row("Avg Load Overhead, anon (MB)", "load_overhead_anon_mb", "{:>18.2f}");
  row("Avg Load Overhead, RSS (MB)", "load_overhead_rss_mb", "{:>18.2f}");
  row("Avg Resident Overhead, RSS (MB)", "resident_overhead_rss_mb", "{:>18.2f}");
  row("Avg Unload Release, anon (MB)", "unload_release_anon_mb", "{:>18.2f}");
  row("Avg Unload Release, RSS (MB)", "unload_release_rss_mb", "{:>18.2f}");
  row("Avg Net Leak per Switch, anon (MB)", "net_leak_anon_mb", "{:>18.3f}");
  row("Avg Net Leak per Switch, RSS (MB)", "net_leak_rss_mb", "{:>18.3f}");
  row("Peak RSS (MB)", "peak_rss_mb", "{:>18.1f}");
  o += std::string(header.size(), '-') + "\n";
  row("Avg TTFT (ms)", "first_token_ms", "{:>18.1f}");
  row("Avg Encoder (ms)", "encoder_ms", "{:>18.1f}");
  row("Avg Prefill (ms)", "prefill_ms", "{:>18.1f}");
  row("Avg Decode (ms)", "decode_ms", "{:>18.1f}");
  row("Avg Speed (tokens/sec, decode)", "tokens_per_s", "{:>18.2f}");
  row("Avg Speed (chars/sec, decode)", "chars_per_s", "{:>18.2f}");
  row("Avg Real-time Factor", "rtf", "{:>18.3f}");
  row("Avg WER (%)", "wer", "{:>18.2f}", 100.0);
  row("Avg CER (%)", "cer", "{:>18.2f}", 100.0);
  if (random) o += "(RANDOM WEIGHTS: WER/CER and transcripts are meaningless; memory and timings are real)\n";
  o += "\n| Block | Iterations | Avg anon (MB) | Avg RSS (MB) | Trend "
       "|\n|-------|------------|---------------|--------------|-------|\n";
  for (const SummaryBlock& b : s.blocks)
    o += fmt::format("| {} | {}-{} | {:.2f} | {:.1f} | {} |\n", b.block, b.first, b.last, b.mean_anon_mb, b.mean_rss_mb,
                     b.trend);
  if (s.has_overall) {
    o += fmt::format("\nBaseline ({}): anon {:.2f} MB; process RSS before the first load {:.1f} MB\n", s.baseline_kind,
                     s.baseline_anon_mb, s.baseline_rss_mb);
    o += fmt::format("Initial → final anon: {:.2f} → {:.2f} MB (growth {:+.2f} MB, {:+.4f} MB/iteration)\n",
                     s.initial_anon_mb, s.final_anon_mb, s.growth_anon_mb, s.growth_anon_per_iter_mb);
    o += fmt::format(
        "Warm-up: {} iteration(s){}; plateau: mean {:.2f} MB, std dev {:.3f}, min {:.2f}, max {:.2f}, range {:.3f}\n",
        s.warmup_iterations, s.warmup_detected ? " (detected)" : "", s.plateau.mean, s.plateau.stddev, s.plateau.min,
        s.plateau.max, s.plateau.range);
  }
  o += fmt::format("\nVerdict: {}\nEvidence: {}\n", s.verdict, s.evidence);
  return o;
}

std::string format_switch_csv(const SwitchResults& res) {
  std::string o =
      "iteration,model,phase,rss_mb,rss_anon_mb,rss_file_mb,rss_shmem_mb,swap_mb,pss_mb,heap_in_use_mb,"
      "heap_free_mb,mapped_mb,session_reserved_mb,load_ms,first_token_ms,total_ms\n";
  for (const Iteration& it : res.iterations)
    for (const ModelRun& m : it.models)
      for (int ph = 0; ph < kPhaseCount; ++ph) {
        const Probe& p = m.phases[ph];
        if (!p.present) continue;
        o += fmt::format(
            "{},{},{},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{},{:.3f},{:.3f},{:.3f},{:.3f},{:.1f},{:.1f},{:.1f}\n",
            it.iteration, m.name, kPhaseNames[ph], p.rss_mb, p.rss_anon_mb, p.rss_file_mb, p.rss_shmem_mb, p.swap_mb,
            p.pss_mb ? fmt::format("{:.3f}", *p.pss_mb) : "", p.heap_in_use_mb, p.heap_free_mb,
            p.engine ? p.engine->mapped_mb : 0.0, p.engine ? p.engine->session_reserved_mb : 0.0, m.metrics.load_ms,
            m.metrics.first_token_ms, m.metrics.total_ms);
      }
  return o;
}

}  // namespace qasr
