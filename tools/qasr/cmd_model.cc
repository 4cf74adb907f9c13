// Model files: qasr convert, qasr synth, qasr inspect.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/memory.h"
#include "cli.h"
#include "convert/convert.h"
#include "convert/synth.h"
#include "model/model.h"
#include "model/tensor_specs.h"
#include "pipeline/session.h"

namespace qasr::cli {
namespace {

std::function<void(size_t, size_t)> tensor_progress(Progress& p, const std::string& what) {
  if (!p.enabled()) return {};
  return [&p, what](size_t done, size_t total) { p.update(fmt::format("{}: tensor {}/{}", what, done, total)); };
}

struct SynthArgs {
  std::string preset = "tiny", out, assets = QASR_ASSET_DIR, format = "hf", type;
  uint64_t seed = 0;
  ProgressFlags progress;
};

int run_synth(const SynthArgs& a) {
  auto sp = synth_preset(a.preset);
  if (!sp.ok()) return fail(sp.status());
  const std::string type = a.type.empty() ? (a.format == "hf" ? "bf16" : "q4_0") : a.type;
  DType dt;
  if (!parse_dtype(type, &dt))
    return fail(InvalidArgument(fmt::format("unknown --type '{}' (f32, f16, bf16, q8_0, q4_0)", type)));
  Progress progress(a.progress.enabled());
  const auto cb = tensor_progress(progress, "synth " + a.out);
  const double t0 = now_ms();
  Status s = a.format == "hf" ? write_synthetic_hf(a.out, *sp, a.seed, a.assets, dt, cb)
                              : write_synthetic_file(a.out, *sp, a.seed, a.assets, a.format == "chatllm", dt, cb);
  progress.done();
  if (!s.ok()) return fail(s);
  std::fprintf(stderr,
               "synth: wrote %s (preset %s, %s %s, seed %llu, RANDOM WEIGHTS: transcripts are meaningless) in %.1f s\n",
               printable(a.out).c_str(), a.preset.c_str(), a.format.c_str(), type.c_str(),
               static_cast<unsigned long long>(a.seed), (now_ms() - t0) / 1000.0);
  return 0;
}

struct ConvertArgs {
  std::string src, out, type = "q8_0";
  std::vector<std::string> overrides;
  ProgressFlags progress;
};

int run_convert(const ConvertArgs& a) {
  ConvertOptions o;
  if (!parse_dtype(a.type, &o.type))
    return fail(InvalidArgument(fmt::format("unknown --type '{}' (f32, f16, bf16, q8_0, q4_0)", a.type)));
  o.tensor_types = a.overrides;
  Progress progress(a.progress.enabled());
  o.progress = tensor_progress(progress, "convert " + a.out);
  const double t0 = now_ms();
  auto r = convert_to_gguf(a.src, a.out, o);
  progress.done();
  if (!r.ok()) return fail(r.status());
  std::fprintf(stderr, "convert: wrote %s: %zu tensors, %.1f MiB of tensor data, in %.1f s\n", printable(a.out).c_str(),
               r->n_tensors, r->bytes_written / 1048576.0, (now_ms() - t0) / 1000.0);
  return 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

struct InspectArgs {
  std::string path;
  double max_audio = 1200;
  int max_new = 4096;
};

int run_inspect(const InspectArgs& a) {
  const double t0 = now_ms();
  auto m = Model::load(a.path);
  if (!m.ok()) return fail(m.status());
  const double load_ms = now_ms() - t0;
  const MemoryProbe mem = read_memory();
  const ModelSource& src = (*m)->source();
  const ModelConfig& c = src.config;
  out(fmt::format(
      "file: {}\nformat: {}\nkind: {}\nmapped: {} bytes; owned by the model: {} bytes; loaded and validated "
      "in {:.0f} ms\n",
      printable(a.path), model_format_name(src.format), model_kind_name(c.kind), src.mapped_bytes(),
      (*m)->owned_bytes(), load_ms));
  out(
      fmt::format("audio encoder: d_model {}, layers {}, heads {}, ffn {}, conv channels {}, mel bins {}, output {}, "
                  "n_window {}, n_window_infer {}\n",
                  c.audio.d_model, c.audio.layers, c.audio.heads, c.audio.ffn, c.audio.conv_channels,
                  c.audio.num_mel_bins, c.audio.output_dim, c.audio.n_window, c.audio.n_window_infer));
  out(fmt::format(
      "text decoder: hidden {}, layers {}, heads {}/{} kv, head_dim {}, ffn {}, vocab {}, rope theta {}, "
      "rms eps {}, max positions {}, {}\n",
      c.text.hidden, c.text.layers, c.text.heads, c.text.kv_heads, c.text.head_dim, c.text.intermediate, c.text.vocab,
      c.text.rope_theta, c.text.rms_eps, c.text.max_position,
      c.kind == ModelKind::kForcedAligner
          ? fmt::format("timestamp head of {} classes × {} ms, <timestamp> {}", c.classify_num, c.timestamp_segment_ms,
                        c.timestamp_token_id)
          : std::string(src.separate_lm_head ? "logits from the file's lm_head" : "logits from the tied embedding")));
  const Tokenizer& t = *src.tokenizer;
  const SpecialTokens& sp = src.special;
  std::string stops;
  for (int32_t id : sp.stop_ids) stops += (stops.empty() ? "" : " ") + std::to_string(id);
  out(
      fmt::format("tokenizer: {} ids ({} BPE entries, {} merges, {} added tokens); audio_pad {}, audio_start {}, "
                  "audio_end {}, asr_text {}, stop ids {}; {} languages\n",
                  t.size(), t.n_vocab_entries(), t.n_merges(), t.added_tokens().size(), sp.audio_pad, sp.audio_start,
                  sp.audio_end, sp.asr_text, stops, src.support_languages.size()));
  out(fmt::format("tensors: {}\n", src.tensors.size()));
  std::map<std::string, std::pair<size_t, size_t>> per_type;
  for (const TensorSpec& spec : model_tensor_specs(c, src.tensors.count("thinker.lm_head.weight") > 0)) {
    const TensorView& tv = src.tensors.at(spec.name);
    out(fmt::format("  {:<58} {:<5} {:<18} {:>12}\n", spec.name, dtype_name(tv.dtype), shape_str(tv.shape), tv.nbytes));
    auto& pt = per_type[dtype_name(tv.dtype)];
    pt.first++;
    pt.second += tv.nbytes;
  }
  for (const auto& [type, nb] : per_type)
    out(fmt::format("total {:<5} {:>4} tensors {:>14} bytes ({:.1f} MiB)\n", type, nb.first, nb.second,
                    nb.second / 1048576.0));
  out(
      fmt::format("process memory after load: RSS {:.1f} MiB (anonymous {:.1f}, file-backed {:.1f}); the weights are "
                  "mapped, pages come in when first used\n",
                  mem.rss / 1048576.0, mem.rss_anon / 1048576.0, mem.rss_file / 1048576.0));
  SessionLimits lim;
  lim.max_audio_seconds = a.max_audio;
  lim.max_new_tokens = a.max_new;
  auto s = Session::create(*m, lim);
  if (!s.ok()) return fail(s.status());
  out(
      fmt::format("session for {:.0f} s of audio and {} new tokens: reserves {:.1f} MiB of address space (KV cache "
                  "{:.1f} MiB, {} positions), resident only as used\n",
                  a.max_audio, a.max_new, (*s)->reserved_bytes() / 1048576.0, (*s)->kv_cache_bytes() / 1048576.0,
                  (*s)->max_positions()));
  return 0;
}

}  // namespace

void add_model_commands(CLI::App& app, Commands& cmds) {
  auto sa = std::make_shared<SynthArgs>();
  auto* sy = app.add_subcommand("synth", "Write a random-weight checkpoint (official HF layout, GGUF or chatllm .bin)");
  sy->add_option("--preset", sa->preset, "tiny | tiny-plain | 0.6b | 1.7b")->capture_default_str();
  sy->add_option("--seed", sa->seed, "random seed")->capture_default_str();
  sy->add_option("-o,--output", sa->out, "output folder (hf) or file")->required();
  sy->add_option("--assets", sa->assets, "folder with qwen3-asr-tokenizer/ and qwen3-asr-0.6b/")->capture_default_str();
  sy->add_option("--format", sa->format, "hf | gguf | chatllm")
      ->capture_default_str()
      ->check(CLI::IsMember({"hf", "gguf", "chatllm"}));
  sy->add_option("--type", sa->type, "f32 | f16 | bf16 | q8_0 | q4_0 (default: bf16 for hf, q4_0 otherwise)");
  sa->progress.add_to(sy);
  cmds.push_back({sy, [sa] { return run_synth(*sa); }});

  auto ca = std::make_shared<ConvertArgs>();
  auto* cv = app.add_subcommand("convert", "Convert a Hugging Face folder, chatllm .bin or GGUF to one GGUF file");
  cv->add_option("source", ca->src, "Hugging Face folder, chatllm .bin or GGUF")->required();
  cv->add_option("-o,--output", ca->out, "output .gguf")->required();
  cv->add_option("--type", ca->type, "f32 | f16 | bf16 | q8_0 | q4_0")->capture_default_str();
  cv->add_option("--tensor-type", ca->overrides, "PATTERN=TYPE per-tensor override (repeatable)");
  ca->progress.add_to(cv);
  cmds.push_back({cv, [ca] { return run_convert(*ca); }});

  auto ia = std::make_shared<InspectArgs>();
  auto* in = app.add_subcommand("inspect", "Show format, config, tokenizer and tensors of a model");
  in->add_option("model", ia->path, "model folder or file")->required();
  in->add_option("--max-audio-seconds", ia->max_audio, "session limit to size")
      ->capture_default_str()
      ->check(finite_range(1.0, 4 * 3600.0));
  in->add_option("--max-new-tokens", ia->max_new, "session limit to size")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  cmds.push_back({in, [ia] { return run_inspect(*ia); }});
}

}  // namespace qasr::cli
