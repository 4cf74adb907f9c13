#include "bench/speed_bench.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "audio/audio.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/memory.h"
#include "base/thread_pool.h"
#include "bench/chatllm_engine.h"
#include "bench/child.h"
#include "bench/machine_peaks.h"
#include "bench/stats.h"
#include "bench/switch_bench.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "pipeline/aligner.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"

namespace qasr {
namespace {

using nlohmann::json;

int64_t mat_bytes(const Mat& m) {
  return static_cast<int64_t>(row_bytes(m.dtype, m.cols)) * m.rows;
}

// Work of one transcription, counted from the model's shapes (multiply-add = 2 FLOP).
// Element-wise work (norms, activations, softmax) is left out: it is small beside the
// matrix products and has no fixed FLOP price.
struct Work {
  double encoder_flop = 0;  // conv stem + conv_out + layers (incl. windowed attention) + projections
  double prefill_flop = 0;  // all decoder layers over the prompt (causal attention) + one lm_head row
  // The parts of the two above done by the integer GEMM (q4_0 weights × q8_0 activations);
  // the rest (f16/f32 weights such as the conv stem's, attention) is f32 FMA work.
  double encoder_int8_flop = 0, prefill_int8_flop = 0;
  int64_t decode_bytes = 0;  // weight bytes read per generated token (decoder matrices + lm_head)
  int64_t prompt_tokens = 0, audio_tokens = 0;
};

Work count_work(const Model& m, int64_t mel_frames, int64_t prompt_tokens) {
  const AudioConfig& a = m.config().audio;
  const TextConfig& t = m.config().text;
  Work w;
  w.prompt_tokens = prompt_tokens;
  const int64_t chunk = a.chunk_frames(), n_chunks = (mel_frames + chunk - 1) / chunk;
  const int64_t L = std::min(mel_frames, chunk);
  const int64_t d = a.d_model;
  int64_t H = a.num_mel_bins, W = L;
  const EncoderWeights& ew = m.encoder();
  // FLOPs of a matmul with M activation rows, also counted as integer work when it takes that path.
  auto mm = [](double* total, double* int8, int64_t M, const Mat& x) {
    const double f = 2.0 * static_cast<double>(M) * static_cast<double>(x.rows) * static_cast<double>(x.cols);
    *total += f;
    if (ops::uses_int8_gemm(x, M)) *int8 += f;
  };
  const Mat* convs[3] = {&ew.conv1, &ew.conv2, &ew.conv3};
  for (int i = 0; i < 3; ++i) {
    H = conv_out_len(H), W = conv_out_len(W);
    for (int64_t c = 0; c < n_chunks; ++c) mm(&w.encoder_flop, &w.encoder_int8_flop, H * W, *convs[i]);
  }
  for (int64_t c = 0; c < n_chunks; ++c) mm(&w.encoder_flop, &w.encoder_int8_flop, W, ew.conv_out);
  const int64_t N = audio_token_count(a, mel_frames);
  w.audio_tokens = N;
  const int64_t win = a.window_tokens(L);
  double attn = 0;
  for (int64_t s0 = 0; s0 < N; s0 += win) {
    const double n = static_cast<double>(std::min(N, s0 + win) - s0);
    attn += 4.0 * n * n * d;  // q·kᵀ and p·v
  }
  for (const EncoderLayerWeights& l : ew.layers) {
    for (const Mat* x : {&l.q, &l.k, &l.v, &l.o, &l.fc1, &l.fc2}) mm(&w.encoder_flop, &w.encoder_int8_flop, N, *x);
    w.encoder_flop += attn;
  }
  mm(&w.encoder_flop, &w.encoder_int8_flop, N, ew.proj1);
  mm(&w.encoder_flop, &w.encoder_int8_flop, N, ew.proj2);
  const DecoderWeights& dw = m.decoder();
  const double P = static_cast<double>(prompt_tokens);
  for (const DecoderLayerWeights& l : dw.layers) {
    for (const Mat* x : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) {
      mm(&w.prefill_flop, &w.prefill_int8_flop, prompt_tokens, *x);
      w.decode_bytes += mat_bytes(*x);
    }
  }
  w.prefill_flop += static_cast<double>(t.layers) * 4.0 * (P * (P + 1) / 2) * t.heads * t.head_dim;
  mm(&w.prefill_flop, &w.prefill_int8_flop, 1, dw.lm_head);  // one row: the GEMV, not the GEMM
  w.decode_bytes += mat_bytes(dw.lm_head);
  return w;
}

// The text the aligner aligns: --align-text, else one word per 0.4 s of audio (about
// 150 words a minute, a speaking rate).
std::string aligner_text(const SpeedConfig& c, double seconds) {
  if (!c.align_text.empty()) return c.align_text;
  std::string t;
  const int n = std::max(1, static_cast<int>(seconds / 0.4));
  for (int i = 0; i < n; ++i) t += i ? " word" : "word";
  return t;
}

// The qasr child: load once, one warm-up, `runs` timed transcriptions (alignments for a
// forced aligner).
[[noreturn]] void qasr_child(const SpeedConfig& c, const std::string& model_path, int threads, double audio_s, int fd) {
  auto fail = [&](const Status& st) {
    send_json_line(fd, {{"error", st.message()}, {"code", static_cast<int>(st.code())}});
    _exit(3);
  };
  ThreadPool pool(threads);
  ops::warm_up(pool);
  const double t0 = now_ms();
  auto model = Model::load(model_path);
  if (!model.ok()) fail(model.status());
  const double load_ms = now_ms() - t0;
  const SessionLimits lim = SessionLimits::for_audio(audio_s, c.max_new_tokens);
  auto session = Session::create(*model, lim);
  if (!session.ok()) fail(session.status());
  TranscribeOptions o;
  o.language = c.language;
  o.max_new_tokens = c.max_new_tokens;
  o.ignore_eos = c.ignore_eos;
  json runs = json::array();
  Work work;
  const bool aligner = (*model)->config().kind == ModelKind::kForcedAligner;
  for (int r = 0; r <= c.runs; ++r) {
    const double ta = now_ms();
    auto pcm = load_audio_file(c.audio);
    if (!pcm.ok()) fail(pcm.status());
    const double audio_ms = now_ms() - ta;
    if (aligner) {
      // The aligner's job: one pass over audio + text (no decode).
      AlignOptions ao;
      ao.language = c.language;
      auto a = align(**model, pool, *pcm, aligner_text(c, pcm->seconds()), ao);
      if (!a.ok()) fail(a.status());
      if (r == 0) {
        work = count_work(**model, static_cast<int64_t>(pcm->samples.size() / 160),
                          static_cast<int64_t>(a->input_ids.size()));
        continue;
      }
      runs.push_back({{"audio_ms", audio_ms},
                      {"encoder_ms", a->encoder_ms},
                      {"prefill_ms", a->forward_ms - a->encoder_ms},
                      {"first_token_ms", audio_ms + a->forward_ms},
                      {"after_load_ms", audio_ms + a->forward_ms},
                      {"aligned_words", static_cast<int64_t>(a->words.size())}});
      continue;
    }
    auto t = transcribe(**session, pool, *pcm, o);
    if (!t.ok()) fail(t.status());
    if (r == 0) {
      work = count_work(**model, static_cast<int64_t>(pcm->samples.size() / 160),
                        static_cast<int64_t>(t->prompt_ids.size()));
      continue;  // warm-up: page-in of the mapped weights, first-touch of buffers
    }
    const Timings& tm = t->timings;
    runs.push_back({{"audio_ms", audio_ms},
                    {"mel_ms", tm.mel},
                    {"encoder_ms", tm.encoder},
                    {"prefill_ms", tm.prefill},
                    {"decode_ms", tm.decode},
                    {"first_token_ms", audio_ms + tm.first_token},
                    {"after_load_ms", audio_ms + tm.total},
                    {"generated_tokens", static_cast<int64_t>(t->token_ids.size())}});
  }
  const MemoryProbe mem = read_memory();
  send_json_line(fd, {{"load_ms", load_ms},
                      {"kind", model_kind_name((*model)->config().kind)},
                      {"runs", runs},
                      {"hwm_mb", static_cast<double>(mem.hwm) / (1 << 20)},
                      {"random_weights", (*model)->source().synthetic},
                      {"work",
                       {{"encoder_gflop", work.encoder_flop / 1e9},
                        {"prefill_gflop", work.prefill_flop / 1e9},
                        {"encoder_int8_gflop", work.encoder_int8_flop / 1e9},
                        {"prefill_int8_gflop", work.prefill_int8_flop / 1e9},
                        {"decode_mb_per_token", static_cast<double>(work.decode_bytes) / 1e6},
                        {"prompt_tokens", work.prompt_tokens},
                        {"audio_tokens", work.audio_tokens}}}});
  _exit(0);
}

Expected<json> run_qasr_child(const SpeedConfig& c, const std::string& model, int threads, double audio_s) {
  std::string out;  // the child sends one line: its result or an error
  auto status = run_in_child([&](int fd) { qasr_child(c, model, threads, audio_s, fd); },
                             [&](const std::string& line) { out += line; });
  if (!status.ok()) return status.status();
  auto parsed = parse_json(out, "qasr child");
  if (!parsed.ok() || !parsed->is_object())
    return Internal(fmt::format("qasr child for '{}' ended without a result (status {})", model, *status));
  json& j = *parsed;
  if (j.contains("error")) {
    const int code = j.value("code", static_cast<int>(StatusCode::kInternal));
    return Status(code > 0 && code <= static_cast<int>(StatusCode::kInternal) ? static_cast<StatusCode>(code)
                                                                              : StatusCode::kInternal,
                  j["error"].is_string() ? j["error"].get<std::string>() : "error");
  }
  return j;
}

// Median/min/max of one key over the runs.
json stat_of(const json& runs, const std::string& key) {
  std::vector<double> v;
  for (const json& r : runs)
    if (r.contains(key) && r[key].is_number()) v.push_back(r[key].get<double>());
  if (v.empty()) return nullptr;
  const Summary s = summarize(v);
  return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"n", s.n}};
}

