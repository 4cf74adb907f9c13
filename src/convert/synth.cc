#include "convert/synth.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "convert/writers.h"
#include "kernels/half.h"
#include "model/tensor_specs.h"
#include "text/special_tokens.h"
#include "text/tokenizer.h"

#include <algorithm>
#include <cstring>

namespace qasr {
namespace {

// Deterministic normal samples: splitmix64 + Box-Muller.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Approximately standard normal (Irwin–Hall of four 16-bit uniforms, rescaled):
  // one 64-bit draw per value, so multi-GB models are written in seconds.
  float normal() {
    const uint64_t r = next();
    const uint32_t sum = (r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48);
    return (static_cast<float>(sum) * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
  }
};

uint64_t tensor_seed(uint64_t seed, size_t index) {
  Rng r{seed * 0x2545F4914F6CDD1Dull + index};
  return r.next();
}

struct Planned {
  std::string name;
  std::vector<int64_t> shape;
  enum Kind { kNormal, kOnes } kind;
  float scale;  // std for kNormal; spread around 1 for kOnes (norm weights)
};

void fill_planned(const Planned& p, Rng& rng, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = p.kind == Planned::kNormal
                 ? p.scale * rng.normal()
                 : (p.scale < 0 ? -p.scale * (1.0f + 0.1f * rng.normal()) : 1.0f + p.scale * rng.normal());
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// How each tensor of the model (model/tensor_specs.h, in file order) is initialised.
std::vector<Planned> plan_tensors(const SynthSpec& sp) {
  const int64_t C = sp.config.audio.conv_channels;
  const float cs = 0.1f * sp.conv_scale, as = 0.02f * sp.enc_attn_scale;
  const bool aligner = sp.config.kind == ModelKind::kForcedAligner;
  std::vector<Planned> p;
  for (TensorSpec& t : model_tensor_specs(sp.config, sp.write_lm_head)) {
    const std::string& n = t.name;
    Planned pl{n, t.shape, Planned::kNormal, 0.02f};
    const bool encoder_attn =
        n.find("audio_tower.layers.") != std::string::npos && n.find(".self_attn.") != std::string::npos;
    if (n == "thinker.audio_tower.conv2d1.weight")
      pl.scale = cs * 3;
    else if (ends_with(n, "conv2d2.weight") || ends_with(n, "conv2d3.weight"))
      pl.scale = cs / std::sqrt(static_cast<float>(C));
    else if (encoder_attn && ends_with(n, ".weight"))
      pl.scale = as;
    else if (n.find("model.layers.") != std::string::npos && ends_with(n, "o_proj.weight"))
      pl.scale = 0.02f * sp.dec_attn_out_scale;
    else if (ends_with(n, "q_norm.weight") || ends_with(n, "k_norm.weight"))
      pl = {n, t.shape, Planned::kOnes, -sp.qk_norm_scale};
    else if (t.is_vector() && (ends_with(n, "norm.weight") || ends_with(n, "ln_post.weight")))
      pl = {n, t.shape, Planned::kOnes, 0.1f};
    // The ASR lm_head duplicates the embedding (as in real checkpoints); the aligner's is its own head.
    else if (n == "thinker.lm_head.weight" && !aligner)
      pl.scale = 0.0f;
    p.push_back(std::move(pl));
  }
  return p;
}

nlohmann::json config_json(const SynthSpec& sp, const nlohmann::json& languages) {
  const AudioConfig& a = sp.config.audio;
  const TextConfig& t = sp.config.text;
  nlohmann::json audio = {{"activation_function", "gelu"},
                          {"conv_chunksize", 500},
                          {"d_model", a.d_model},
                          {"downsample_hidden_size", a.conv_channels},
                          {"encoder_attention_heads", a.heads},
                          {"encoder_ffn_dim", a.ffn},
                          {"encoder_layers", a.layers},
                          {"num_hidden_layers", a.layers},
                          {"max_source_positions", a.max_source_positions},
                          {"model_type", "qwen3_asr_audio_encoder"},
                          {"n_window", a.n_window},
                          {"n_window_infer", a.n_window_infer},
                          {"num_mel_bins", a.num_mel_bins},
                          {"output_dim", a.output_dim},
                          {"scale_embedding", false}};
  nlohmann::json text = {{"attention_bias", false},
                         {"head_dim", t.head_dim},
                         {"hidden_act", "silu"},
                         {"hidden_size", t.hidden},
                         {"intermediate_size", t.intermediate},
                         {"max_position_embeddings", t.max_position},
                         {"model_type", "qwen3"},
                         {"num_attention_heads", t.heads},
                         {"num_hidden_layers", t.layers},
                         {"num_key_value_heads", t.kv_heads},
                         {"rms_norm_eps", t.rms_eps},
                         {"rope_scaling",
                          {{"interleaved", true},
                           {"mrope_interleaved", true},
                           {"mrope_section", {24, 20, 20}},
                           {"rope_type", "default"},
                           {"type", "default"}}},
                         {"rope_theta", t.rope_theta},
                         {"tie_word_embeddings", true},
                         {"vocab_size", t.vocab}};
  const bool aligner = sp.config.kind == ModelKind::kForcedAligner;
  if (aligner) text["tie_word_embeddings"] = false;
  nlohmann::json thinker = {{"model_type", aligner ? "qwen3_forced_aligner" : "qwen3_asr"},
                            {"audio_config", audio},
                            {"text_config", text},
                            {"audio_token_id", 151676},
                            {"audio_start_token_id", 151669},
                            {"audio_end_token_id", 151670},
                            {"dtype", "bfloat16"}};
  nlohmann::json root = {{"architectures", {"Qwen3ASRForConditionalGeneration"}},
                         {"model_type", "qwen3_asr"},
                         {"support_languages", languages},
                         {"qasr_synthetic", "random weights written by `qasr synth`; outputs are meaningless"}};
  // The forced aligner's own keys, where the official config has them (spec §8.5).
  if (aligner) {
    thinker["classify_num"] = sp.config.classify_num;
    root["timestamp_token_id"] = sp.config.timestamp_token_id;
    root["timestamp_segment_time"] = sp.config.timestamp_segment_ms;
  }
  root["thinker_config"] = thinker;
  return root;
}

// The folder of the real config files to copy: the aligner's own (its tokenizer_config has
// <timestamp>, its languages are 11) or the ASR model's.
std::string config_dir(const SynthSpec& sp, const std::string& assets) {
  return assets + (sp.config.kind == ModelKind::kForcedAligner ? "/qwen3-forcedaligner-0.6b" : "/qwen3-asr-0.6b");
}

Expected<nlohmann::json> real_languages(const std::string& cfgdir) {
  QASR_ASSIGN_OR_RETURN(std::string real_cfg, read_file(cfgdir + "/config.json"));
  nlohmann::json rc = nlohmann::json::parse(real_cfg, nullptr, false);
  return rc.is_object() && rc.contains("support_languages") ? rc["support_languages"] : nlohmann::json::array();
}

Status copy_file(const std::string& from, const std::string& to) {
  QASR_ASSIGN_OR_RETURN(std::string s, read_file(from));
  return write_file(to, s);
}

}  // namespace

Expected<SynthSpec> synth_preset(const std::string& name) {
  SynthSpec sp;
  AudioConfig& a = sp.config.audio;
  TextConfig& t = sp.config.text;
  t.vocab = 151936;
  t.rms_eps = 1e-6f;
  t.rope_theta = 1e6;
  t.max_position = 65536;
  sp.config.audio_token_id = 151676;
  const bool aligner = name == "aligner" || name == "tiny-aligner";
  if (aligner) {
    // Qwen3-ForcedAligner-0.6B: the 1.7B model's encoder, the 0.6B model's decoder, a
    // 5000-class head, its own vocabulary size and 8192 positions.
    sp.config.kind = ModelKind::kForcedAligner;
    sp.config.classify_num = 5000;
    sp.config.timestamp_token_id = 151705;
    sp.config.timestamp_segment_ms = 80;
    t.vocab = 152064;
    t.max_position = 8192;
    t.tie_word_embeddings = false;
  }
  if (name == "tiny" || name == "tiny-plain" || name == "tiny-aligner") {
    a.d_model = 64, a.layers = 2, a.heads = 4, a.ffn = 128, a.conv_channels = 32, a.output_dim = 128;
    t.hidden = 128, t.layers = 2, t.heads = 4, t.kv_heads = 2, t.head_dim = 32, t.intermediate = 256;
    if (name != "tiny-plain") {  // sharpened attention, for golden tests (see SynthSpec)
      sp.qk_norm_scale = 4.0f;
      sp.enc_attn_scale = 20.0f;
      sp.conv_scale = 3.0f;
      // The aligner's <timestamp> rows all embed the same token: attention must carry enough
      // of their context into the residual stream for the head's argmax to differ between words.
      if (aligner) sp.dec_attn_out_scale = 25.0f;
    }
  } else if (name == "0.6b") {
    a.d_model = 896, a.layers = 18, a.heads = 14, a.ffn = 3584, a.conv_channels = 480, a.output_dim = 1024;
    t.hidden = 1024, t.layers = 28, t.heads = 16, t.kv_heads = 8, t.head_dim = 128, t.intermediate = 3072;
  } else if (name == "1.7b" || name == "aligner") {
    a.d_model = 1024, a.layers = 24, a.heads = 16, a.ffn = 4096, a.conv_channels = 480, a.output_dim = 2048;
    if (aligner) {
      a.output_dim = 1024;
      t.hidden = 1024, t.layers = 28, t.heads = 16, t.kv_heads = 8, t.head_dim = 128, t.intermediate = 3072;
    } else {
      t.hidden = 2048, t.layers = 28, t.heads = 16, t.kv_heads = 8, t.head_dim = 128, t.intermediate = 6144;
    }
  } else {
    return InvalidArgument(
        fmt::format("unknown preset '{}' (tiny, tiny-plain, tiny-aligner, 0.6b, 1.7b, aligner)", name));
  }
  return sp;
}

Status write_synthetic_hf(const std::string& dir, const SynthSpec& sp, uint64_t seed, const std::string& assets,
                          DType dtype, const SynthProgress& progress) {
  if (is_quantized(dtype))
    return InvalidArgument("--format hf takes f32, f16 or bf16 (quantized types need gguf or chatllm)");
  QASR_RETURN_IF_ERROR(make_dirs(dir));
  const std::string tokdir = assets + "/qwen3-asr-tokenizer", cfgdir = config_dir(sp, assets);
  const bool aligner = sp.config.kind == ModelKind::kForcedAligner;
  for (const char* f : {"vocab.json", "merges.txt"}) QASR_RETURN_IF_ERROR(copy_file(tokdir + "/" + f, dir + "/" + f));
  for (const char* f : {"tokenizer_config.json", "chat_template.json"})
    QASR_RETURN_IF_ERROR(copy_file((aligner ? cfgdir : tokdir) + "/" + f, dir + "/" + f));
  for (const char* f : {"generation_config.json", "preprocessor_config.json"})
    QASR_RETURN_IF_ERROR(copy_file(cfgdir + "/" + f, dir + "/" + f));
  QASR_ASSIGN_OR_RETURN(nlohmann::json langs, real_languages(cfgdir));
  QASR_RETURN_IF_ERROR(write_file(dir + "/config.json", config_json(sp, langs).dump(2) + "\n"));

  // model.safetensors: header first (offsets known from the plan), then the data.
  std::vector<Planned> plan = plan_tensors(sp);
  const size_t esize = dtype_size(dtype);
  nlohmann::json header = nlohmann::json::object();
  uint64_t off = 0;
  for (const Planned& p : plan) {
    uint64_t n = 1;
    for (int64_t d : p.shape) n *= static_cast<uint64_t>(d);
    header[p.name] = {{"dtype", dtype_name(dtype)}, {"shape", p.shape}, {"data_offsets", {off, off + esize * n}}};
    off += esize * n;
  }
  header["__metadata__"] = {{"format", "pt"}, {"qasr_synthetic", "random weights"}};
  std::string hs = header.dump();
  hs.append((8 - (8 + hs.size()) % 8) % 8, ' ');
  const std::string path = dir + "/model.safetensors";
  QASR_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  uint64_t hl = hs.size();
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(hl >> (8 * i));
  QASR_RETURN_IF_ERROR(f.write(le, 8));
  QASR_RETURN_IF_ERROR(f.write(hs));
  std::vector<float> buf;
  std::vector<uint8_t> bytes;
  const int64_t chunk = int64_t{1} << 20;
  size_t embed_index = 0;
  for (size_t ti = 0; ti < plan.size(); ++ti) {
    const Planned& p = plan[ti];
    if (p.name == "thinker.model.embed_tokens.weight") embed_index = ti;
    // lm_head duplicates the embedding, as in real checkpoints: same seed, same values.
    const bool dup = p.name == "thinker.lm_head.weight" && sp.config.kind == ModelKind::kAsr;
    Rng rng{tensor_seed(seed, dup ? embed_index : ti)};
    const Planned& src = dup ? plan[embed_index] : p;
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
      const int64_t k = std::min(chunk, n - i0);
      buf.resize(k);
      bytes.resize(k * esize);
      fill_planned(src, rng, buf.data(), k);
      for (int64_t i = 0; i < k; ++i) {
        if (dtype == DType::F32)
          std::memcpy(bytes.data() + 4 * i, &buf[i], 4);
        else {
          const uint16_t h = dtype == DType::F16 ? f32_to_f16(buf[i]) : f32_to_bf16(buf[i]);
          std::memcpy(bytes.data() + 2 * i, &h, 2);
        }
      }
      QASR_RETURN_IF_ERROR(f.write(bytes.data(), bytes.size()));
    }
    if (progress) progress(ti + 1, plan.size());
  }
  return f.commit();
}

Status write_synthetic_file(const std::string& path, const SynthSpec& sp, uint64_t seed, const std::string& assets,
                            bool chatllm, DType dtype, const SynthProgress& progress) {
  const bool aligner = sp.config.kind == ModelKind::kForcedAligner;
  if (aligner && chatllm)
    return InvalidArgument("chatllm.cpp has no forced-aligner format; write the aligner as hf or gguf");
  const std::string cfgdir = config_dir(sp, assets);
  QASR_ASSIGN_OR_RETURN(Tokenizer tok, aligner ? Tokenizer::load_files(assets + "/qwen3-asr-tokenizer/vocab.json",
                                                                       assets + "/qwen3-asr-tokenizer/merges.txt",
                                                                       cfgdir + "/tokenizer_config.json")
                                               : Tokenizer::load_dir(assets + "/qwen3-asr-tokenizer"));
  ModelMeta meta;
  meta.config = sp.config;
  meta.tokenizer = &tok;
  QASR_ASSIGN_OR_RETURN(meta.special, find_special_tokens(tok));
  QASR_RETURN_IF_ERROR(apply_model_config_files(meta.special, cfgdir));
  QASR_ASSIGN_OR_RETURN(nlohmann::json langs, real_languages(cfgdir));
  for (const auto& l : langs) meta.languages.push_back(l.get<std::string>());
  meta.name = "qasr-synthetic (random weights)";
  meta.progress = progress;
  meta.config_json = config_json(sp, langs).dump();
  QASR_ASSIGN_OR_RETURN(meta.tokenizer_config_json,
                        read_file((aligner ? cfgdir : assets + "/qwen3-asr-tokenizer") + "/tokenizer_config.json"));
  std::vector<Planned> plan = plan_tensors(sp);
  std::vector<TensorData> tensors;
  size_t embed_index = 0;
  for (size_t ti = 0; ti < plan.size(); ++ti) {
    const Planned& p = plan[ti];
    if (p.name == "thinker.model.embed_tokens.weight") embed_index = ti;
    const bool dup = p.name == "thinker.lm_head.weight" && sp.config.kind == ModelKind::kAsr;
    if (dup && !chatllm) continue;  // GGUF: tied output, no copy
    TensorData td;
    td.canonical = p.name;
    td.shape = p.shape;
    if (chatllm) {
      td.type = chatllm_tensor_type(p.shape, dtype);
    } else {
      QASR_ASSIGN_OR_RETURN(td.type, choose_tensor_type(p.name, p.shape, dtype, {}));
    }
    const Planned src = dup ? plan[embed_index] : p;
    auto rng = std::make_shared<Rng>(Rng{tensor_seed(seed, dup ? embed_index : ti)});
    const int64_t cols = p.shape.back();
    td.fill = [src, rng, cols](int64_t, int64_t rows, float* out) { fill_planned(src, *rng, out, rows * cols); };
    tensors.push_back(std::move(td));
  }
  return chatllm ? write_chatllm_model(path, meta, tensors) : write_gguf_model(path, meta, tensors);
}

}  // namespace qasr
