// qasr: command-line entry point. Parses flags (CLI11), calls the library, prints,
// and maps Status errors to a one-line message on stderr and exit code 1
// (2 for usage errors).
#include <chrono>
#include <map>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "audio/audio.h"
#include "base/clock.h"
#include "base/memory.h"
#include "base/npy.h"
#include "base/status.h"
#include "features/mel.h"
#include "text/tokenizer.h"
#include "base/thread_pool.h"
#include "model/model.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"
#include "text/languages.h"
#include "convert/synth.h"
#include "convert/convert.h"
#include "score/metrics.h"
#include "bench/switch_bench.h"
#include "bench/speed_bench.h"
#include "bench/report.h"
#include "bench/chatllm_engine.h"

#include <cstdlib>
#include <unistd.h>
#include "score/normalize.h"
#include "base/io.h"
#include "base/utf8.h"
#include "model/source.h"

#include <sys/stat.h>
#include <nlohmann/json.hpp>

namespace {

using qasr::Expected;
using qasr::Status;
using qasr::now_ms;

int fail(const std::string& message) {
  std::string one_line = message;
  for (char& c : one_line)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "qasr: error: %s\n", one_line.c_str());
  return 1;
}

Expected<qasr::Tokenizer> load_tokenizer(const std::string& path) {
  return qasr::Tokenizer::load_dir(path);
}

int run_mel(const std::string& audio_path, const std::string& out_path) {
  double t0 = now_ms();
  auto pcm = qasr::load_audio_file(audio_path);
  if (!pcm.ok()) return fail(pcm.error());
  double t1 = now_ms();
  qasr::MelExtractor mel_extractor;
  double t2 = now_ms();
  auto mel = mel_extractor.compute(pcm->samples);
  if (!mel.ok()) return fail(fmt::format("'{}': {}", audio_path, mel.error()));
  double t3 = now_ms();
  Status s = qasr::write_npy_f32(out_path, mel->data.data(), {mel->n_mels, mel->n_frames});
  if (!s.ok()) return fail(s.message());
  std::fprintf(stderr, "mel: %s: %.2f s of audio → (%d, %d); decode+resample %.1f ms, mel %.2f ms (%.3f ms per second of audio)\n",
               audio_path.c_str(), pcm->seconds(), mel->n_mels, mel->n_frames, t1 - t0, t3 - t2,
               (t3 - t2) / std::max(pcm->seconds(), 1e-9));
  return 0;
}

int run_tokenize(const std::string& tok_path, const std::string& text) {
  auto tok = load_tokenizer(tok_path);
  if (!tok.ok()) return fail(tok.error());
  std::vector<int32_t> ids = tok->encode(text);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::printf("%s\n", line.c_str());
  return 0;
}

