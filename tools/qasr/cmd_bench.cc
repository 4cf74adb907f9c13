// Benchmarks: qasr bench switch|reuse|leak-check|cycles|speed, and qasr report.
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "base/io.h"
#include "base/json.h"
#include "base/thread_pool.h"
#include "base/utf8.h"
#include "bench/allocator.h"
#include "bench/chatllm_engine.h"
#include "bench/leak_check.h"
#include "bench/report.h"
#include "bench/serve_bench.h"
#include "bench/speed_bench.h"
#include "bench/switch_bench.h"
#include "cli.h"
#include "model/model.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"

namespace qasr::cli {
namespace {

std::string self_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("/proc/self/exe");
}

// Writes an output file (its folder created first), reporting it on stderr.
int write_output(const std::string& path, const std::string& text) {
  if (path.empty()) return 0;
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0)
    if (Status s = make_dirs(path.substr(0, slash)); !s.ok()) return fail(s);
  if (Status s = write_file(path, text); !s.ok()) return fail(s);
  std::fprintf(stderr, "wrote %s\n", printable(path).c_str());
  return 0;
}

struct SwitchArgs {
  SwitchConfig cfg;
  std::string json, csv, html, ref_file, trim = "after-unload", engine = "qasr", lib;
  bool reuse = false;
};

int run_switch(SwitchArgs a, char** argv) {
  if (Status s = ensure_allocator(a.cfg.allocator, argv); !s.ok()) return fail(s);
  SwitchConfig& cfg = a.cfg;
  cfg.threads = threads_or_default(cfg.threads);
  auto lang = canonical_language(cfg.language);
  if (!lang.ok()) return fail(lang.status());
  cfg.language = *lang;
  cfg.trim = a.trim == "after-unload";
  cfg.mode = a.reuse ? "reuse" : "switch";
  if (!a.ref_file.empty()) {
    auto r = read_file(a.ref_file, 1 << 20);
    if (!r.ok()) return fail(r.status());
    cfg.reference = utf8::strip(*r);
  }
  if (a.engine == "chatllm" && a.lib.empty())
    return fail(InvalidArgument("--engine chatllm needs --chatllm-lib PATH/libchatllm.so"));
  Progress progress(!cfg.quiet);
  auto on_progress = [&](const std::string& line) { progress.update(line); };
  auto res =
      a.engine == "chatllm" ? run_chatllm_switch_bench(cfg, a.lib, on_progress) : run_switch_bench(cfg, on_progress);
  progress.done();
  if (!res.ok()) return fail(res.status());
  out(format_switch_summary(*res));
  if (int rc = write_output(a.json, dump_json(to_json(*res), 2) + "\n")) return rc;
  if (int rc = write_output(a.csv, format_switch_csv(*res))) return rc;
  if (int rc = write_output(a.html, render_html_report(*res))) return rc;
  return 0;
}

struct SpeedArgs {
  SpeedConfig cfg;
  std::string json, threads;
};

int run_speed(SpeedArgs a) {
  SpeedConfig& cfg = a.cfg;
  if (a.threads.empty()) {
    cfg.threads = {threads_or_default(0)};
  } else {
    cfg.threads.clear();
    std::vector<std::string> parts(1);
    for (char ch : a.threads) {
      if (ch == ',')
        parts.emplace_back();
      else
        parts.back().push_back(ch);
    }
    for (const std::string& t : parts) {
      char* end = nullptr;
      const long v = std::strtol(t.c_str(), &end, 10);
      if (t.empty() || *end || v < 1 || v > 1024)
        return fail(InvalidArgument(fmt::format("--threads: '{}' is not a thread count in [1, 1024]", t)));
      cfg.threads.push_back(static_cast<int>(v));
    }
  }
  auto lang = canonical_language(cfg.language);
  if (!lang.ok()) return fail(lang.status());
  cfg.language = *lang;
  auto r = run_speed_bench(cfg, [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); });
  if (!r.ok()) return fail(r.status());
  print_speed_table(*r, stdout);
  return write_output(a.json, dump_json(*r, 2));
}

