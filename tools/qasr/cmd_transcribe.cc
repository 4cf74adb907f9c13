// qasr transcribe: audio files → text (streamed to stdout) or one JSON object per file.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "base/clock.h"
#include "base/io.h"
#include "base/json.h"
#include "base/thread_pool.h"
#include "cli.h"
#include "model/model.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"

namespace qasr::cli {
namespace {

struct TranscribeArgs {
  std::string model;
  std::vector<std::string> audio;
  std::string language, context, dump_dir, kv_cache = "f16";
  int threads = 0;
  int max_new_tokens = 4096;
  double max_audio_seconds = 1200;
  bool ignore_eos = false, json = false, mlock = false, populate = false;
  ProgressFlags progress;
};

int run_transcribe(const TranscribeArgs& a) {
  TranscribeOptions o;
  auto lang = canonical_language(a.language);
  if (!lang.ok()) return fail(lang.status());
  o.language = *lang;
  if (!a.dump_dir.empty() && a.audio.size() != 1)
    return fail(InvalidArgument("--dump-dir takes exactly one audio file"));
  o.context = a.context;
  o.max_new_tokens = a.max_new_tokens;
  o.ignore_eos = a.ignore_eos;
  o.dump_dir = a.dump_dir;
  if (!o.dump_dir.empty())
    if (Status s = make_dirs(o.dump_dir); !s.ok()) return fail(s);
  ThreadPool pool(threads_or_default(a.threads));
  const double t0 = now_ms();
  LoadOptions lo;
  lo.mlock = a.mlock;
  lo.populate = a.populate;
  auto model = Model::load(a.model, lo);
  if (!model.ok()) return fail(model.status());
  const double load_ms = now_ms() - t0;
  SessionLimits lim;
  lim.max_audio_seconds = a.max_audio_seconds;
  lim.max_new_tokens = a.max_new_tokens;
  lim.kv_f16 = a.kv_cache == "f16";
  auto session = Session::create(*model, lim);
  if (!session.ok()) return fail(session.status());
  AudioLimits al;
  al.max_seconds = a.max_audio_seconds;
  Progress progress(a.progress.enabled());
  if (progress.enabled()) {
    // Decode progress only with --json: otherwise the streamed transcript shows it.
    o.control.progress =
        a.json
            ? [](void* user, const char* stage, int64_t done,
                 int64_t
                     total) { static_cast<Progress*>(user)->update(fmt::format("{} {}/{}", stage, done + 1, total)); }
            : [](void* user, const char* stage, int64_t done, int64_t total) {
                if (std::string_view(stage) != "decode")
                  static_cast<Progress*>(user)->update(fmt::format("{} {}/{}", stage, done + 1, total));
              };
    o.control.progress_user = &progress;
  }
  for (size_t i = 0; i < a.audio.size(); ++i) {
    const double ta = now_ms();
    auto pcm = load_audio_file(a.audio[i], al);
    if (!pcm.ok()) return fail(pcm.status());
    const double audio_ms = now_ms() - ta;
    bool streamed = false;
    TextCallback cb;
    if (!a.json)
      cb = [&](std::string_view piece) {
        if (!streamed) progress.done();  // the transcript takes over the terminal
        out(piece);
        streamed = true;
        return out_ok();  // stdout gone: stop generating
      };
    auto r = transcribe(**session, pool, *pcm, o, cb);
    progress.done();
    if (!out_ok()) return fail(IoError("cannot write the transcript to standard output"));
    if (!r.ok()) return fail(r.status().annotate("'" + a.audio[i] + "'"));
    r->timings.load = i == 0 ? load_ms : 0.0;
    r->timings.audio = audio_ms;
    r->timings.total += audio_ms;
    const Timings& t = r->timings;
    if (a.json) {
      nlohmann::json j = {{"file", a.audio[i]},
                          {"text", r->text},
                          {"language", r->language},
                          {"token_ids", r->token_ids},
                          {"n_audio_tokens", r->n_audio_tokens},
                          {"timings_ms",
                           {{"load", t.load},
                            {"audio", t.audio},
                            {"mel", t.mel},
                            {"encoder", t.encoder},
                            {"prefill", t.prefill},
                            {"decode", t.decode},
                            {"first_token", t.first_token},
                            {"total", t.total}}}};
      out(dump_json(j) + "\n");
    } else {
      if (!streamed) out(r->text);
      out("\n");
    }
    if (!out_ok()) return fail(IoError("cannot write the transcript to standard output"));
    std::fprintf(stderr,
                 "%s: %.2f s audio, %lld audio tokens, %zu new tokens, language '%s'; load %.0f ms, audio %.1f ms, "
                 "mel %.1f ms, encoder %.1f ms, prefill %.1f ms, decode %.1f ms, first token %.1f ms, total %.1f ms\n",
                 printable(a.audio[i]).c_str(), pcm->seconds(), static_cast<long long>(r->n_audio_tokens),
                 r->token_ids.size(), r->language.c_str(), t.load, t.audio, t.mel, t.encoder, t.prefill, t.decode,
                 t.first_token, t.total);
    (*session)->reset();
  }
  return 0;
}

}  // namespace

void add_transcribe_commands(CLI::App& app, Commands& cmds) {
  auto a = std::make_shared<TranscribeArgs>();
  auto* tr = app.add_subcommand("transcribe", "Transcribe audio files (text streams to stdout)");
  tr->add_option("--model", a->model, "Hugging Face folder, GGUF file or chatllm .bin")->required();
  tr->add_option("audio", a->audio, "audio files")->required();
  tr->add_option("--language", a->language, "force a language: one of the 30 names or ISO codes (en, zh, yue, ...)");
  tr->add_option("--context", a->context, "context text for the system turn (hotwords, background); plain text");
  add_threads_option(tr, &a->threads, "threads (default: $QASR_THREADS, else the number of cores)");
  tr->add_option("--max-new-tokens", a->max_new_tokens, "generation limit (default 4096)")->check(CLI::Range(1, 65536));
  tr->add_option("--max-audio-seconds", a->max_audio_seconds, "refuse longer audio (default 1200)")
      ->check(finite_range(1.0, 4 * 3600.0));
  tr->add_option("--kv-cache", a->kv_cache, "KV cache precision: f16 (default) or f32 (exact)")
      ->check(CLI::IsMember({"f16", "f32"}));
  tr->add_flag("--ignore-eos", a->ignore_eos, "keep generating until --max-new-tokens");
  tr->add_flag("--json", a->json, "one JSON object per file on stdout");
  tr->add_flag("--mlock", a->mlock, "lock the mapped weights in RAM (load pays the page-in)");
  tr->add_flag("--populate", a->populate, "pre-fault the mapped weights at load");
  tr->add_option("--dump-dir", a->dump_dir, "write mel.npy, encoder_out.npy, logits_step0.npy, prompt_ids.json");
  a->progress.add_to(tr);
  cmds.push_back({tr, [a] { return run_transcribe(*a); }});
}

}  // namespace qasr::cli
