#include "bench/chatllm_engine.h"

#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include <filesystem>

#include "audio/audio.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/memory.h"
#include "base/utf8.h"
#include "bench/child.h"
#include "score/metrics.h"
#include "score/normalize.h"
#include "text/output_parser.h"

namespace qasr {
namespace {

using nlohmann::json;

// libchatllm's C API (bindings/libchatllm.h), the part the benchmark needs.
typedef void (*PrintFn)(void*, int, const char*);
typedef void (*EndFn)(void*);
struct Api {
  void* (*create)();
  void (*append_param)(void*, const char*);
  int (*start)(void*, PrintFn, EndFn, void*);
  int (*user_input)(void*, const char*);
  int (*destroy)(void*);
  int (*init)();
};

struct Capture {
  std::string text, errors;
  double t_call = 0, t_first = -1;
  int chunks = 0;
};

void on_print(void* user, int type, const char* s) {
  auto* c = static_cast<Capture*>(user);
  if (type == 0) {  // PRINT_CHAT_CHUNK
    if (c->t_first < 0) c->t_first = now_ms();
    c->text += s ? s : "";
    ++c->chunks;
  } else if (type == 2 && s) {  // PRINTLN_ERROR
    c->errors += s;
  }
}
void on_end(void*) {}

// The child: everything chatllm does happens here. Reports one JSON line per event.
[[noreturn]] void child_main(const SwitchConfig& c, const std::string& lib, int out) {
  auto fail = [&](const std::string& m) {
    send_json_line(out, {{"type", "error"}, {"message", m}});
    _exit(3);
  };
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) fail(fmt::format("cannot load '{}': {}", lib, dlerror()));
  Api api{};
  auto sym = [&](const char* name) {
    void* p = dlsym(h, name);
    if (!p) fail(fmt::format("'{}' has no symbol {}: not a libchatllm", lib, name));
    return p;
  };
  api.create = reinterpret_cast<void* (*)()>(sym("chatllm_create"));
  api.append_param = reinterpret_cast<void (*)(void*, const char*)>(sym("chatllm_append_param"));
  api.start = reinterpret_cast<int (*)(void*, PrintFn, EndFn, void*)>(sym("chatllm_start"));
  api.user_input = reinterpret_cast<int (*)(void*, const char*)>(sym("chatllm_user_input"));
  api.destroy = reinterpret_cast<int (*)(void*)>(sym("chatllm_destroy"));
  api.init = reinterpret_cast<int (*)()>(dlsym(h, "chatllm_init"));
  if (api.init && api.init() != 0) fail("chatllm_init failed");
  char abs_audio[PATH_MAX];
  if (!realpath(c.audio.c_str(), abs_audio)) fail(fmt::format("cannot open audio '{}'", c.audio));
  const std::string input = std::string("{{audio:") + abs_audio + "}}";
  if (c.trim) trim_heap();
  send_json_line(out, {{"type", "baseline"}, {"probe", probe_to_json(make_probe(read_memory()))}});
  for (int it = 0; it < c.iterations; ++it)
    for (size_t mi = 0; mi < c.models.size(); ++mi) {
      json phases;
      send_json_line(out, {{"type", "phase"}, {"iteration", it + 1}, {"model", mi}, {"phase", "load"}});
      phases["before_load"] = probe_to_json(make_probe(read_memory()));
      Capture cap;
      void* obj = api.create();
      std::vector<std::string> params = {"-m",
                                         c.models[mi],
                                         "-n",
                                         std::to_string(c.threads),
                                         "-t",
                                         "0",
                                         "--max_new_tokens",
                                         std::to_string(c.max_new_tokens),
                                         "--multimedia_file_tags",
                                         "{{",
                                         "}}"};
      if (!c.language.empty()) params.insert(params.end(), {"--set", "language", c.language});
      for (const std::string& p : params) api.append_param(obj, p.c_str());
      const double t0 = now_ms();
      const int rc = api.start(obj, on_print, on_end, &cap);
      const double load_ms = now_ms() - t0;
      if (rc != 0) fail(fmt::format("chatllm_start('{}') returned {}: {}", c.models[mi], rc, cap.errors));
      phases["after_load"] = probe_to_json(make_probe(read_memory()));
      cap.t_call = now_ms();
      const int ui = api.user_input(obj, input.c_str());
      const double t_end = now_ms();
      if (ui != 0) fail(fmt::format("chatllm_user_input returned {}: {}", ui, cap.errors));
      phases["after_inference"] = probe_to_json(make_probe(read_memory()));
      send_json_line(out, {{"type", "phase"}, {"iteration", it + 1}, {"model", mi}, {"phase", "unload"}});
      api.destroy(obj);
      phases["after_unload"] = probe_to_json(make_probe(read_memory()));
      if (c.trim) {
        trim_heap();
        phases["after_trim"] = probe_to_json(make_probe(read_memory()));
      }
      const double first = cap.t_first >= 0 ? cap.t_first - cap.t_call : t_end - cap.t_call;
      json metrics = {{"load_ms", load_ms},
                      {"first_token_ms", first},  // from the call, which includes chatllm's own ffmpeg decoding
                      {"decode_ms", t_end - cap.t_call - first},
                      {"total_ms", t_end - cap.t_call},
                      {"generated_tokens", cap.chunks}};
      send_json_line(out, {{"type", "run"},
                           {"iteration", it + 1},
                           {"model", mi},
                           {"raw", cap.text},
                           {"phases", phases},
                           {"metrics", metrics}});
    }
  send_json_line(out, {{"type", "done"}});
  _exit(0);
}

}  // namespace