// Per-engine summary: stage statistics plus derived rates.
json summarize_engine(const json& runs, double audio_s, const json& work, const MachinePeaks* peaks) {
  json s;
  for (const char* k : {"audio_ms", "mel_ms", "encoder_ms", "prefill_ms", "first_token_ms", "decode_ms",
                        "after_load_ms", "generated_tokens", "ms_per_token"})
    if (json st = stat_of(runs, k); !st.is_null()) s[k] = st;
  if (s.contains("ms_per_token")) {
    const double mpt = s["ms_per_token"]["median"].get<double>();
    s["tokens_per_s"] = 1000.0 / mpt;
    if (!work.is_null()) {
      const double mb = work["decode_mb_per_token"].get<double>();
      s["decode_gb_s"] = mb / mpt;  // MB/ms = GB/s
      if (peaks && peaks->read_gb_s > 0) {
        s["decode_bound_ms_per_token"] = mb / peaks->read_gb_s;
        s["decode_vs_bound"] = mpt / (mb / peaks->read_gb_s);
      }
    }
  }
  if (s.contains("after_load_ms"))
    s["real_time_factor"] = s["after_load_ms"]["median"].get<double>() / 1000.0 / audio_s;
  if (!work.is_null()) {
    for (const auto& [stage, key] : {std::pair{"encoder", "encoder_gflop"}, std::pair{"prefill", "prefill_gflop"}}) {
      const std::string ms = std::string(stage) + "_ms";
      if (!s.contains(ms)) continue;
      const double sec = s[ms]["median"].get<double>() / 1000.0, total = work[key].get<double>();
      const double int8 = work.value(std::string(stage) + "_int8_gflop", 0.0);
      s[std::string(stage) + "_gflop_s"] = total / sec;
      // Of peak: the time the measured peaks would need (f32 work at the FMA peak, integer
      // work at the int8 peak) over the time taken.
      if (peaks && peaks->fma_gflop_s > 0 && peaks->int8_gop_s > 0)
        s[std::string(stage) + "_of_peak"] = ((total - int8) / peaks->fma_gflop_s + int8 / peaks->int8_gop_s) / sec;
    }
  }
  return s;
}

