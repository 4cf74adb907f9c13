// Text and features: qasr tokenize, detokenize, normalize, score, mel.
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "base/clock.h"
#include "base/io.h"
#include "base/json.h"
#include "base/npy.h"
#include "cli.h"
#include "features/mel.h"
#include "score/metrics.h"
#include "score/normalize.h"
#include "text/tokenizer.h"

namespace qasr::cli {
namespace {

constexpr size_t kMaxTextFile = size_t{64} << 20;

int run_mel(const std::string& audio_path, const std::string& out_path) {
  const double t0 = now_ms();
  auto pcm = load_audio_file(audio_path);
  if (!pcm.ok()) return fail(pcm.status());
  const double t1 = now_ms();
  MelExtractor mel_extractor;
  const double t2 = now_ms();
  auto mel = mel_extractor.compute(pcm->samples);
  if (!mel.ok()) return fail(mel.status().annotate("'" + audio_path + "'"));
  const double t3 = now_ms();
  if (Status s = write_npy_f32(out_path, mel->data.data(), {mel->n_mels, mel->n_frames}); !s.ok()) return fail(s);
  std::fprintf(stderr,
               "mel: %s: %.2f s of audio → (%d, %d); decode+resample %.1f ms, mel %.2f ms (%.3f ms per second of "
               "audio)\n",
               printable(audio_path).c_str(), pcm->seconds(), mel->n_mels, mel->n_frames, t1 - t0, t3 - t2,
               (t3 - t2) / std::max(pcm->seconds(), 1e-9));
  return 0;
}

int run_tokenize(const std::string& dir, const std::string& text, bool plain) {
  auto tok = Tokenizer::load_dir(dir);
  if (!tok.ok()) return fail(tok.status());
  const std::vector<int32_t> ids = tok->encode(text, /*split_special=*/!plain);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  out(line + "\n");
  return 0;
}

int run_detokenize(const std::string& dir, const std::vector<std::string>& args) {
  auto tok = Tokenizer::load_dir(dir);
  if (!tok.ok()) return fail(tok.status());
  std::vector<int32_t> ids;
  for (const std::string& a : args) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(a.c_str(), &end, 10);
    if (a.empty() || *end != '\0' || errno == ERANGE || v < 0)
      return fail(InvalidArgument(fmt::format("'{}' is not a token id", a)));
    if (v >= tok->size())
      return fail(InvalidArgument(fmt::format("token id {} is outside this tokenizer's {} ids", v, tok->size())));
    ids.push_back(static_cast<int32_t>(v));
  }
  out(tok->decode(ids) + "\n");
  return 0;
}

int run_normalize(const std::string& text) {
  auto n = Normalizer::create();
  if (!n.ok()) return fail(n.status());
  out(n->normalize(text) + "\n");
  return 0;
}

struct ScoreArgs {
  std::string ref, ref_file, hyp, hyp_file;
  bool json = false;
};

int run_score(ScoreArgs a) {
  if (!a.ref_file.empty()) {
    auto r = read_file(a.ref_file, kMaxTextFile);
    if (!r.ok()) return fail(r.status());
    a.ref = *r;
  }
  if (!a.hyp_file.empty()) {
    auto h = read_file(a.hyp_file, kMaxTextFile);
    if (!h.ok()) return fail(h.status());
    a.hyp = *h;
  }
  auto n = Normalizer::create();
  if (!n.ok()) return fail(n.status());
  const std::string rn = n->normalize(a.ref), hn = n->normalize(a.hyp);
  auto w = word_errors(rn, hn);
  if (!w.ok()) return fail(w.status());
  auto c = char_errors(rn, hn);
  if (!c.ok()) return fail(c.status());
  const bool cer = prefers_cer(rn);
  if (a.json) {
    nlohmann::json j = {{"wer", w->rate()},
                        {"cer", c->rate()},
                        {"metric", cer ? "cer" : "wer"},
                        {"reference_normalized", rn},
                        {"hypothesis_normalized", hn},
                        {"word_errors",
                         {{"substitutions", w->substitutions},
                          {"deletions", w->deletions},
                          {"insertions", w->insertions},
                          {"reference_words", w->reference_length}}},
                        {"char_errors",
                         {{"substitutions", c->substitutions},
                          {"deletions", c->deletions},
                          {"insertions", c->insertions},
                          {"reference_chars", c->reference_length}}}};
    out(dump_json(j) + "\n");
  } else {
    out(fmt::format(
        "WER {:.4f} ({} sub, {} del, {} ins / {} words)\nCER {:.4f} ({} sub, {} del, {} ins / {} chars)\n"
        "metric for this language: {}\nreference:  {}\nhypothesis: {}\n",
        w->rate(), w->substitutions, w->deletions, w->insertions, w->reference_length, c->rate(), c->substitutions,
        c->deletions, c->insertions, c->reference_length, cer ? "CER" : "WER", printable(rn), printable(hn)));
  }
  return 0;
}

}  // namespace

