// qasr serve: the OpenAI-compatible transcription server (src/server/server.h).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/io.h"
#include "cli.h"
#include "server/server.h"

namespace qasr::cli {
namespace {

int g_signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  const char c = 's';
  (void)!::write(g_signal_pipe[1], &c, 1);
}

struct ServeArgs {
  ServerConfig cfg;
  ManagerConfig manager;
  std::vector<std::string> models, preload, pin;
  std::string models_dir, budget, aligner;
};

// NAME=PATH
Expected<ModelSpec> parse_model_flag(const std::string& s) {
  const size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
    return InvalidArgument(fmt::format("--model '{}': expected NAME=PATH", s));
  ModelSpec m{s.substr(0, eq), s.substr(eq + 1), false, false};
  for (char c : m.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return InvalidArgument(fmt::format("--model '{}': names use letters, digits, '-', '_' and '.'", s));
  QASR_RETURN_IF_ERROR(check_input_path(m.path, /*allow_dir=*/true).annotate("--model " + m.name));
  return m;
}

// Each model file (.gguf, .bin) or Hugging Face folder (has config.json) in DIR, named by its stem.
Expected<std::vector<ModelSpec>> scan_models_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound(fmt::format("--models-dir '{}' is not a folder", dir));
  std::vector<ModelSpec> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const fs::path& p = e.path();
    if (e.is_directory(ec) && fs::exists(p / "config.json", ec))
      out.push_back({p.filename().string(), p.string()});
    else if (e.is_regular_file(ec) && (p.extension() == ".gguf" || p.extension() == ".bin"))
      out.push_back({p.stem().string(), p.string()});
  }
  std::sort(out.begin(), out.end(), [](const ModelSpec& a, const ModelSpec& b) { return a.name < b.name; });
  return out;
}

int run_serve(ServeArgs a) {
  std::vector<ModelSpec> specs;
  std::set<std::string> names;
  auto add = [&](ModelSpec m) -> Status {
    if (!names.insert(m.name).second) return InvalidArgument(fmt::format("model name '{}' is given twice", m.name));
    specs.push_back(std::move(m));
    return Status::Ok();
  };
  for (const std::string& s : a.models) {
    auto m = parse_model_flag(s);
    if (!m.ok()) return fail(m.status());
    if (Status st = add(*m); !st.ok()) return fail(st);
  }
  if (!a.models_dir.empty()) {
    auto found = scan_models_dir(a.models_dir);
    if (!found.ok()) return fail(found.status());
    for (ModelSpec& m : *found)
      if (Status st = add(m); !st.ok()) return fail(st);
  }
  if (!a.aligner.empty()) {
    auto m = parse_model_flag(a.aligner);
    if (!m.ok()) return fail(m.status().annotate("--aligner"));
    a.cfg.aligner = m->name;
    if (Status st = add(*m); !st.ok()) return fail(st);
  }
  for (const auto& [list, pinned] : {std::pair{&a.preload, false}, std::pair{&a.pin, true}})
    for (const std::string& n : *list) {
      auto it = std::find_if(specs.begin(), specs.end(), [&](const ModelSpec& m) { return m.name == n; });
      if (it == specs.end())
        return fail(InvalidArgument(fmt::format("--{} {}: no such model", pinned ? "pin" : "preload", n)));
      it->preload = true;
      it->pinned = it->pinned || pinned;
    }
  if (!a.budget.empty()) {
    auto b = parse_size(a.budget);
    if (!b.ok()) return fail(b.status().annotate("--memory-budget"));
    a.manager.memory_budget = *b;
  }
  if (const char* key = std::getenv("QASR_API_KEY"); key && a.cfg.api_key.empty()) a.cfg.api_key = key;
  auto server = Server::create(a.cfg, std::move(specs), a.manager);
  if (!server.ok()) return fail(server.status());
  // SIGTERM/SIGINT start the drain. Any thread may receive them (libraries start threads
  // of their own before main), so the handler only writes a byte to a pipe; a thread
  // reading it asks the server to drain. Installed before the port is announced.
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) return fail(errno_status(errno, "pipe"));
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  Server* s = server->get();
  std::thread signals([s] {
    char c;
    while (::read(g_signal_pipe[0], &c, 1) == 1) {
      if (c == 'q') return;
      s->request_drain();
    }
  });
  out(fmt::format("qasr serve: listening on http://{}:{}\n", a.cfg.host, (*server)->port()));
  out_ok();  // flushes, so a parent reading the port sees it now
  const Status st = (*server)->run();
  const char quit = 'q';
  (void)!::write(g_signal_pipe[1], &quit, 1);
  signals.join();
  server->reset();
  if (!st.ok()) return fail(st);
  return 0;
}

}  // namespace