void add_ms_per_token(json& runs) {
  for (json& r : runs) {
    if (!r.contains("generated_tokens") || !r.contains("decode_ms")) continue;  // alignment runs
    const double n = r["generated_tokens"].get<double>();
    if (n > 1) r["ms_per_token"] = r["decode_ms"].get<double>() / (n - 1);
  }
}

// Reads a model file (or every file of a model folder) once, so both engines start
// from a warm page cache and load times compare like with like.
void warm_page_cache(const std::string& path) {
  std::vector<std::string> files;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(path, ec))
      if (e.is_regular_file()) files.push_back(e.path().string());
  } else {
    files.push_back(path);
  }
  std::vector<char> buf(size_t{4} << 20);
  for (const std::string& f : files)
    if (std::FILE* fp = std::fopen(f.c_str(), "rb")) {
      while (std::fread(buf.data(), 1, buf.size(), fp) == buf.size()) {
      }
      std::fclose(fp);
    }
}

// `n` child processes that spin until killed (they also die with this process),
// stopped by their pids when the object goes out of scope.
class BusyProcesses {
 public:
  explicit BusyProcesses(int n) {
    const pid_t parent = getpid();
    for (int i = 0; i < n; ++i) {
      const pid_t pid = fork();
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0);
        for (;;) asm volatile("" ::: "memory");  // spin: a process that wants a whole core
      }
      if (pid > 0) pids_.push_back(pid);
    }
  }
  ~BusyProcesses() {
    for (pid_t p : pids_) kill(p, SIGKILL);
    for (pid_t p : pids_) waitpid(p, nullptr, 0);
  }
  BusyProcesses(const BusyProcesses&) = delete;
  BusyProcesses& operator=(const BusyProcesses&) = delete;
  size_t size() const { return pids_.size(); }

 private:
  std::vector<pid_t> pids_;
};

}  // namespace