Expected<SwitchResults> run_chatllm_switch_bench(const SwitchConfig& c, const std::string& lib,
                                                 const std::function<void(const std::string&)>& progress) {
  if (c.models.empty()) return InvalidArgument("bench: give at least one --model");
  if (c.mode != "switch") return InvalidArgument("--engine chatllm supports `bench switch` only");
  // The child's reports: run messages are kept and turned into results once it has ended.
  std::vector<json> runs;
  json baseline;
  std::string error, last_phase = "start";
  int last_iter = 0;
  size_t last_model = 0;
  bool done = false;
  auto st = run_in_child(
      [&](int fd) { child_main(c, lib, fd); },
      [&](const std::string& line) {
        // Our own child's lines; still read defensively (a crashing child can cut one short).
        auto parsed = parse_json(line, "chatllm child report");
        if (!parsed.ok() || !parsed->is_object()) return;
        json& j = *parsed;
        const std::string type = j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
        auto int_of = [&](const char* k) { return j.contains(k) && j[k].is_number_integer() ? j[k].get<int>() : -1; };
        if (type == "baseline") {
          baseline = j["probe"];
        } else if (type == "phase") {
          last_iter = int_of("iteration"), last_model = static_cast<size_t>(int_of("model"));
          last_phase = j.contains("phase") && j["phase"].is_string() ? j["phase"].get<std::string>() : "?";
        } else if (type == "error") {
          error = j.contains("message") && j["message"].is_string() ? j["message"].get<std::string>() : "unknown error";
        } else if (type == "done") {
          done = true;
        } else if (type == "run") {
          const int it = int_of("iteration"), mi = int_of("model");
          if (progress && !c.quiet && mi >= 0 && static_cast<size_t>(mi) < c.models.size())
            progress(fmt::format("iteration {}/{} {} (chatllm)", it, c.iterations, model_label(c.models[mi])));
          runs.push_back(std::move(j));
        }
      });
  if (!st.ok()) return st.status();
  const int status = *st;
  if (!error.empty()) return Internal("chatllm engine: " + error);
  if (WIFSIGNALED(status) || !done) {
    const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    std::string what = sig ? fmt::format("was killed by signal {} ({})", sig, strsignal(sig))
                           : fmt::format("exited with status {}", WEXITSTATUS(status));
    std::string hint = last_phase == "unload" && sig == SIGABRT
                           ? "; this is chatllm.cpp's known abort when a Qwen3-ASR object is destroyed "
                             "(chatllm-format.md §3.5): build libchatllm with the one-line pos_helper fix"
                           : "";
    return Internal(fmt::format("chatllm child process {} during iteration {}, model {}, phase {}{}", what, last_iter,
                                last_model < c.models.size() ? model_label(c.models[last_model]) : "?", last_phase,
                                hint));
  }
  SwitchResults res;
  res.config = run_config_of(c, "chatllm");
  res.config.chatllm_lib = lib;
  res.config.mlock = false;
  if (auto pcm = load_audio_file(c.audio); pcm.ok()) res.config.audio_seconds = pcm->seconds();
  for (const std::string& m : c.models) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(m, ec);
    res.config.models.push_back({model_label(m), m, "chatllm", ec ? 0.0 : static_cast<double>(size), false});
  }
  std::unique_ptr<Normalizer> norm;
  std::string ref_norm;
  if (!c.reference.empty()) {
    auto n = Normalizer::create();
    if (n.ok()) norm = std::make_unique<Normalizer>(std::move(n).value()), ref_norm = norm->normalize(c.reference);
  }
  if (!baseline.is_null()) {
    QASR_ASSIGN_OR_RETURN(res.baseline, probe_from_json(baseline));
  }
  for (const json& j : runs) {
    const int it = j.value("iteration", 0);
    const size_t mi = j.value("model", size_t{0});
    if (it < 1 || mi >= c.models.size() || !j.contains("phases") || !j.contains("metrics") || !j.contains("raw") ||
        !j["raw"].is_string())
      return Internal("chatllm engine: a malformed report from the child");
    if (res.iterations.size() < static_cast<size_t>(it)) res.iterations.push_back({it, {}});
    ModelRun run;
    run.name = model_label(c.models[mi]);
    const AsrOutput parsed = parse_asr_output(j["raw"].get<std::string>(), c.language);
    run.text = parsed.text;
    run.language = parsed.language;
    for (int p = 0; p < kPhaseCount; ++p)
      if (j["phases"].contains(kPhaseNames[p])) {
        QASR_ASSIGN_OR_RETURN(run.phases[p], probe_from_json(j["phases"][kPhaseNames[p]]));
      }
    const json& mj = j["metrics"];
    RunMetrics& m = run.metrics;
    m.load_ms = mj.value("load_ms", 0.0);
    m.first_token_ms = mj.value("first_token_ms", 0.0);
    m.decode_ms = mj.value("decode_ms", 0.0);
    m.total_ms = mj.value("total_ms", 0.0);
    m.generated_tokens = mj.value("generated_tokens", int64_t{0});
    m.chars = static_cast<int64_t>(utf8::to_u32(parsed.text).size());
    if (norm) {
      const std::string hn = norm->normalize(parsed.text);
      if (auto w = word_errors(ref_norm, hn); w.ok()) m.wer = w->rate();
      if (auto ce = char_errors(ref_norm, hn); ce.ok()) m.cer = ce->rate();
    }
    finish_run_metrics(run, res.config.audio_seconds, c.trim);
    res.iterations.back().models.push_back(std::move(run));
  }
  analyse_switch_results(res);
  return res;
}

}  // namespace qasr