void add_serve_commands(CLI::App& app, Commands& cmds) {
  auto a = std::make_shared<ServeArgs>();
  ServerConfig& c = a->cfg;
  ManagerConfig& m = a->manager;
  auto* sv =
      app.add_subcommand("serve", "OpenAI-compatible transcription server that loads, switches and unloads models");
  sv->add_option("--model", a->models, "NAME=PATH (repeatable): a model file or Hugging Face folder");
  sv->add_option("--models-dir", a->models_dir, "every model file or HF folder in DIR, named by its stem");
  sv->add_option("--aligner", a->aligner, "NAME=PATH of a Qwen3-ForcedAligner model (word timestamps)");
  sv->add_option("--host", c.host, "address to listen on")->capture_default_str();
  sv->add_option("--port", c.port, "port (0 picks a free one and prints it)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  sv->add_option("--api-key", c.api_key, "require Authorization: Bearer KEY (or $QASR_API_KEY)");
  sv->add_option("--max-loaded", m.max_loaded, "models loaded at once (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  sv->add_option("--memory-budget", a->budget, "memory the loaded models and sessions may hold, e.g. 3G");
  sv->add_option("--idle-ttl", m.idle_ttl_s, "unload a model idle this many seconds (0: right after use, -1: never)")
      ->capture_default_str()
      ->check(finite_range(-1, 1e9));
  sv->add_option("--preload", a->preload, "load this model at start (repeatable)");
  sv->add_option("--pin", a->pin, "load at start and never evict (repeatable)");
  sv->add_option("--parallel", c.parallel, "transcriptions at once")->capture_default_str()->check(CLI::Range(1, 256));
  add_threads_option(sv, &c.threads, "threads per transcription (default: cores / --parallel)");
  sv->add_option("--queue", c.queue, "requests that may wait for a worker")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  sv->add_option("--max-upload-mb", c.max_upload_bytes, "upload cap in MiB (default 25, as OpenAI)")
      ->transform([](const std::string& v) {
        char* end = nullptr;
        const double mb = std::strtod(v.c_str(), &end);
        if (*end || !(mb > 0 && mb <= 4096)) throw CLI::ValidationError("--max-upload-mb", "must be in (0, 4096]");
        return std::to_string(static_cast<int64_t>(mb * 1048576.0));
      });
  sv->add_option("--max-audio-seconds", c.max_audio_seconds, "refuse longer audio")
      ->capture_default_str()
      ->check(finite_range(1, 4 * 3600));
  sv->add_option("--max-segment-seconds", c.max_segment_seconds,
                 "split longer audio at quiet points into pieces of at most this (word timestamps: at most 180)")
      ->capture_default_str()
      ->check(finite_range(10, 3600));
  sv->add_option("--max-new-tokens", c.max_new_tokens, "ceiling per piece (default: 32 + 25 per second of the piece)")
      ->check(CLI::Range(1, 65536));
  sv->add_option("--request-timeout", c.request_timeout_s, "seconds per request (default: max(120, 2.5 × audio))")
      ->check(finite_range(0.1, 1e6));
  sv->add_option("--rss-alert-mb", c.rss_alert_mb, "log, metric and /health 'degraded' above this RssAnon")
      ->check(finite_range(0, 1e9));
  sv->add_option("--load-wait", m.load_wait_s, "seconds a request waits for its model to load before 503 model_loading")
      ->capture_default_str()
      ->check(finite_range(0, 3600));
  sv->add_option("--drain-delay", c.drain_delay_s, "after SIGTERM, /ready answers 503 at least this long")
      ->capture_default_str()
      ->check(finite_range(0, 3600));
  sv->add_option("--drain-timeout", c.drain_timeout_s, "seconds requests in flight get to finish after SIGTERM")
      ->capture_default_str()
      ->check(finite_range(0, 86400));
  sv->add_option("--log-format", c.log_json, "text | json")
      ->transform(CLI::CheckedTransformer(std::map<std::string, bool>{{"text", false}, {"json", true}}));
  sv->add_option("--worker-nice", c.worker_nice,
                 "nice value added to the transcription threads, so HTTP is served first on busy cores")
      ->capture_default_str()
      ->check(CLI::Range(0, 19));
  sv->add_flag("--require-routing-key", c.require_routing_key,
               "behind a balancer: refuse (400) a transcription without X-Model or /m/<model>/");
  sv->add_option("--replica-name", c.replica_name, "name sent as X-Qasr-Replica on every response (default HOST:PORT)");
  sv->add_option("--debug-step-delay-ms", c.debug_step_delay_ms, "(tests) slow every transcription step")
      ->group("")
      ->check(CLI::Range(0, 10000));
  cmds.push_back({sv, [a] { return run_serve(*a); }});
}

}  // namespace qasr::cli