Expected<json> run_speed_bench(const SpeedConfig& c, const std::function<void(const std::string&)>& progress) {
  if (c.models.empty()) return InvalidArgument("bench speed: give at least one --model");
  if (c.runs < 1) return InvalidArgument("bench speed: --runs must be at least 1");
  if (c.threads.empty()) return InvalidArgument("bench speed: no thread count");
  if (c.noise < 0 || c.noise > 64) return InvalidArgument("bench speed: --noise must be in [0, 64]");
  for (int t : c.threads)
    if (t < 1) return InvalidArgument("bench speed: thread counts must be positive");
  for (const std::string& m : c.models) {
    std::error_code ec;
    if (!std::filesystem::exists(m, ec)) return NotFound(fmt::format("model '{}' does not exist", m));
  }
  auto pcm = load_audio_file(c.audio);
  if (!pcm.ok()) return pcm.status();
  const double audio_s = pcm->seconds();
  json res;
  res["config"] = {{"audio", {{"path", c.audio}, {"seconds", audio_s}}},
                   {"runs", c.runs},
                   {"threads", c.threads},
                   {"max_new_tokens", c.max_new_tokens},
                   {"ignore_eos", c.ignore_eos},
                   {"language", c.language},
                   {"chatllm_lib", c.chatllm_lib},
                   {"machine", machine_description()},
                   {"noise", c.noise},
                   {"page_cache", "each model file is read once before its runs (warm cache for both engines)"},
                   {"qasr_version", QASR_VERSION}};
  std::vector<MachinePeaks> peaks;
  if (c.measure_peaks) {
    for (int t : c.threads) {
      ThreadPool pool(t);  // gone before any fork below
      peaks.push_back(measure_machine_peaks(pool));
      const MachinePeaks& p = peaks.back();
      res["machine_peaks"].push_back({{"threads", t},
                                      {"read_gb_s", p.read_gb_s},
                                      {"fma_gflop_s", p.fma_gflop_s},
                                      {"int8_gop_s", p.int8_gop_s},
                                      {"method", p.method}});
      if (progress)
        progress(
            fmt::format("machine, {} thread(s): read {:.1f} GB/s, f32 FMA peak {:.0f} GFLOP/s, int8 peak {:.0f} GOP/s",
                        t, p.read_gb_s, p.fma_gflop_s, p.int8_gop_s));
    }
  }
  res["models"] = json::array();
  for (const std::string& path : c.models) {
    json mres = {{"name", model_label(path)}, {"path", path}, {"qasr", json::array()}};
    json work;
    warm_page_cache(path);
    for (size_t ti = 0; ti < c.threads.size(); ++ti) {
      const int t = c.threads[ti];
      if (progress) progress(fmt::format("{}: qasr, {} thread(s), {} runs + 1 warm-up", model_label(path), t, c.runs));
      auto r = run_qasr_child(c, path, t, audio_s);
      if (!r.ok()) return r.status();
      json j = std::move(r).value();
      add_ms_per_token(j["runs"]);
      work = j["work"];
      mres["random_weights"] = j["random_weights"];
      mres["kind"] = j.value("kind", "asr");
      mres["work"] = work;
      json e = {{"threads", t}, {"load_ms", j["load_ms"]}, {"hwm_mb", j["hwm_mb"]}, {"runs", j["runs"]}};
      e["summary"] = summarize_engine(j["runs"], audio_s, work, ti < peaks.size() ? &peaks[ti] : nullptr);
      if (c.noise > 0) {
        if (progress)
          progress(fmt::format("{}: qasr, {} thread(s), beside {} busy process(es)", model_label(path), t, c.noise));
        Expected<json> nr = [&]() -> Expected<json> {
          BusyProcesses busy(c.noise);
          if (busy.size() != static_cast<size_t>(c.noise))
            return Internal("bench speed: fork of a busy process failed");
          return run_qasr_child(c, path, t, audio_s);
        }();
        if (!nr.ok()) return nr.status();
        json nj = std::move(nr).value();
        add_ms_per_token(nj["runs"]);
        json ns = summarize_engine(nj["runs"], audio_s, work, nullptr);
        json ratio;
        for (const char* key : {"after_load_ms", "first_token_ms", "encoder_ms", "prefill_ms", "ms_per_token"})
          if (ns.contains(key) && e["summary"].contains(key))
            ratio[key] = ns[key]["median"].get<double>() / e["summary"][key]["median"].get<double>();
        e["noisy"] = {{"busy_processes", c.noise}, {"runs", nj["runs"]}, {"summary", ns}, {"over_quiet", ratio}};
      }
      mres["qasr"].push_back(e);
    }
    if (!c.chatllm_lib.empty() && mres["kind"] == "asr") {
      if (progress)
        progress(
            fmt::format("{}: chatllm, {} thread(s), {} runs + 1 warm-up", model_label(path), c.threads[0], c.runs));
      SwitchConfig sc;
      sc.models = {path};
      sc.audio = c.audio;
      sc.language = c.language;
      sc.iterations = c.runs + 1;
      sc.threads = c.threads[0];
      sc.max_new_tokens = c.max_new_tokens;
      sc.trim = false;
      sc.quiet = true;
      auto r = run_chatllm_switch_bench(sc, c.chatllm_lib, {});
      if (!r.ok()) return r.status();
      json runs = json::array();
      double hwm = 0;
      std::vector<double> loads;
      const std::vector<Iteration>& its = r->iterations;
      for (size_t i = 0; i < its.size(); ++i) {
        if (its[i].models.empty()) continue;
        const ModelRun& mm = its[i].models[0];
        hwm = std::max(hwm, mm.phases[kAfterInference].hwm_mb);
        if (i == 0) continue;  // warm-up
        const RunMetrics& m = mm.metrics;
        loads.push_back(m.load_ms);
        runs.push_back({{"first_token_ms", m.first_token_ms},
                        {"decode_ms", m.decode_ms},
                        {"after_load_ms", m.total_ms},
                        {"generated_tokens", m.generated_tokens}});
      }
      add_ms_per_token(runs);
      json e = {{"threads", c.threads[0]},
                {"load_ms", summarize(loads).median},
                {"hwm_mb", hwm},
                {"runs", runs},
                {"note", "generated_tokens counts chatllm's printed chunks (one per token for these models)"}};
      e["summary"] = summarize_engine(runs, audio_s, work, peaks.empty() ? nullptr : &peaks[0]);
      mres["chatllm"] = e;
      const json& q = mres["qasr"][0]["summary"];
      const json& k = e["summary"];
      json ratio;
      for (const char* key : {"after_load_ms", "first_token_ms", "ms_per_token"})
        if (q.contains(key) && k.contains(key))
          ratio[key] = q[key]["median"].get<double>() / k[key]["median"].get<double>();
      ratio["hwm_mb"] = mres["qasr"][0]["hwm_mb"].get<double>() / hwm;
      mres["qasr_over_chatllm"] = ratio;
    }
    res["models"].push_back(mres);
  }
  return res;
}

