// qasr transcribe: audio files → text (streamed to stdout), a document in one of the output
// formats, or one JSON object per file. Long audio is split at quiet points (the official
// splitter) and its pieces are transcribed in order on one session; --aligner adds word times.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "base/clock.h"
#include "base/io.h"
#include "base/json.h"
#include "base/memory.h"
#include "base/thread_pool.h"
#include "cli.h"
#include "model/model.h"
#include "pipeline/long_audio.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"
#include "pipeline/writers.h"

namespace qasr::cli {
namespace {

struct TranscribeArgs {
  std::string model, aligner;
  std::vector<std::string> audio;
  std::string language, context, dump_dir, kv_cache = "f16", output_format, output, timestamps;
  int threads = 0;
  int max_new_tokens = 4096;
  double max_audio_seconds = 6 * 3600.0;
  double max_segment_seconds = kMaxAsrInputSeconds;
  double segment_seconds = 0;
  bool ignore_eos = false, json = false, mlock = false, populate = false;
  ProgressFlags progress;
};

// The length pieces are cut at: --max-segment-seconds, --segment-seconds when smaller, and
// the official 180 s alignment limit when words are timed.
double piece_seconds(const TranscribeArgs& a, bool aligning) {
  double s = a.max_segment_seconds;
  if (a.segment_seconds > 0) s = std::min(s, a.segment_seconds);
  if (aligning) s = std::min(s, kMaxForceAlignInputSeconds);
  return s;
}

int run_transcribe(const TranscribeArgs& a) {
  DocumentOptions d;
  TranscribeOptions& o = d.transcribe;
  auto lang = canonical_language(a.language);
  if (!lang.ok()) return fail(lang.status());
  o.language = *lang;
  if (a.json && !a.output_format.empty())
    return fail(InvalidArgument("--json and --output-format are alternatives; give one"));
  OutputFormat format = OutputFormat::kText;
  if (!a.output_format.empty()) {
    auto f = parse_output_format(a.output_format);
    if (!f.ok()) return fail(f.status());
    format = *f;
  }
  if (!a.output.empty() && a.audio.size() != 1) return fail(InvalidArgument("-o takes exactly one audio file"));
  if (!a.output.empty() && a.json) return fail(InvalidArgument("-o writes an --output-format document, not --json"));
  if (!a.dump_dir.empty() && a.audio.size() != 1)
    return fail(InvalidArgument("--dump-dir takes exactly one audio file"));
  d.timestamps = a.timestamps == "word"      ? TimestampMode::kWord
                 : a.timestamps == "segment" ? TimestampMode::kSegment
                                             : TimestampMode::kNone;
  if (d.timestamps == TimestampMode::kWord && a.aligner.empty())
    return fail(InvalidArgument("--timestamps word needs a forced aligner (--aligner PATH)"));
  if (!a.aligner.empty() && d.timestamps == TimestampMode::kNone) d.timestamps = TimestampMode::kWord;
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
  if ((*model)->config().kind != ModelKind::kAsr)
    return fail(InvalidArgument(
        fmt::format("'{}' is a forced aligner, not a transcription model (give it as --aligner)", a.model)));
  std::shared_ptr<const Model> aligner;
  if (!a.aligner.empty()) {
    auto al = Model::load(a.aligner, lo);
    if (!al.ok()) return fail(al.status().annotate("--aligner"));
    if ((*al)->config().kind != ModelKind::kForcedAligner)
      return fail(InvalidArgument(
          fmt::format("--aligner '{}' is a transcription model, not a Qwen3-ForcedAligner", a.aligner)));
    aligner = *al;
    d.aligner = aligner.get();
  }
  const double load_ms = now_ms() - t0;
  const double piece_s = piece_seconds(a, aligner != nullptr);
  // One session for every file and piece, sized for the longest piece (the reservation is
  // address space; only what a piece touches becomes resident).
  SessionLimits lim =
      SessionLimits::for_audio(piece_s + static_cast<double>(kSplitExpandSamples) / kSampleRate, a.max_new_tokens);
  lim.kv_f16 = a.kv_cache == "f16";
  auto session = Session::create(*model, lim);
  if (!session.ok()) return fail(session.status());
  AudioLimits al;
  al.max_seconds = a.max_audio_seconds;
  Progress progress(a.progress.enabled());
  const bool streaming = !a.json && format == OutputFormat::kText && a.output.empty();
  if (progress.enabled()) {
    // Decode progress only when the transcript is not streamed (it shows itself).
    o.control.progress =
        !streaming
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
    auto stream = AudioStream::open_file(a.audio[i], al);
    if (!stream.ok()) return fail(stream.status());
    auto reader = PieceReader::create(std::move(stream).value(), piece_s);
    if (!reader.ok()) return fail(reader.status().annotate("'" + a.audio[i] + "'"));
    if (!o.dump_dir.empty() && (*reader)->splits())
      return fail(InvalidArgument(fmt::format("--dump-dir takes audio of one piece (at most {} s); this is {:.1f} s",
                                              piece_s, (*reader)->total_seconds())));
    const double audio_ms = now_ms() - ta;  // the first pass (the rest is decoded piece by piece)
    bool streamed = false;
    TextCallback cb;
    if (streaming)
      cb = [&](std::string_view piece) {
        if (!streamed) progress.done();  // the transcript takes over the terminal
        out(piece);
        streamed = true;
        return out_ok();  // stdout gone: stop generating
      };
    Timings t;
    std::vector<int32_t> ids;
    int64_t n_audio = 0, pieces = 0;
    auto doc = transcribe_document(**session, pool, **reader, d, cb, [&](const AudioPiece&, const Transcript& r) {
      t.mel += r.timings.mel, t.encoder += r.timings.encoder, t.prefill += r.timings.prefill;
      t.decode += r.timings.decode, t.total += r.timings.total;
      if (pieces == 0) t.first_token = r.timings.first_token;
      ids.insert(ids.end(), r.token_ids.begin(), r.token_ids.end());
      n_audio += r.n_audio_tokens;
      ++pieces;
    });
    progress.done();
    if (!out_ok()) return fail(IoError("cannot write the transcript to standard output"));
    if (!doc.ok()) return fail(doc.status().annotate("'" + a.audio[i] + "'"));
    t.load = i == 0 ? load_ms : 0.0;
    t.audio = audio_ms;
    t.total += audio_ms;
    if (doc->language.empty() && !o.language.empty() && !doc->segments.empty()) doc->language = o.language;
    if (a.json) {
      nlohmann::json j = {{"file", a.audio[i]},
                          {"text", doc->text},
                          {"language", doc->language},
                          {"token_ids", ids},
                          {"n_audio_tokens", n_audio},
                          {"pieces", pieces},
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
    } else if (!a.output.empty()) {
      if (Status s = write_file(a.output, render(*doc, format), {a.audio[i]}); !s.ok()) return fail(s);
    } else if (format != OutputFormat::kText) {
      out(render(*doc, format));
    } else {
      if (!streamed) out(doc->text);
      out("\n");
    }
    if (!out_ok()) return fail(IoError("cannot write the transcript to standard output"));
    if (doc->unaligned_pieces > 0)
      std::fprintf(stderr, "qasr: warning: %d piece(s) have no word times (the aligner refused their transcript)\n",
                   doc->unaligned_pieces);
    std::fprintf(stderr,
                 "%s: %.2f s audio in %lld piece(s), %lld audio tokens, %zu new tokens, language '%s'%s; load %.0f ms, "
                 "audio %.1f ms, mel %.1f ms, encoder %.1f ms, prefill %.1f ms, decode %.1f ms, first token %.1f ms, "
                 "total %.1f ms; peak RSS %.0f MiB\n",
                 printable(a.audio[i]).c_str(), doc->duration, static_cast<long long>(pieces),
                 static_cast<long long>(n_audio), ids.size(), doc->language.c_str(),
                 aligner ? fmt::format(", {} aligned words", doc->words.size()).c_str() : "", t.load, t.audio, t.mel,
                 t.encoder, t.prefill, t.decode, t.first_token, t.total,
                 static_cast<double>(read_memory().hwm) / 1048576.0);
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
  tr->add_option("--max-new-tokens", a->max_new_tokens, "generation limit per piece (default 4096)")
      ->check(CLI::Range(1, 65536));
  tr->add_option("--max-audio-seconds", a->max_audio_seconds, "refuse longer audio (default 21600, 6 h)")
      ->check(finite_range(1.0, 48 * 3600.0));
  tr->add_option(
        "--max-segment-seconds", a->max_segment_seconds,
        "split longer audio at quiet points into pieces of at most this (default 1200, the official "
        "single-pass limit; smaller values cap memory; at least 10, below which the ±5 s search reaches back to "
        "the piece's own start)")
      ->check(finite_range(10.0, 3600.0));
  tr->add_option("--segment-seconds", a->segment_seconds,
                 "cue-sized pieces for subtitles (e.g. 30): the same splitter at this length")
      ->check(finite_range(10.0, kMaxAsrInputSeconds));
  tr->add_option("--aligner", a->aligner, "a Qwen3-ForcedAligner model: word times (pieces of at most 180 s)");
  tr->add_option("--timestamps", a->timestamps,
                 "word (needs --aligner) or segment (piece times; with --aligner, first to last word)")
      ->check(CLI::IsMember({"word", "segment"}));
  tr->add_option("--output-format", a->output_format, "text (default), json, verbose_json, srt or vtt")
      ->check(CLI::IsMember({"text", "json", "verbose_json", "srt", "vtt"}));
  tr->add_option("-o,--output", a->output, "write the document to FILE (atomically) instead of stdout");
  tr->add_option("--kv-cache", a->kv_cache, "KV cache precision: f16 (default) or f32 (exact)")
      ->check(CLI::IsMember({"f16", "f32"}));
  tr->add_flag("--ignore-eos", a->ignore_eos, "keep generating until --max-new-tokens");
  tr->add_flag("--json", a->json, "one JSON object per file on stdout (text, ids, timings)");
  tr->add_flag("--mlock", a->mlock, "lock the mapped weights in RAM (load pays the page-in)");
  tr->add_flag("--populate", a->populate, "pre-fault the mapped weights at load");
  tr->add_option("--dump-dir", a->dump_dir, "write mel.npy, encoder_out.npy, logits_step0.npy, prompt_ids.json");
  a->progress.add_to(tr);
  cmds.push_back({tr, [a] { return run_transcribe(*a); }});
}

}  // namespace qasr::cli
