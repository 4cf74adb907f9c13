// qasr: command-line entry point. Parses flags (CLI11), calls the library, prints,
// and maps Status errors to a one-line message on stderr and exit code 1
// (2 for usage errors).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "audio/audio.h"
#include "base/npy.h"
#include "base/status.h"
#include "features/mel.h"
#include "text/tokenizer.h"

namespace {

using qasr::Expected;
using qasr::Status;

int fail(const std::string& message) {
  std::string one_line = message;
  for (char& c : one_line)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "qasr: error: %s\n", one_line.c_str());
  return 1;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
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

}  // namespace

int main(int argc, char** argv) {
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (mel->parsed()) return run_mel(audio, out);
  if (tokenize->parsed()) return run_tokenize(tok_path, text);
  if (detokenize->parsed()) return run_detokenize(tok_path, ids);
  return 2;
}