namespace {

std::string ms_cell(const json& s, const char* key) {
  if (!s.contains(key)) return "-";
  const json& v = s[key];
  return fmt::format("{:.1f} [{:.1f}-{:.1f}]", v["median"].get<double>(), v["min"].get<double>(),
                     v["max"].get<double>());
}

}  // namespace

void print_speed_table(const json& r, std::FILE* out) {
  const json& cfg = r["config"];
  fmt::print(out, "qasr bench speed: {} ({:.2f} s), {} new tokens{}, {} timed runs per engine (median [min-max])\n",
             cfg["audio"]["path"].get<std::string>(), cfg["audio"]["seconds"].get<double>(),
             cfg["max_new_tokens"].get<int>(), cfg["ignore_eos"].get<bool>() ? " (EOS ignored)" : "",
             cfg["runs"].get<int>());
  const json& mach = cfg["machine"];
  fmt::print(out, "machine: {}, {} cores, kernels {}\n", mach.value("cpu", "?"), mach.value("cores", 0),
             mach.value("kernel_isa", "?"));
  if (r.contains("machine_peaks"))
    for (const json& p : r["machine_peaks"])
      fmt::print(out,
                 "  measured with {} thread(s): read bandwidth {:.1f} GB/s, f32 FMA peak {:.0f} GFLOP/s, int8 peak "
                 "{:.0f} GOP/s\n",
                 p["threads"].get<int>(), p["read_gb_s"].get<double>(), p["fma_gflop_s"].get<double>(),
                 p.value("int8_gop_s", 0.0));
  for (const json& m : r["models"]) {
    const json& w = m["work"];
    fmt::print(out,
               "\n{}{}: prompt {} tokens ({} audio), encoder {:.1f} GFLOP ({:.1f} of it int8), prefill {:.1f} GFLOP "
               "({:.1f} int8), {:.0f} MB of weights per token\n",
               m["name"].get<std::string>(),
               m.value("random_weights", false) ? " (random weights: text is meaningless)" : "",
               w["prompt_tokens"].get<int64_t>(), w["audio_tokens"].get<int64_t>(), w["encoder_gflop"].get<double>(),
               w.value("encoder_int8_gflop", 0.0), w["prefill_gflop"].get<double>(), w.value("prefill_int8_gflop", 0.0),
               w["decode_mb_per_token"].get<double>());
    const bool with_chatllm = m.contains("chatllm");
    for (const json& e : m["qasr"]) {
      const json& s = e["summary"];
      fmt::print(out, "  qasr, {} thread(s): load {:.0f} ms, peak RSS {:.0f} MB\n", e["threads"].get<int>(),
                 e["load_ms"].get<double>(), e["hwm_mb"].get<double>());
      fmt::print(out, "    {:<26} {}\n", "audio decode (ms)", ms_cell(s, "audio_ms"));
      if (m.value("kind", "asr") != "asr") {
        // The forced aligner: one pass (mel + encoder, then the decoder over audio + text).
        fmt::print(out, "    {:<26} {}\n", "mel + encoder (ms)", ms_cell(s, "encoder_ms"));
        fmt::print(out, "    {:<26} {}   {:.1f} GFLOP/s\n", "decoder pass (ms)", ms_cell(s, "prefill_ms"),
                   s.value("prefill_gflop_s", 0.0));
        fmt::print(out, "    {:<26} {}   {:.1f} ms per audio second, real-time factor {:.3f}\n", "alignment after load",
                   ms_cell(s, "after_load_ms"), 1000.0 * s.value("real_time_factor", 0.0),
                   s.value("real_time_factor", 0.0));
        continue;
      }
      fmt::print(out, "    {:<26} {}\n", "mel (ms)", ms_cell(s, "mel_ms"));
      for (const std::string stage : {"encoder", "prefill"}) {
        const std::string peak = stage + "_of_peak";
        fmt::print(out, "    {:<26} {}   {:.1f} GFLOP/s{}\n", stage + " (ms)", ms_cell(s, (stage + "_ms").c_str()),
                   s.value(stage + "_gflop_s", 0.0),
                   s.contains(peak) ? fmt::format(", {:.0f}% of peak", 100 * s[peak].get<double>()) : "");
      }
      fmt::print(out, "    {:<26} {}\n", "first token (ms)", ms_cell(s, "first_token_ms"));
      if (s.contains("ms_per_token"))
        fmt::print(out, "    {:<26} {}   {:.1f} tokens/s, {:.1f} GB/s{}\n", "decode (ms/token)",
                   ms_cell(s, "ms_per_token"), s["tokens_per_s"].get<double>(), s.value("decode_gb_s", 0.0),
                   s.contains("decode_vs_bound")
                       ? fmt::format(", bandwidth bound {:.1f} ms/token, {:.2f}x the bound",
                                     s["decode_bound_ms_per_token"].get<double>(), s["decode_vs_bound"].get<double>())
                       : "");
      fmt::print(out, "    {:<26} {}   {:.1f} ms per audio second, real-time factor {:.3f}\n",
                 "transcription after load", ms_cell(s, "after_load_ms"), 1000.0 * s.value("real_time_factor", 0.0),
                 s.value("real_time_factor", 0.0));
      if (e.contains("noisy")) {
        const json& nz = e["noisy"];
        const json& ns = nz["summary"];
        const json& q = nz["over_quiet"];
        fmt::print(out, "    beside {} busy process(es), {} thread(s) on {} cores (ratio to the quiet run):\n",
                   nz["busy_processes"].get<int>(), e["threads"].get<int>(), mach.value("cores", 0));
        fmt::print(out, "    {:<26} {}   {:.2f}x\n", "first token (ms)", ms_cell(ns, "first_token_ms"),
                   q.value("first_token_ms", NAN));
        fmt::print(out, "    {:<26} {}   {:.2f}x\n", "decode (ms/token)", ms_cell(ns, "ms_per_token"),
                   q.value("ms_per_token", NAN));
        fmt::print(out, "    {:<26} {}   {:.2f}x\n", "transcription after load", ms_cell(ns, "after_load_ms"),
                   q.value("after_load_ms", NAN));
      }
    }
    if (with_chatllm) {
      const json& e = m["chatllm"];
      const json& s = e["summary"];
      const json& q = m["qasr"][0];
      fmt::print(out, "  chatllm.cpp, {} thread(s), same file: load {:.0f} ms, peak RSS {:.0f} MB\n",
                 e["threads"].get<int>(), e["load_ms"].get<double>(), e["hwm_mb"].get<double>());
      fmt::print(out, "    {:<26} {}\n", "first token (ms)", ms_cell(s, "first_token_ms"));
      fmt::print(out, "    {:<26} {}   {:.1f} tokens/s\n", "decode (ms/token)", ms_cell(s, "ms_per_token"),
                 s.value("tokens_per_s", 0.0));
      fmt::print(
          out, "    {:<26} {}   ({} tokens)\n", "transcription after load", ms_cell(s, "after_load_ms"),
          s.contains("generated_tokens") ? fmt::format("{:.0f}", s["generated_tokens"]["median"].get<double>()) : "?");
      const json& ratio = m["qasr_over_chatllm"];
      fmt::print(out,
                 "  qasr / chatllm.cpp ({} threads): transcription {:.2f}x, first token {:.2f}x, "
                 "decode per token {:.2f}x, peak RSS {:.2f}x\n",
                 q["threads"].get<int>(), ratio.value("after_load_ms", NAN), ratio.value("first_token_ms", NAN),
                 ratio.value("ms_per_token", NAN), ratio.value("hwm_mb", NAN));
    }
  }
}

}  // namespace qasr
