// qasr split (the official long-audio splitter's boundaries) and qasr align (word times
// from a Qwen3-ForcedAligner for a known transcript).
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "base/io.h"
#include "base/json.h"
#include "base/npy.h"
#include "base/thread_pool.h"
#include "cli.h"
#include "model/model.h"
#include "pipeline/aligner.h"
#include "pipeline/long_audio.h"

namespace qasr::cli {
namespace {

struct SplitArgs {
  std::string audio;
  double max_seconds = kMaxAsrInputSeconds;
  double max_audio_seconds = 48 * 3600.0;
};

int run_split(const SplitArgs& a) {
  AudioLimits al;
  al.max_seconds = a.max_audio_seconds;
  auto stream = AudioStream::open_file(a.audio, al);
  if (!stream.ok()) return fail(stream.status());
  auto reader = PieceReader::create(std::move(stream).value(), a.max_seconds);
  if (!reader.ok()) return fail(reader.status().annotate("'" + a.audio + "'"));
  AudioPiece p;
  for (;;) {
    auto more = (*reader)->next(p);
    if (!more.ok()) return fail(more.status().annotate("'" + a.audio + "'"));
    if (!*more) break;
    out(fmt::format("{} {}\n", p.range.start, p.range.end));
    if (!out_ok()) return fail(IoError("cannot write to standard output"));
  }
  return 0;
}

struct AlignArgs {
  std::string aligner, audio, text, text_file, language, dump_dir, kv_cache = "f16";
  int threads = 0;
  double max_audio_seconds = 3600;
  bool json = false;
};

int run_align(const AlignArgs& a) {
  if (a.text.empty() == a.text_file.empty())
    return fail(InvalidArgument("give the transcript as --text or --text-file"));
  std::string text = a.text;
  if (!a.text_file.empty()) {
    auto t = read_file(a.text_file);
    if (!t.ok()) return fail(t.status());
    text = std::move(t).value();
  }
  auto lang = canonical_language(a.language);
  if (!lang.ok()) return fail(lang.status());
  if (*lang == "Japanese" || *lang == "Korean")
    std::fprintf(stderr, "qasr: note: the official aligner segments %s with %s, which qasr does not have; %s\n",
                 lang->c_str(), *lang == "Japanese" ? "nagisa" : "soynlp",
                 *lang == "Japanese" ? "qasr aligns it per character" : "qasr splits it at spaces");
  AudioLimits al;
  al.max_seconds = a.max_audio_seconds;
  auto pcm = load_audio_file(a.audio, al);
  if (!pcm.ok()) return fail(pcm.status());
  auto model = Model::load(a.aligner);
  if (!model.ok()) return fail(model.status());
  ThreadPool pool(threads_or_default(a.threads));
  AlignOptions o;
  o.language = *lang;
  o.keep_logits = !a.dump_dir.empty();
  o.kv_f16 = a.kv_cache == "f16";
  auto r = align(**model, pool, *pcm, text, o);
  if (!r.ok()) return fail(r.status().annotate("'" + a.audio + "'"));
  if (!a.dump_dir.empty()) {
    if (Status s = make_dirs(a.dump_dir); !s.ok()) return fail(s);
    if (Status s = write_file(a.dump_dir + "/input_ids.json", dump_json(nlohmann::json(r->input_ids)) + "\n"); !s.ok())
      return fail(s);
    if (Status s = write_npy_f32(a.dump_dir + "/timestamp_logits.npy", r->timestamp_logits.data(),
                                 {r->n_timestamps, (*model)->config().classify_num});
        !s.ok())
      return fail(s);
  }
  if (a.json) {
    nlohmann::json words = nlohmann::json::array();
    for (const AlignedWord& w : r->words) words.push_back({{"text", w.text}, {"start", w.start}, {"end", w.end}});
    out(dump_json(nlohmann::json{{"words", words}}) + "\n");
  } else {
    for (const AlignedWord& w : r->words) out(fmt::format("{:.3f}\t{:.3f}\t{}\n", w.start, w.end, printable(w.text)));
  }
  if (!out_ok()) return fail(IoError("cannot write to standard output"));
  std::fprintf(stderr, "%s: %.2f s audio, %zu words, %lld timestamps; encoder %.1f ms, total %.1f ms\n",
               printable(a.audio).c_str(), pcm->seconds(), r->words.size(), static_cast<long long>(r->n_timestamps),
               r->encoder_ms, r->forward_ms);
  return 0;
}

}  // namespace

void add_align_commands(CLI::App& app, Commands& cmds) {
  auto s = std::make_shared<SplitArgs>();
  auto* sp = app.add_subcommand("split",
                                "Print the official long-audio split: one 'start end' per piece "
                                "(16 kHz sample indices, end exclusive)");
  sp->add_option("audio", s->audio, "audio file")->required();
  sp->add_option("--max-seconds", s->max_seconds, "longest piece before the ±5 s search (default 1200)")
      ->check(finite_range(1.0, 48 * 3600.0));
  sp->add_option("--max-audio-seconds", s->max_audio_seconds, "refuse longer audio (default 172800, 48 h)")
      ->check(finite_range(1.0, 48 * 3600.0));
  cmds.push_back({sp, [s] { return run_split(*s); }});

  auto a = std::make_shared<AlignArgs>();
  auto* al = app.add_subcommand("align", "Word (or CJK character) times of a known transcript, by Qwen3-ForcedAligner");
  al->add_option("--aligner", a->aligner, "Qwen3-ForcedAligner: Hugging Face folder or GGUF file")->required();
  al->add_option("audio", a->audio, "audio file")->required();
  al->add_option("--text", a->text, "the transcript");
  al->add_option("--text-file", a->text_file, "the transcript, from a UTF-8 file");
  al->add_option("--language", a->language, "language name or ISO code (only Japanese changes the text rule)");
  add_threads_option(al, &a->threads, "threads (default: $QASR_THREADS, else the number of cores)");
  al->add_option("--max-audio-seconds", a->max_audio_seconds, "refuse longer audio (default 3600)")
      ->check(finite_range(1.0, 4 * 3600.0));
  al->add_option("--kv-cache", a->kv_cache, "K/V precision of the pass: f16 (default) or f32 (exact)")
      ->check(CLI::IsMember({"f16", "f32"}));
  al->add_flag("--json", a->json, "one JSON object: {\"words\":[{\"text\",\"start\",\"end\"}...]}");
  al->add_option("--dump-dir", a->dump_dir, "write input_ids.json and timestamp_logits.npy");
  cmds.push_back({al, [a] { return run_align(*a); }});
}

}  // namespace qasr::cli