struct CyclesArgs {
  std::vector<std::string> models;
  std::string audio, json;
  int cycles = 3, max_new = 8;
};

// Load → transcribe → unload cycles with no measuring: what leak-check runs under valgrind.
int run_cycles(const CyclesArgs& a) {
  auto pcm = load_audio_file(a.audio);
  if (!pcm.ok()) return fail(pcm.status());
  ThreadPool pool(2);
  for (int c = 0; c < a.cycles; ++c)
    for (const std::string& path : a.models) {
      auto m = Model::load(path);
      if (!m.ok()) return fail(m.status());
      auto s = Session::create(*m, SessionLimits::for_audio(pcm->seconds(), a.max_new));
      if (!s.ok()) return fail(s.status());
      TranscribeOptions o;
      o.max_new_tokens = a.max_new;
      auto r = transcribe(**s, pool, *pcm, o);
      if (!r.ok()) return fail(r.status());
      pool.release_scratch();
      std::fprintf(stderr, "cycle %d %s: %zu tokens\n", c + 1, printable(path).c_str(), r->token_ids.size());
    }
  return 0;
}

int run_leak(const CyclesArgs& a) {
  char tmpl[] = "/tmp/qasr-leakcheck-XXXXXX";
  if (!::mkdtemp(tmpl)) return fail(errno_status(errno, "cannot create a temporary folder"));
  auto r = run_leak_check(self_path(), a.models, a.audio, a.cycles, a.max_new, tmpl);
  if (!r.ok()) return fail(r.status());
  out(
      fmt::format("valgrind memcheck, {} load/transcribe/unload cycle(s) per model:\n"
                  "  definitely lost: {} bytes in {} blocks\n  indirectly lost: {} bytes in {} blocks\n"
                  "  possibly lost:   {} bytes in {} blocks\n  still reachable: {} bytes in {} blocks\n"
                  "  full report: {}\n",
                  a.cycles, r->definitely_bytes, r->definitely_blocks, r->indirectly_bytes, r->indirectly_blocks,
                  r->possibly_bytes, r->possibly_blocks, r->reachable_bytes, r->reachable_blocks, r->log_path));
  if (!a.json.empty()) {
    nlohmann::json j = {{"cycles", a.cycles},
                        {"models", a.models},
                        {"audio", a.audio},
                        {"report", r->log_path},
                        {"definitely_lost_bytes", r->definitely_bytes},
                        {"indirectly_lost_bytes", r->indirectly_bytes},
                        {"possibly_lost_bytes", r->possibly_bytes},
                        {"still_reachable_bytes", r->reachable_bytes},
                        {"exit_code", r->exit_code}};
    if (int rc = write_output(a.json, dump_json(j, 2) + "\n")) return rc;
  }
  if (r->exit_code != 0)
    return fail(Internal(fmt::format("the cycles failed under valgrind (exit {}); see {}", r->exit_code, r->log_path)));
  if (r->definitely_bytes > 0)
    return fail(Internal(fmt::format("{} bytes definitely lost; see {}", r->definitely_bytes, r->log_path)));
  out("no bytes definitely lost\n");
  return 0;
}

int run_report(const std::string& in, const std::string& out_path) {
  auto text = read_file(in, size_t{1} << 30);
  if (!text.ok()) return fail(text.status());
  auto j = parse_json(*text, "'" + in + "'");
  if (!j.ok()) return fail(j.status());
  auto res = switch_results_from_json(*j);
  if (!res.ok()) return fail(res.status().annotate("'" + in + "'"));
  analyse_switch_results(*res);
  return write_output(out_path, render_html_report(*res));
}

}  // namespace

