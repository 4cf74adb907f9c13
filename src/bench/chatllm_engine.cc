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

#include "base/clock.h"
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
  send_json_line(out, {{"type", "baseline"}, {"probe", memory_probe_json(read_memory())}});
  for (int it = 0; it < c.iterations; ++it)
    for (size_t mi = 0; mi < c.models.size(); ++mi) {
      json phases;
      send_json_line(out, {{"type", "phase"}, {"iteration", it + 1}, {"model", mi}, {"phase", "load"}});
      phases["before_load"] = memory_probe_json(read_memory());
      Capture cap;
      void* obj = api.create();
      std::vector<std::string> params = {"-m", c.models[mi], "-n", std::to_string(c.threads), "-t", "0",
                                         "--max_new_tokens", std::to_string(c.max_new_tokens),
                                         "--multimedia_file_tags", "{{", "}}"};
      if (!c.language.empty()) params.insert(params.end(), {"--set", "language", c.language});
      for (const std::string& p : params) api.append_param(obj, p.c_str());
      const double t0 = now_ms();
      const int rc = api.start(obj, on_print, on_end, &cap);
      const double load_ms = now_ms() - t0;
      if (rc != 0) fail(fmt::format("chatllm_start('{}') returned {}: {}", c.models[mi], rc, cap.errors));
      phases["after_load"] = memory_probe_json(read_memory());
      cap.t_call = now_ms();
      const int ui = api.user_input(obj, input.c_str());
      const double t_end = now_ms();
      if (ui != 0) fail(fmt::format("chatllm_user_input returned {}: {}", ui, cap.errors));
      phases["after_inference"] = memory_probe_json(read_memory());
      send_json_line(out, {{"type", "phase"}, {"iteration", it + 1}, {"model", mi}, {"phase", "unload"}});
      api.destroy(obj);
      phases["after_unload"] = memory_probe_json(read_memory());
      if (c.trim) {
        trim_heap();
        phases["after_trim"] = memory_probe_json(read_memory());
      }
      const double first = cap.t_first >= 0 ? cap.t_first - cap.t_call : t_end - cap.t_call;
      json metrics = {{"load_ms", load_ms},
                      {"first_token_ms", first},  // from the call, which includes chatllm's own ffmpeg decoding
                      {"decode_ms", t_end - cap.t_call - first},
                      {"total_ms", t_end - cap.t_call},
                      {"generated_tokens", cap.chunks}};
      send_json_line(out, {{"type", "run"}, {"iteration", it + 1}, {"model", mi}, {"raw", cap.text}, {"phases", phases},
                 {"metrics", metrics}});
    }
  send_json_line(out, {{"type", "done"}});
  _exit(0);
}

}  // namespace

Expected<json> run_chatllm_switch_bench(const SwitchConfig& c, const std::string& lib,
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
  auto st = run_in_child([&](int fd) { child_main(c, lib, fd); }, [&](const std::string& line) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) return;
    const std::string type = j.value("type", "");
    if (type == "baseline") {
      baseline = j["probe"];
    } else if (type == "phase") {
      last_iter = j["iteration"], last_model = j["model"], last_phase = j["phase"];
    } else if (type == "error") {
      error = j["message"];
    } else if (type == "done") {
      done = true;
    } else if (type == "run") {
      const int it = j["iteration"];
      const size_t mi = j["model"];
      const json& ph = j["phases"];
      const char* last = c.trim ? "after_trim" : "after_unload";
      if (progress && !c.quiet)
        progress(fmt::format("iteration {}/{} {} (chatllm): after unload rss {:.0f} MiB, anon {:.2f} MiB", it,
                             c.iterations, model_label(c.models[mi]), ph[last]["rss_mb"].get<double>(),
                             ph[last]["rss_anon_mb"].get<double>()));
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
    return Internal(fmt::format("chatllm child process {} during iteration {}, model {}, phase {}{}", what,
                                     last_iter, last_model < c.models.size() ? model_label(c.models[last_model]) : "?",
                                     last_phase, hint));
  }
  json results;
  json cfg = {{"engine", "chatllm"}, {"chatllm_lib", lib}, {"mode", "switch"}, {"qasr_version", QASR_VERSION},
              {"audio", {{"path", c.audio}, {"seconds", 0.0}}}, {"reference", c.reference}, {"language", c.language},
              {"iterations", c.iterations}, {"threads", c.threads}, {"max_new_tokens", c.max_new_tokens},
              {"trim", c.trim ? "after-unload" : "never"}, {"mlock", false}, {"allocator", c.allocator},
              {"machine", machine_description()}, {"models", json::array()}};
  for (const std::string& m : c.models) {
    FILE* f = std::fopen(m.c_str(), "rb");
    long size = 0;
    if (f) std::fseek(f, 0, SEEK_END), size = std::ftell(f), std::fclose(f);
    cfg["models"].push_back({{"name", model_label(m)}, {"path", m}, {"format", "chatllm"}, {"bytes", size},
                             {"random_weights", false}});
  }
  results["config"] = cfg;
  results["iterations"] = json::array();
  std::unique_ptr<Normalizer> norm;
  std::string ref_norm;
  if (!c.reference.empty()) {
    auto n = Normalizer::create();
    if (n.ok()) norm = std::make_unique<Normalizer>(std::move(n).value()), ref_norm = norm->normalize(c.reference);
  }
  if (!baseline.is_null()) results["baseline"] = baseline;
  for (const json& j : runs) {
    const int it = j["iteration"];
    const size_t mi = j["model"];
    if (results["iterations"].size() < static_cast<size_t>(it))
      results["iterations"].push_back({{"iteration", it}, {"models", json::array()}});
    const AsrOutput parsed = parse_asr_output(j["raw"].get<std::string>(), c.language);
    json metrics = j["metrics"];
    const int64_t chars = static_cast<int64_t>(utf8::to_u32(parsed.text).size());
    const double dec = metrics["decode_ms"].get<double>();
    const int64_t ntok = metrics["generated_tokens"].get<int64_t>();
    metrics["chars"] = chars;
    metrics["tokens_per_s"] = ntok > 1 && dec > 0 ? json((ntok - 1) / (dec / 1000.0)) : json(nullptr);
    metrics["chars_per_s"] = chars > 0 && dec > 0 ? json(chars / (dec / 1000.0)) : json(nullptr);
    if (norm) {
      const std::string hn = norm->normalize(parsed.text);
      metrics["wer"] = word_errors(ref_norm, hn).rate();
      metrics["cer"] = char_errors(ref_norm, hn).rate();
    }
    const json& ph = j["phases"];
    add_memory_metrics(metrics, ph, c.trim);
    results["iterations"].back()["models"].push_back({{"name", model_label(c.models[mi])}, {"text", parsed.text},
                                                      {"language", parsed.language}, {"phases", ph},
                                                      {"metrics", metrics}});
  }
  analyse_switch_results(results, c.warmup);
  return results;
}

}  // namespace qasr