int run_detokenize(const std::string& tok_path, const std::vector<std::string>& id_args) {
  auto tok = load_tokenizer(tok_path);
  if (!tok.ok()) return fail(tok.error());
  std::vector<int32_t> ids;
  for (const std::string& a : id_args) {
    char* end = nullptr;
    long v = std::strtol(a.c_str(), &end, 10);
    if (a.empty() || *end != '\0' || v < 0 || v > INT32_MAX) return fail(fmt::format("'{}' is not a token id", a));
    ids.push_back(static_cast<int32_t>(v));
  }
  std::string text = tok->decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

// A --language value (name or ISO code) → its canonical name in *out; empty stays
// empty. On an unknown value prints the one-line error and returns false.
bool canonical_language(const std::string& given, std::string* out) {
  if (given.empty()) {
    out->clear();
    return true;
  }
  auto l = qasr::resolve_language(given);
  if (!l) {
    fail(fmt::format("unknown language '{}'; supported: {}", given, qasr::supported_languages_list()));
    return false;
  }
  *out = *l;
  return true;
}

struct TranscribeArgs {
  std::string model;
  std::vector<std::string> audio;
  std::string language, context, dump_dir, kv_cache = "f16";
  int threads = 0;
  int max_new_tokens = 4096;
  bool ignore_eos = false, json = false, mlock = false, populate = false;
};

int run_transcribe(const TranscribeArgs& a) {
  qasr::TranscribeOptions o;
  if (!canonical_language(a.language, &o.language)) return 1;
  if (!a.dump_dir.empty() && a.audio.size() != 1) return fail("--dump-dir takes exactly one audio file");
  o.context = a.context;
  o.max_new_tokens = a.max_new_tokens;
  o.ignore_eos = a.ignore_eos;
  o.dump_dir = a.dump_dir;
  if (!o.dump_dir.empty()) ::mkdir(o.dump_dir.c_str(), 0755);
  const int threads = a.threads > 0 ? a.threads : qasr::default_thread_count();
  qasr::ThreadPool pool(threads);
  double t0 = now_ms();
  qasr::LoadOptions lo;
  lo.mlock = a.mlock;
  lo.populate = a.populate;
  auto model = qasr::Model::load(a.model, lo);
  if (!model.ok()) return fail(model.error());
  double load_ms = now_ms() - t0;
  qasr::SessionLimits lim;
  lim.max_new_tokens = std::max(a.max_new_tokens, 1);
  lim.kv_f16 = a.kv_cache == "f16";
  auto session = qasr::Session::create(*model, lim);
  if (!session.ok()) return fail(session.error());
  for (size_t i = 0; i < a.audio.size(); ++i) {
    double ta = now_ms();
    auto pcm = qasr::load_audio_file(a.audio[i]);
    if (!pcm.ok()) return fail(pcm.error());
    double audio_ms = now_ms() - ta;
    bool streamed = false;
    qasr::TextCallback cb;
    if (!a.json)
      cb = [&](std::string_view piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        streamed = true;
      };
    auto r = qasr::transcribe(**session, pool, *pcm, o, cb);
    if (!r.ok()) return fail(fmt::format("'{}': {}", a.audio[i], r.error()));
    r->timings.load = i == 0 ? load_ms : 0.0;
    r->timings.audio = audio_ms;
    r->timings.total += audio_ms;
    const auto& t = r->timings;
    if (a.json) {
      nlohmann::json j = {{"file", a.audio[i]}, {"text", r->text}, {"language", r->language},
                          {"token_ids", r->token_ids}, {"n_audio_tokens", r->n_audio_tokens},
                          {"timings_ms", {{"load", t.load}, {"audio", t.audio}, {"mel", t.mel}, {"encoder", t.encoder},
                                          {"prefill", t.prefill}, {"decode", t.decode}, {"first_token", t.first_token},
                                          {"total", t.total}}}};
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      if (!streamed) std::fwrite(r->text.data(), 1, r->text.size(), stdout);
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
    std::fprintf(stderr,
                 "%s: %.2f s audio, %lld audio tokens, %zu new tokens, language '%s'; load %.0f ms, audio %.1f ms, mel %.1f ms, "
                 "encoder %.1f ms, prefill %.1f ms, decode %.1f ms, first token %.1f ms, total %.1f ms\n",
                 a.audio[i].c_str(), pcm->seconds(), static_cast<long long>(r->n_audio_tokens), r->token_ids.size(),
                 r->language.c_str(), t.load, t.audio, t.mel, t.encoder, t.prefill, t.decode, t.first_token, t.total);
    (*session)->reset();
  }
  return 0;
}

int run_synth(const std::string& preset, uint64_t seed, const std::string& out, const std::string& assets,
              const std::string& format, std::string type) {
  auto sp = qasr::synth_preset(preset);
  if (!sp.ok()) return fail(sp.error());
  if (type.empty()) type = format == "hf" ? "bf16" : "q4_0";
  qasr::DType dt;
  if (!qasr::parse_dtype(type, &dt)) return fail(fmt::format("unknown --type '{}' (f32, f16, bf16, q8_0, q4_0)", type));
  double t0 = now_ms();
  qasr::Status s = Status::Ok();
  if (format == "hf") s = qasr::write_synthetic_hf(out, *sp, seed, assets, dt);
  else if (format == "gguf" || format == "chatllm") s = qasr::write_synthetic_file(out, *sp, seed, assets, format == "chatllm", dt);
  else return fail(fmt::format("unknown --format '{}' (hf, gguf, chatllm)", format));
  if (!s.ok()) return fail(s.message());
  std::fprintf(stderr, "synth: wrote %s (preset %s, %s %s, seed %llu, RANDOM WEIGHTS: transcripts are meaningless) in %.1f s\n",
               out.c_str(), preset.c_str(), format.c_str(), type.c_str(), static_cast<unsigned long long>(seed),
               (now_ms() - t0) / 1000.0);
  return 0;
}

int run_convert(const std::string& src, const std::string& out, const std::string& type,
                const std::vector<std::string>& overrides) {
  qasr::ConvertOptions o;
  if (!qasr::parse_dtype(type, &o.type)) return fail(fmt::format("unknown --type '{}' (f32, f16, bf16, q8_0, q4_0)", type));
  o.tensor_types = overrides;
  double t0 = now_ms();
  auto r = qasr::convert_to_gguf(src, out, o);
  if (!r.ok()) return fail(r.error());
  std::fprintf(stderr, "convert: wrote %s: %zu tensors, %.1f MiB of tensor data, in %.1f s\n", out.c_str(), r->n_tensors,
               r->bytes_written / 1048576.0, (now_ms() - t0) / 1000.0);
  return 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

int run_inspect(const std::string& path, double max_audio, int max_new) {
  const double t0 = now_ms();
  auto m = qasr::Model::load(path);
  if (!m.ok()) return fail(m.error());
  const double load_ms = now_ms() - t0;
  const qasr::MemoryProbe mem = qasr::read_memory();
  const qasr::ModelSource& src = (*m)->source();
  const qasr::ModelConfig& c = src.config;
  std::printf("file: %s\nformat: %s\nmapped: %zu bytes; owned by the model: %zu bytes; loaded and validated in %.0f ms\n",
              path.c_str(), qasr::model_format_name(src.format), src.mapped_bytes(), (*m)->owned_bytes(), load_ms);
  std::printf("audio encoder: d_model %d, layers %d, heads %d, ffn %d, conv channels %d, mel bins %d, output %d, "
              "n_window %d, n_window_infer %d\n",
              c.audio.d_model, c.audio.layers, c.audio.heads, c.audio.ffn, c.audio.conv_channels, c.audio.num_mel_bins,
              c.audio.output_dim, c.audio.n_window, c.audio.n_window_infer);
  std::printf("text decoder: hidden %d, layers %d, heads %d/%d kv, head_dim %d, ffn %d, vocab %d, rope theta %g, "
              "rms eps %g, max positions %d, logits from %s\n",
              c.text.hidden, c.text.layers, c.text.heads, c.text.kv_heads, c.text.head_dim, c.text.intermediate,
              c.text.vocab, c.text.rope_theta, c.text.rms_eps, c.text.max_position,
              src.separate_lm_head ? "the file's lm_head" : "the tied embedding");
  const qasr::Tokenizer& t = *src.tokenizer;
  const qasr::SpecialTokens& sp = src.special;
  std::string stops;
  for (int32_t id : sp.stop_ids) stops += (stops.empty() ? "" : " ") + std::to_string(id);
  std::printf("tokenizer: %d ids (%d BPE entries, %zu merges, %zu added tokens); audio_pad %d, audio_start %d, "
              "audio_end %d, asr_text %d, stop ids %s; %zu languages\n",
              t.size(), t.n_vocab_entries(), t.n_merges(), t.added_tokens().size(), sp.audio_pad, sp.audio_start,
              sp.audio_end, sp.asr_text, stops.c_str(), src.support_languages.size());
  std::printf("tensors: %zu\n", src.tensors.size());
  std::map<std::string, std::pair<size_t, size_t>> per_type;
  for (const auto& name : qasr::canonical_tensor_order(c, src.tensors.count("thinker.lm_head.weight") > 0)) {
    const qasr::TensorView& tv = src.tensors.at(name);
    std::printf("  %-58s %-5s %-18s %12zu\n", name.c_str(), qasr::dtype_name(tv.dtype), shape_str(tv.shape).c_str(),
                tv.nbytes);
    auto& pt = per_type[qasr::dtype_name(tv.dtype)];
    pt.first++;
    pt.second += tv.nbytes;
  }
  for (const auto& [type, nb] : per_type)
    std::printf("total %-5s %4zu tensors %14zu bytes (%.1f MiB)\n", type.c_str(), nb.first, nb.second, nb.second / 1048576.0);
  std::printf("process memory after load: RSS %.1f MiB (anonymous %.1f, file-backed %.1f); the weights are mapped, "
              "pages come in when first used\n",
              mem.rss / 1048576.0, mem.rss_anon / 1048576.0, mem.rss_file / 1048576.0);
  qasr::SessionLimits lim;
  lim.max_audio_seconds = max_audio;
  lim.max_new_tokens = max_new;
  auto s = qasr::Session::create(*m, lim);
  if (!s.ok()) return fail(s.error());
  std::printf("session for %.0f s of audio and %d new tokens: reserves %.1f MiB of address space (KV cache %.1f MiB, "
              "%lld positions), resident only as used\n",
              max_audio, max_new, (*s)->reserved_bytes() / 1048576.0, (*s)->kv_cache_bytes() / 1048576.0,
              static_cast<long long>((*s)->max_positions()));
  return 0;
}

int run_normalize(const std::string& text) {
  auto n = qasr::Normalizer::create();
  if (!n.ok()) return fail(n.error());
  const std::string out = n->normalize(text);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

int run_score(std::string ref, const std::string& ref_file, std::string hyp, const std::string& hyp_file, bool json) {
  if (!ref_file.empty()) {
    auto r = qasr::read_file(ref_file, 64 << 20);
    if (!r.ok()) return fail(r.error());
    ref = *r;
  }
  if (!hyp_file.empty()) {
    auto h = qasr::read_file(hyp_file, 64 << 20);
    if (!h.ok()) return fail(h.error());
    hyp = *h;
  }
  auto n = qasr::Normalizer::create();
  if (!n.ok()) return fail(n.error());
  const std::string rn = n->normalize(ref), hn = n->normalize(hyp);
  const qasr::ErrorCounts w = qasr::word_errors(rn, hn), c = qasr::char_errors(rn, hn);
  const bool cer = qasr::prefers_cer(rn);
  if (json) {
    nlohmann::json j = {{"wer", w.rate()}, {"cer", c.rate()}, {"metric", cer ? "cer" : "wer"},
                        {"reference_normalized", rn}, {"hypothesis_normalized", hn},
                        {"word_errors", {{"substitutions", w.substitutions}, {"deletions", w.deletions},
                                         {"insertions", w.insertions}, {"reference_words", w.reference_length}}},
                        {"char_errors", {{"substitutions", c.substitutions}, {"deletions", c.deletions},
                                         {"insertions", c.insertions}, {"reference_chars", c.reference_length}}}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("WER %.4f (%lld sub, %lld del, %lld ins / %lld words)\nCER %.4f (%lld sub, %lld del, %lld ins / %lld chars)\n"
                "metric for this language: %s\nreference:  %s\nhypothesis: %s\n",
                w.rate(), (long long)w.substitutions, (long long)w.deletions, (long long)w.insertions,
                (long long)w.reference_length, c.rate(), (long long)c.substitutions, (long long)c.deletions,
                (long long)c.insertions, (long long)c.reference_length, cer ? "CER" : "WER", rn.c_str(), hn.c_str());
  }
  return 0;
}

int env_threads() {
  for (const char* name : {"QASR_THREADS", "INFERENCE_THREADS"})
    if (const char* e = std::getenv(name)) {
      const int v = std::atoi(e);
      if (v > 0) return v;
    }
  return qasr::default_thread_count();
}

// --allocator jemalloc|mimalloc: re-execute with the allocator preloaded.
int maybe_reexec_with_allocator(const std::string& allocator, char** argv) {
  if (allocator == "glibc" || std::getenv("QASR_ALLOCATOR_ACTIVE")) return 0;
  const char* lib = allocator == "jemalloc" ? "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
                    : allocator == "mimalloc" ? "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"
                                              : nullptr;
  if (!lib) return fail(fmt::format("unknown --allocator '{}' (glibc, jemalloc, mimalloc)", allocator));
  if (::access(lib, R_OK) != 0)
    return fail(fmt::format("--allocator {}: {} is missing (install Debian's {})", allocator, lib,
                            allocator == "jemalloc" ? "libjemalloc2" : "libmimalloc2.0"));
  ::setenv("LD_PRELOAD", lib, 1);
  ::setenv("QASR_ALLOCATOR_ACTIVE", allocator.c_str(), 1);
  ::execv("/proc/self/exe", argv);
  return fail(fmt::format("cannot re-execute with {}: {}", lib, std::strerror(errno)));
}

int run_bench(qasr::SwitchConfig cfg, const std::string& json_out, const std::string& csv_out,
              const std::string& html_out, const std::string& engine, const std::string& chatllm_lib, char** argv) {
  if (int rc = maybe_reexec_with_allocator(cfg.allocator, argv)) return rc;
  if (cfg.threads <= 0) cfg.threads = env_threads();
  if (!canonical_language(cfg.language, &cfg.language)) return 1;
  const bool tty = ::isatty(2);
  auto progress = [&](const std::string& line) {
    if (tty) std::fprintf(stderr, "\r\033[K%s", line.c_str());
    else std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  };
  if (engine != "qasr" && engine != "chatllm") return fail(fmt::format("unknown --engine '{}' (qasr, chatllm)", engine));
  if (engine == "chatllm" && chatllm_lib.empty()) return fail("--engine chatllm needs --chatllm-lib PATH/libchatllm.so");
  auto res = engine == "chatllm" ? qasr::run_chatllm_switch_bench(cfg, chatllm_lib, progress)
                                 : qasr::run_switch_bench(cfg, progress);
  if (tty && !cfg.quiet) std::fprintf(stderr, "\n");
  if (!res.ok()) return fail(res.error());
  std::printf("%s", qasr::format_switch_summary(*res).c_str());
  auto write = [&](const std::string& path, const std::string& text) -> int {
    if (path.empty()) return 0;
    std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
    if (!dir.empty()) std::system(("mkdir -p '" + dir + "'").c_str());
    auto s = qasr::write_file(path, text);
    if (!s.ok()) return fail(s.message());
    std::fprintf(stderr, "wrote %s\n", path.c_str());
    return 0;
  };
  if (int rc = write(json_out, res->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n")) return rc;
  if (int rc = write(csv_out, qasr::format_switch_csv(*res))) return rc;
  if (int rc = write(html_out, qasr::render_html_report(*res))) return rc;
  return 0;
}

std::string self_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("/proc/self/exe");
}

int run_speed(qasr::SpeedConfig cfg, const std::string& threads, const std::string& json_path) {
  if (threads.empty()) {
    cfg.threads = {env_threads()};
  } else {
    cfg.threads.clear();
    std::vector<std::string> parts(1);
    for (char ch : threads) {
      if (ch == ',') parts.emplace_back(); else parts.back().push_back(ch);
    }
    for (const std::string& t : parts) {
      char* end = nullptr;
      const long v = std::strtol(t.c_str(), &end, 10);
      if (t.empty() || *end || v < 1 || v > 1024) return fail(fmt::format("--threads: '{}' is not a thread count", t));
      cfg.threads.push_back(static_cast<int>(v));
    }
  }
  if (!canonical_language(cfg.language, &cfg.language)) return 1;
  auto r = qasr::run_speed_bench(cfg, [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); });
  if (!r.ok()) return fail(r.error());
  qasr::print_speed_table(*r, stdout);
  if (!json_path.empty()) {
    auto w = qasr::write_file(json_path, r->dump(2));
    if (!w.ok()) return fail(w.message());
  }
  return 0;
}

// Load → transcribe → unload cycles with no measuring: what leak-check runs under valgrind.
int run_cycles(const std::vector<std::string>& models, const std::string& audio, int cycles, int max_new) {
  auto pcm = qasr::load_audio_file(audio);
  if (!pcm.ok()) return fail(pcm.error());
  qasr::ThreadPool pool(2);
  for (int c = 0; c < cycles; ++c)
    for (const std::string& path : models) {
      auto m = qasr::Model::load(path);
      if (!m.ok()) return fail(m.error());
      qasr::SessionLimits lim;
      lim.max_audio_seconds = std::max(30.0, pcm->seconds() + 1);
      lim.max_new_tokens = max_new;
      auto s = qasr::Session::create(*m, lim);
      if (!s.ok()) return fail(s.error());
      qasr::TranscribeOptions o;
      o.max_new_tokens = max_new;
      auto r = qasr::transcribe(**s, pool, *pcm, o);
      if (!r.ok()) return fail(r.error());
      pool.release_scratch();
      std::fprintf(stderr, "cycle %d %s: %zu tokens\n", c + 1, path.c_str(), r->token_ids.size());
    }
  return 0;
}

// Runs the cycles under valgrind memcheck and summarises its leak report.
int run_leak_check(const std::vector<std::string>& models, const std::string& audio, int cycles, int max_new,
                   const std::string& json_out) {
  if (std::system("valgrind --version > /dev/null 2>&1") != 0)
    return fail("valgrind is not installed (Debian package valgrind)");
  char tmpl[] = "/tmp/qasr-leakcheck-XXXXXX";
  if (!::mkdtemp(tmpl)) return fail("cannot create a temporary directory");
  const std::string log = std::string(tmpl) + "/memcheck.log";
  std::string cmd = "valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all --num-callers=30 "
                    "--log-file='" + log + "' '" + self_path() + "' bench cycles --audio '" + audio + "' --cycles " +
                    std::to_string(cycles) + " --max-new-tokens " + std::to_string(max_new);
  for (const std::string& m : models) cmd += " --model '" + m + "'";
  std::fprintf(stderr, "leak-check: %s\n", cmd.c_str());
  const int rc = std::system(cmd.c_str());
  auto text = qasr::read_file(log, 256 << 20);
  if (!text.ok()) return fail(text.error());
  auto grab = [&](const std::string& what, long long* bytes, long long* blocks) {
    *bytes = *blocks = 0;
    size_t p = text->rfind(what + ":");
    if (p == std::string::npos) return false;
    std::string line = text->substr(p, text->find('\n', p) - p);
    std::string digits;
    for (char ch : line) if (ch != ',') digits.push_back(ch);
    return std::sscanf(digits.c_str() + what.size() + 1, " %lld bytes in %lld blocks", bytes, blocks) == 2;
  };
  long long def_b, def_n, ind_b, ind_n, pos_b, pos_n, reach_b, reach_n;
  const bool any_leak_summary = grab("definitely lost", &def_b, &def_n);
  grab("indirectly lost", &ind_b, &ind_n);
  grab("possibly lost", &pos_b, &pos_n);
  grab("still reachable", &reach_b, &reach_n);
  const bool all_freed = text->find("All heap blocks were freed") != std::string::npos;
  if (!any_leak_summary && !all_freed) return fail(fmt::format("could not read valgrind's report in {}", log));
  std::printf("valgrind memcheck, %d load/transcribe/unload cycle(s) per model:\n"
              "  definitely lost: %lld bytes in %lld blocks\n  indirectly lost: %lld bytes in %lld blocks\n"
              "  possibly lost:   %lld bytes in %lld blocks\n  still reachable: %lld bytes in %lld blocks\n"
              "  full report: %s\n",
              cycles, def_b, def_n, ind_b, ind_n, pos_b, pos_n, reach_b, reach_n, log.c_str());
  if (!json_out.empty()) {
    nlohmann::json j = {{"cycles", cycles}, {"models", models}, {"audio", audio}, {"report", log},
                        {"definitely_lost_bytes", def_b}, {"indirectly_lost_bytes", ind_b},
                        {"possibly_lost_bytes", pos_b}, {"still_reachable_bytes", reach_b}, {"exit_code", rc}};
    auto s = qasr::write_file(json_out, j.dump(2) + "\n");
    if (!s.ok()) return fail(s.message());
  }
  if (rc != 0) return fail(fmt::format("the cycles failed under valgrind (exit {}); see {}", rc, log));
  if (def_b > 0) return fail(fmt::format("{} bytes definitely lost; see {}", def_b, log));
  std::printf("no bytes definitely lost\n");
  return 0;
}

int run_report(const std::string& in, const std::string& out) {
  auto text = qasr::read_file(in, size_t{1} << 30);
  if (!text.ok()) return fail(text.error());
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("summary") || !j.contains("iterations") || !j.contains("config"))
    return fail(fmt::format("'{}' is not a qasr benchmark results file (needs config, iterations, summary)", in));
  try {
    auto s = qasr::write_file(out, qasr::render_html_report(j));
    if (!s.ok()) return fail(s.message());
  } catch (const nlohmann::json::exception& e) {
    return fail(fmt::format("'{}': unexpected results layout: {}", in, e.what()));
  }
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  qasr::configure_allocator();
  CLI::App app{"qasr: Qwen3-ASR speech recognition on CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("qasr ") + QASR_VERSION);

  std::string audio, out, tok_path, text;
  std::vector<std::string> ids;

  auto* mel = app.add_subcommand("mel", "Write the 128-bin log-mel of an audio file as float32 .npy (128, T)");
  mel->add_option("audio", audio, "audio file")->required();
  mel->add_option("-o,--output", out, "output .npy path")->required();

  auto* tokenize = app.add_subcommand("tokenize", "Print the token ids of TEXT, space-separated");
  tokenize->add_option("--tokenizer", tok_path, "folder with vocab.json, merges.txt, tokenizer_config.json")->required();
  tokenize->add_option("text", text, "text to encode")->required();

  auto* detokenize = app.add_subcommand("detokenize", "Print the text of token ids (special tokens skipped)");
  detokenize->add_option("--tokenizer", tok_path, "folder with vocab.json, merges.txt, tokenizer_config.json")->required();
  detokenize->add_option("ids", ids, "token ids")->required();

  TranscribeArgs ta;
  auto* tr = app.add_subcommand("transcribe", "Transcribe audio files (text streams to stdout)");
  tr->add_option("--model", ta.model, "Hugging Face folder, GGUF file or chatllm .bin")->required();
  tr->add_option("audio", ta.audio, "audio files")->required();
  tr->add_option("--language", ta.language, "force a language: one of the 30 names or ISO codes (en, zh, yue, ...)");
  tr->add_option("--context", ta.context, "context text for the system turn (hotwords, background)");
  tr->add_option("--threads", ta.threads, "threads (default: $QASR_THREADS, else the number of cores)");
  tr->add_option("--max-new-tokens", ta.max_new_tokens, "generation limit (default 4096)");
  tr->add_option("--kv-cache", ta.kv_cache, "KV cache precision: f16 (default) or f32 (exact)")
      ->check(CLI::IsMember({"f16", "f32"}));
  tr->add_flag("--ignore-eos", ta.ignore_eos, "keep generating until --max-new-tokens");
  tr->add_flag("--json", ta.json, "one JSON object per file on stdout");
  tr->add_flag("--mlock", ta.mlock, "lock the mapped weights in RAM (load pays the page-in)");
  tr->add_flag("--populate", ta.populate, "pre-fault the mapped weights at load");
  tr->add_option("--dump-dir", ta.dump_dir, "write mel.npy, encoder_out.npy, logits_step0.npy, prompt_ids.json");

  std::string preset = "tiny", synth_out, assets = QASR_ASSET_DIR, synth_format = "hf", synth_type;
  uint64_t seed = 0;
  auto* sy = app.add_subcommand("synth", "Write a random-weight checkpoint in the official Hugging Face layout");
  sy->add_option("--preset", preset, "tiny | 0.6b | 1.7b")->capture_default_str();
  sy->add_option("--seed", seed, "random seed")->capture_default_str();
  sy->add_option("-o,--output", synth_out, "output folder")->required();
  sy->add_option("--assets", assets, "folder with qwen3-asr-tokenizer/ and qwen3-asr-0.6b/")->capture_default_str();
  sy->add_option("--format", synth_format, "hf | gguf | chatllm")->capture_default_str();
  sy->add_option("--type", synth_type, "f32 | f16 | bf16 | q8_0 | q4_0 (default: bf16 for hf, q4_0 otherwise)");

  std::string conv_src, conv_out, conv_type = "q8_0";
  std::vector<std::string> conv_overrides;
  auto* cv = app.add_subcommand("convert", "Convert a Hugging Face folder or chatllm .bin to one GGUF file");
  cv->add_option("source", conv_src, "Hugging Face folder, chatllm .bin or GGUF")->required();
  cv->add_option("-o,--output", conv_out, "output .gguf")->required();
  cv->add_option("--type", conv_type, "f32 | f16 | bf16 | q8_0 | q4_0")->capture_default_str();
  cv->add_option("--tensor-type", conv_overrides, "REGEX=TYPE per-tensor override (repeatable)");

  std::string insp_path;
  double insp_audio = 1200;
  int insp_tokens = 4096;
  auto* in = app.add_subcommand("inspect", "Show format, config, tokenizer and tensors of a model");
  in->add_option("model", insp_path, "model folder or file")->required();
  in->add_option("--max-audio-seconds", insp_audio, "session limit to size")->capture_default_str();
  in->add_option("--max-new-tokens", insp_tokens, "session limit to size")->capture_default_str();

  std::string norm_text;
  auto* nm = app.add_subcommand("normalize", "Print TEXT as scoring normalizes it (NFKC, case fold, s2twp, Chinese ITN, punctuation)");
  nm->add_option("text", norm_text, "text")->required();

  std::string sc_ref, sc_ref_file, sc_hyp, sc_hyp_file;
  bool sc_json = false;
  auto* sc = app.add_subcommand("score", "WER and CER of a hypothesis against a reference, after normalization");
  auto* r1 = sc->add_option("--reference", sc_ref, "reference text");
  auto* r2 = sc->add_option("--reference-file", sc_ref_file, "reference text file");
  auto* h1 = sc->add_option("--hypothesis", sc_hyp, "hypothesis text");
  auto* h2 = sc->add_option("--hypothesis-file", sc_hyp_file, "hypothesis text file");
  r1->excludes(r2);
  h1->excludes(h2);
  sc->add_flag("--json", sc_json, "JSON: wer, cer, reference_normalized, hypothesis_normalized");

  auto* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  qasr::SwitchConfig bc;
  std::string b_json, b_csv, b_html, b_ref_file, b_trim = "after-unload", b_engine = "qasr", b_lib;
  auto add_bench_options = [&](CLI::App* b) {
    b->add_option("--model", bc.models, "model (repeat: they cycle in this order)")->required();
    b->add_option("--audio", bc.audio, "audio file")->required();
    b->add_option("--reference", bc.reference, "reference transcript (WER/CER)");
    b->add_option("--reference-file", b_ref_file, "reference transcript file");
    b->add_option("--iterations", bc.iterations, "iterations")->capture_default_str();
    b->add_option("--threads", bc.threads, "threads (default: $QASR_THREADS, $INFERENCE_THREADS, all cores)");
    b->add_option("--language", bc.language, "force a language");
    b->add_option("--max-new-tokens", bc.max_new_tokens, "generation limit")->capture_default_str();
    b->add_option("--warmup-iterations", bc.warmup, "warm-up iterations (default: detected)");
    b->add_option("--json", b_json, "write results JSON");
    b->add_option("--csv", b_csv, "write the CSV timeline");
    b->add_option("--report", b_html, "write the HTML report");
    b->add_option("--trim", b_trim, "never | after-unload")->capture_default_str();
    b->add_option("--allocator", bc.allocator, "glibc | jemalloc | mimalloc")->capture_default_str();
    b->add_flag("--mlock", bc.mlock, "lock mapped weights in RAM");
    b->add_flag("--quiet", bc.quiet, "no live progress line");
    b->add_option("--engine", b_engine, "qasr | chatllm")->capture_default_str();
    b->add_option("--chatllm-lib", b_lib, "path to libchatllm.so (for --engine chatllm)");
  };
  auto* b_switch = bench->add_subcommand("switch", "Load → transcribe → unload each model in turn, probing memory");
  add_bench_options(b_switch);
  auto* b_reuse = bench->add_subcommand("reuse", "Keep each model loaded; a new session per transcription");
  add_bench_options(b_reuse);
  std::vector<std::string> lc_models;
  std::string lc_audio, lc_json;
  int lc_cycles = 3, lc_tokens = 8;
  auto* b_leak = bench->add_subcommand("leak-check", "Load/transcribe/unload cycles under valgrind memcheck; fails on definitely lost bytes");
  b_leak->add_option("--model", lc_models, "model (repeatable)")->required();
  b_leak->add_option("--audio", lc_audio, "audio file")->required();
  b_leak->add_option("--cycles", lc_cycles, "cycles per model")->capture_default_str();
  b_leak->add_option("--max-new-tokens", lc_tokens, "generation limit")->capture_default_str();
  b_leak->add_option("--json", lc_json, "write the summary as JSON");
  auto* b_cycles = bench->add_subcommand("cycles", "(internal) plain load/transcribe/unload cycles");
  b_cycles->group("");
  b_cycles->add_option("--model", lc_models)->required();
  b_cycles->add_option("--audio", lc_audio)->required();
  b_cycles->add_option("--cycles", lc_cycles);
  b_cycles->add_option("--max-new-tokens", lc_tokens);

  qasr::SpeedConfig spc;
  std::string sp_json, sp_threads;
  auto* b_speed = bench->add_subcommand("speed", "Repeated transcription: stage timings against the machine's measured peaks (optionally beside chatllm.cpp)");
  b_speed->add_option("--model", spc.models, "model file or folder (repeatable)")->required();
  b_speed->add_option("--audio", spc.audio, "audio file")->required();
  b_speed->add_option("--runs", spc.runs, "timed runs per engine (after one warm-up)")->capture_default_str();
  b_speed->add_option("--threads", sp_threads, "thread counts, comma-separated (default: all cores); chatllm runs at the first");
  b_speed->add_option("--max-new-tokens", spc.max_new_tokens, "tokens generated per run")->capture_default_str();
  b_speed->add_flag("!--stop-at-eos", spc.ignore_eos, "stop at the end-of-text token (default: generate exactly --max-new-tokens)");
  b_speed->add_option("--language", spc.language, "force a language");
  b_speed->add_option("--chatllm-lib", spc.chatllm_lib, "libchatllm.so: run chatllm.cpp on the same files, side by side");
  b_speed->add_flag("!--no-peaks", spc.measure_peaks, "skip measuring read bandwidth and FMA peak");
  b_speed->add_option("--json", sp_json, "write results JSON");

  std::string rep_in, rep_out;
  auto* rp = app.add_subcommand("report", "Render a benchmark results JSON as a self-contained HTML page");
  rp->add_option("results", rep_in, "results JSON")->required();
  rp->add_option("-o,--output", rep_out, "output .html")->required();

  try {
    app.parse(argc, argv);
    if (sc->parsed() && (r1->count() + r2->count() != 1 || h1->count() + h2->count() != 1))
      throw CLI::ValidationError("score needs one of --reference/--reference-file and one of --hypothesis/--hypothesis-file");
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (mel->parsed()) return run_mel(audio, out);
  if (tokenize->parsed()) return run_tokenize(tok_path, text);
  if (detokenize->parsed()) return run_detokenize(tok_path, ids);
  if (tr->parsed()) return run_transcribe(ta);
  if (sy->parsed()) return run_synth(preset, seed, synth_out, assets, synth_format, synth_type);
  if (cv->parsed()) return run_convert(conv_src, conv_out, conv_type, conv_overrides);
  if (in->parsed()) return run_inspect(insp_path, insp_audio, insp_tokens);
  if (nm->parsed()) return run_normalize(norm_text);
  if (rp->parsed()) return run_report(rep_in, rep_out);
  if (b_leak->parsed()) return run_leak_check(lc_models, lc_audio, lc_cycles, lc_tokens, lc_json);
  if (b_cycles->parsed()) return run_cycles(lc_models, lc_audio, lc_cycles, lc_tokens);
  if (b_speed->parsed()) return run_speed(spc, sp_threads, sp_json);
  if (bench->parsed()) {
    if (b_trim != "never" && b_trim != "after-unload") return fail("--trim takes never or after-unload");
    bc.trim = b_trim == "after-unload";
    bc.mode = b_reuse->parsed() ? "reuse" : "switch";
    if (!b_ref_file.empty()) {
      auto r = qasr::read_file(b_ref_file, 1 << 20);
      if (!r.ok()) return fail(r.error());
      bc.reference = qasr::utf8::strip(*r);
    }
    return run_bench(bc, b_json, b_csv, b_html, b_engine, b_lib, argv);
  }
  if (sc->parsed()) return run_score(sc_ref, sc_ref_file, sc_hyp, sc_hyp_file, sc_json);
  return 2;
}