void add_bench_commands(CLI::App& app, Commands& cmds, char** argv) {
  auto* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  for (const char* mode : {"switch", "reuse"}) {
    auto a = std::make_shared<SwitchArgs>();
    a->reuse = std::string(mode) == "reuse";
    auto* b = bench->add_subcommand(mode, a->reuse ? "Keep each model loaded; a new session per transcription"
                                                   : "Load → transcribe → unload each model in turn, probing memory");
    SwitchConfig& bc = a->cfg;
    b->add_option("--model", bc.models, "model (repeat: they cycle in this order)")->required();
    b->add_option("--audio", bc.audio, "audio file")->required();
    b->add_option("--reference", bc.reference, "reference transcript (WER/CER)");
    b->add_option("--reference-file", a->ref_file, "reference transcript file");
    b->add_option("--iterations", bc.iterations, "iterations")->capture_default_str()->check(CLI::Range(1, 100000));
    add_threads_option(b, &bc.threads, "threads (default: $QASR_THREADS, $INFERENCE_THREADS, all cores)");
    b->add_option("--language", bc.language, "force a language");
    b->add_option("--max-new-tokens", bc.max_new_tokens, "generation limit")
        ->capture_default_str()
        ->check(CLI::Range(1, 65536));
    b->add_option("--warmup-iterations", bc.warmup, "warm-up iterations (default: detected)")
        ->check(CLI::Range(0, 100000));
    b->add_option("--json", a->json, "write results JSON");
    b->add_option("--csv", a->csv, "write the CSV timeline");
    b->add_option("--report", a->html, "write the HTML report");
    b->add_option("--trim", a->trim, "never | after-unload")
        ->capture_default_str()
        ->check(CLI::IsMember({"never", "after-unload"}));
    b->add_option("--allocator", bc.allocator, "glibc | jemalloc | mimalloc")
        ->capture_default_str()
        ->check(CLI::IsMember({"glibc", "jemalloc", "mimalloc"}));
    b->add_flag("--mlock", bc.mlock, "lock mapped weights in RAM");
    b->add_flag("--quiet", bc.quiet, "no live progress line");
    b->add_option("--engine", a->engine, "qasr | chatllm")
        ->capture_default_str()
        ->check(CLI::IsMember({"qasr", "chatllm"}));
    b->add_option("--chatllm-lib", a->lib, "path to libchatllm.so (for --engine chatllm)");
    cmds.push_back({b, [a, argv] { return run_switch(*a, argv); }});
  }

  auto ca = std::make_shared<CyclesArgs>();
  auto* leak = bench->add_subcommand(
      "leak-check", "Load/transcribe/unload cycles under valgrind memcheck; fails on definitely lost bytes");
  leak->add_option("--model", ca->models, "model (repeatable)")->required();
  leak->add_option("--audio", ca->audio, "audio file")->required();
  leak->add_option("--cycles", ca->cycles, "cycles per model")->capture_default_str()->check(CLI::Range(1, 1000));
  leak->add_option("--max-new-tokens", ca->max_new, "generation limit")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  leak->add_option("--json", ca->json, "write the summary as JSON");
  cmds.push_back({leak, [ca] { return run_leak(*ca); }});
  auto* cyc = bench->add_subcommand("cycles", "(internal) plain load/transcribe/unload cycles");
  cyc->group("");
  cyc->add_option("--model", ca->models)->required();
  cyc->add_option("--audio", ca->audio)->required();
  cyc->add_option("--cycles", ca->cycles)->check(CLI::Range(1, 1000));
  cyc->add_option("--max-new-tokens", ca->max_new)->check(CLI::Range(1, 65536));
  cmds.push_back({cyc, [ca] { return run_cycles(*ca); }});

  auto sa = std::make_shared<SpeedArgs>();
  SpeedConfig& spc = sa->cfg;
  auto* sp = bench->add_subcommand(
      "speed",
      "Repeated transcription: stage timings against the machine's measured peaks (optionally beside chatllm.cpp)");
  sp->add_option("--model", spc.models, "model file or folder (repeatable)")->required();
  sp->add_option("--audio", spc.audio, "audio file")->required();
  sp->add_option("--runs", spc.runs, "timed runs per engine (after one warm-up)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  sp->add_option("--threads", sa->threads,
                 "thread counts, comma-separated (default: all cores); chatllm runs at the first");
  sp->add_option("--max-new-tokens", spc.max_new_tokens, "tokens generated per run")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  sp->add_flag("!--stop-at-eos", spc.ignore_eos,
               "stop at the end-of-text token (default: generate exactly --max-new-tokens)");
  sp->add_option("--language", spc.language, "force a language");
  sp->add_option("--chatllm-lib", spc.chatllm_lib, "libchatllm.so: run chatllm.cpp on the same files, side by side");
  sp->add_option("--align-text", spc.align_text,
                 "the text a forced-aligner --model aligns (default: one word per 0.4 s of audio)");
  sp->add_flag("!--no-peaks", spc.measure_peaks, "skip measuring read bandwidth and FMA peak");
  sp->add_option("--noise", spc.noise,
                 "also run beside this many busy processes (a shared machine) and print the slowdown")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  sp->add_option("--json", sa->json, "write results JSON");
  cmds.push_back({sp, [sa] { return run_speed(*sa); }});

  struct ServeArgs {
    ServeBenchConfig cfg;
    std::string json, html;
  };
  auto va = std::make_shared<ServeArgs>();
  ServeBenchConfig& vc = va->cfg;
  auto* sb = bench->add_subcommand(
      "serve", "Load generator over HTTP against a qasr serve it starts (arguments after --) or --url");
  sb->add_option("--url", vc.url, "an existing server or balancer, http://HOST:PORT");
  sb->add_option("--replica-url", vc.replica_urls, "a replica behind --url whose /metrics to read (repeatable)");
  sb->add_option("--model", vc.models, "model name of the request mix (repeatable; clients alternate)")->required();
  sb->add_option("--audio", vc.audio, "audio file sent in every request")->required();
  sb->add_option("--clients", vc.clients, "concurrent clients")->capture_default_str()->check(CLI::Range(1, 1024));
  sb->add_option("--requests", vc.requests, "requests in all")->check(CLI::Range(1, 10000000));
  sb->add_option("--duration", vc.duration_s, "seconds to run (instead of --requests)")->check(finite_range(0.1, 1e6));
  sb->add_option("--response-format", vc.response_format, "json | text | srt | vtt | verbose_json")
      ->capture_default_str();
  sb->add_flag("--stream", vc.stream, "stream: true (time to first token measured by the client)");
  sb->add_flag("--model-header", vc.model_header, "send X-Model (for a balancer routing on it)");
  sb->add_option("--api-key", vc.api_key, "Authorization: Bearer KEY");
  sb->add_option("--compare-cli", vc.compare_cli_model, "model PATH: also time qasr transcribe of the clip with it");
  add_threads_option(sb, &vc.threads, "threads of the qasr transcribe comparison (match the server's --threads)");
  sb->add_option("--work-dir", vc.work_dir, "server log and scratch")->capture_default_str();
  sb->add_option("--json", va->json, "write results JSON");
  sb->add_option("--report", va->html, "write the HTML report");
  sb->add_option("server-args", vc.server_args, "after --: arguments of the qasr serve to start");
  cmds.push_back({sb, [va] {
                    ServeBenchConfig c = va->cfg;
                    c.self = self_path();
                    if (c.url.empty() && c.server_args.empty())
                      return fail(InvalidArgument("bench serve: give --url, or qasr serve arguments after --"));
                    auto r = run_serve_bench(c);
                    if (!r.ok()) return fail(r.status());
                    out(format_serve_summary(*r));
                    if (int rc = write_output(va->json, dump_json(*r, 2) + "\n")) return rc;
                    return write_output(va->html, render_serve_report(*r));
                  }});

  struct ReportArgs {
    std::string in, out;
  };
  auto ra = std::make_shared<ReportArgs>();
  auto* rp = app.add_subcommand("report", "Render a benchmark results JSON as a self-contained HTML page");
  rp->add_option("results", ra->in, "results JSON")->required();
  rp->add_option("-o,--output", ra->out, "output .html")->required();
  cmds.push_back({rp, [ra] { return run_report(ra->in, ra->out); }});
}

}  // namespace qasr::cli