void add_text_commands(CLI::App& app, Commands& cmds) {
  struct MelArgs {
    std::string audio, out;
  };
  auto ma = std::make_shared<MelArgs>();
  auto* mel = app.add_subcommand("mel", "Write the 128-bin log-mel of an audio file as float32 .npy (128, T)");
  mel->add_option("audio", ma->audio, "audio file")->required();
  mel->add_option("-o,--output", ma->out, "output .npy path")->required();
  cmds.push_back({mel, [ma] { return run_mel(ma->audio, ma->out); }});

  struct TokArgs {
    std::string dir, text;
    std::vector<std::string> ids;
    bool plain = false;
  };
  auto ta = std::make_shared<TokArgs>();
  auto* tokenize = app.add_subcommand("tokenize", "Print the token ids of TEXT, space-separated");
  tokenize->add_option("--tokenizer", ta->dir, "folder with vocab.json, merges.txt, tokenizer_config.json")->required();
  tokenize->add_option("text", ta->text, "text to encode")->required();
  tokenize->add_flag("--plain", ta->plain,
                     "treat special-token strings in TEXT as plain text (as qasr treats --context), instead of as the "
                     "reference tokenizer does");
  cmds.push_back({tokenize, [ta] { return run_tokenize(ta->dir, ta->text, ta->plain); }});

  auto* detokenize = app.add_subcommand("detokenize", "Print the text of token ids (special tokens skipped)");
  detokenize->add_option("--tokenizer", ta->dir, "folder with vocab.json, merges.txt, tokenizer_config.json")
      ->required();
  detokenize->add_option("ids", ta->ids, "token ids")->required();
  cmds.push_back({detokenize, [ta] { return run_detokenize(ta->dir, ta->ids); }});

  auto na = std::make_shared<std::string>();
  auto* nm = app.add_subcommand(
      "normalize", "Print TEXT as scoring normalizes it (NFKC, case fold, s2twp, Chinese ITN, punctuation)");
  nm->add_option("text", *na, "text")->required();
  cmds.push_back({nm, [na] { return run_normalize(*na); }});

  auto sa = std::make_shared<ScoreArgs>();
  auto* sc = app.add_subcommand("score", "WER and CER of a hypothesis against a reference, after normalization");
  auto* r1 = sc->add_option("--reference", sa->ref, "reference text");
  auto* r2 = sc->add_option("--reference-file", sa->ref_file, "reference text file");
  auto* h1 = sc->add_option("--hypothesis", sa->hyp, "hypothesis text");
  auto* h2 = sc->add_option("--hypothesis-file", sa->hyp_file, "hypothesis text file");
  r1->excludes(r2);
  h1->excludes(h2);
  sc->add_flag("--json", sa->json, "JSON: wer, cer, reference_normalized, hypothesis_normalized");
  sc->callback([r1, r2, h1, h2] {
    if (r1->count() + r2->count() != 1 || h1->count() + h2->count() != 1)
      throw CLI::ValidationError(
          "score needs one of --reference/--reference-file and one of --hypothesis/--hypothesis-file");
  });
  cmds.push_back({sc, [sa] { return run_score(*sa); }});
}

}  // namespace qasr::cli
