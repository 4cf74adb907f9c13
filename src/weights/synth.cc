#include "weights/synth.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "kernels/half.h"

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
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
  float normal() {
    double u1 = uniform(), u2 = uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
};

struct Planned {
  std::string name;
  std::vector<int64_t> shape;
  enum Kind { kNormal, kOnes } kind;
  float scale;  // std for kNormal; spread around 1 for kOnes (norm weights)
};

std::vector<Planned> plan_tensors(const SynthSpec& sp) {
  const AudioConfig& a = sp.config.audio;
  const TextConfig& t = sp.config.text;
  const int64_t C = a.conv_channels, d = a.d_model, F = a.freq_after_conv(), h = t.hidden, hd = t.head_dim;
  std::vector<Planned> p;
  const std::string ap = "thinker.audio_tower.";
  const float cs = 0.1f * sp.conv_scale;
  p.push_back({ap + "conv2d1.weight", {C, 1, 3, 3}, Planned::kNormal, cs * 3});
  p.push_back({ap + "conv2d1.bias", {C}, Planned::kNormal, 0.02f});
  p.push_back({ap + "conv2d2.weight", {C, C, 3, 3}, Planned::kNormal, cs / std::sqrt(static_cast<float>(C))});
  p.push_back({ap + "conv2d2.bias", {C}, Planned::kNormal, 0.02f});
  p.push_back({ap + "conv2d3.weight", {C, C, 3, 3}, Planned::kNormal, cs / std::sqrt(static_cast<float>(C))});
  p.push_back({ap + "conv2d3.bias", {C}, Planned::kNormal, 0.02f});
  p.push_back({ap + "conv_out.weight", {d, C * F}, Planned::kNormal, 0.02f});
  for (int i = 0; i < a.layers; ++i) {
    const std::string l = ap + fmt::format("layers.{}.", i);
    const float as = 0.02f * sp.enc_attn_scale;
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      p.push_back({l + "self_attn." + n + ".weight", {d, d}, Planned::kNormal, as});
      p.push_back({l + "self_attn." + n + ".bias", {d}, Planned::kNormal, 0.02f});
    }
    p.push_back({l + "self_attn_layer_norm.weight", {d}, Planned::kOnes, 0.1f});
    p.push_back({l + "self_attn_layer_norm.bias", {d}, Planned::kNormal, 0.02f});
    p.push_back({l + "fc1.weight", {a.ffn, d}, Planned::kNormal, 0.02f});
    p.push_back({l + "fc1.bias", {a.ffn}, Planned::kNormal, 0.02f});
    p.push_back({l + "fc2.weight", {d, a.ffn}, Planned::kNormal, 0.02f});
    p.push_back({l + "fc2.bias", {d}, Planned::kNormal, 0.02f});
    p.push_back({l + "final_layer_norm.weight", {d}, Planned::kOnes, 0.1f});
    p.push_back({l + "final_layer_norm.bias", {d}, Planned::kNormal, 0.02f});
  }
  p.push_back({ap + "ln_post.weight", {d}, Planned::kOnes, 0.1f});
  p.push_back({ap + "ln_post.bias", {d}, Planned::kNormal, 0.02f});
  p.push_back({ap + "proj1.weight", {d, d}, Planned::kNormal, 0.02f});
  p.push_back({ap + "proj1.bias", {d}, Planned::kNormal, 0.02f});
  p.push_back({ap + "proj2.weight", {a.output_dim, d}, Planned::kNormal, 0.02f});
  p.push_back({ap + "proj2.bias", {a.output_dim}, Planned::kNormal, 0.02f});
  p.push_back({"thinker.model.embed_tokens.weight", {t.vocab, h}, Planned::kNormal, 0.02f});
  for (int i = 0; i < t.layers; ++i) {
    const std::string l = fmt::format("thinker.model.layers.{}.", i);
    p.push_back({l + "input_layernorm.weight", {h}, Planned::kOnes, 0.1f});
    p.push_back({l + "post_attention_layernorm.weight", {h}, Planned::kOnes, 0.1f});
    p.push_back({l + "self_attn.q_proj.weight", {t.heads * hd, h}, Planned::kNormal, 0.02f});
    p.push_back({l + "self_attn.k_proj.weight", {t.kv_heads * hd, h}, Planned::kNormal, 0.02f});
    p.push_back({l + "self_attn.v_proj.weight", {t.kv_heads * hd, h}, Planned::kNormal, 0.02f});
    p.push_back({l + "self_attn.o_proj.weight", {h, t.heads * hd}, Planned::kNormal, 0.02f});
    // Norm weights ~ scale·(1 ± 0.1): a large scale sharpens attention.
    p.push_back({l + "self_attn.q_norm.weight", {hd}, Planned::kOnes, -sp.qk_norm_scale});
    p.push_back({l + "self_attn.k_norm.weight", {hd}, Planned::kOnes, -sp.qk_norm_scale});
    p.push_back({l + "mlp.gate_proj.weight", {t.intermediate, h}, Planned::kNormal, 0.02f});
    p.push_back({l + "mlp.up_proj.weight", {t.intermediate, h}, Planned::kNormal, 0.02f});
    p.push_back({l + "mlp.down_proj.weight", {h, t.intermediate}, Planned::kNormal, 0.02f});
  }
  p.push_back({"thinker.model.norm.weight", {h}, Planned::kOnes, 0.1f});
  if (sp.write_lm_head) p.push_back({"thinker.lm_head.weight", {t.vocab, h}, Planned::kNormal, 0.0f});
  return p;
}

nlohmann::json config_json(const SynthSpec& sp, const nlohmann::json& languages) {
  const AudioConfig& a = sp.config.audio;
  const TextConfig& t = sp.config.text;
  nlohmann::json audio = {{"activation_function", "gelu"}, {"conv_chunksize", 500}, {"d_model", a.d_model},
                          {"downsample_hidden_size", a.conv_channels}, {"encoder_attention_heads", a.heads},
                          {"encoder_ffn_dim", a.ffn}, {"encoder_layers", a.layers}, {"num_hidden_layers", a.layers},
                          {"max_source_positions", a.max_source_positions}, {"model_type", "qwen3_asr_audio_encoder"},
                          {"n_window", a.n_window}, {"n_window_infer", a.n_window_infer},
                          {"num_mel_bins", a.num_mel_bins}, {"output_dim", a.output_dim}, {"scale_embedding", false}};
  nlohmann::json text = {{"attention_bias", false}, {"head_dim", t.head_dim}, {"hidden_act", "silu"},
                         {"hidden_size", t.hidden}, {"intermediate_size", t.intermediate},
                         {"max_position_embeddings", t.max_position}, {"model_type", "qwen3"},
                         {"num_attention_heads", t.heads}, {"num_hidden_layers", t.layers},
                         {"num_key_value_heads", t.kv_heads}, {"rms_norm_eps", t.rms_eps},
                         {"rope_scaling", {{"interleaved", true}, {"mrope_interleaved", true},
                                           {"mrope_section", {24, 20, 20}}, {"rope_type", "default"}, {"type", "default"}}},
                         {"rope_theta", t.rope_theta}, {"tie_word_embeddings", true}, {"vocab_size", t.vocab}};
  return {{"architectures", {"Qwen3ASRForConditionalGeneration"}},
          {"model_type", "qwen3_asr"},
          {"support_languages", languages},
          {"qasr_synthetic", "random weights written by `qasr synth`; transcripts are meaningless"},
          {"thinker_config",
           {{"model_type", "qwen3_asr"}, {"audio_config", audio}, {"text_config", text},
            {"audio_token_id", 151676}, {"audio_start_token_id", 151669}, {"audio_end_token_id", 151670},
            {"dtype", "bfloat16"}}}};
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
  if (name == "tiny") {
    a.d_model = 64, a.layers = 2, a.heads = 4, a.ffn = 128, a.conv_channels = 32, a.output_dim = 128;
    t.hidden = 128, t.layers = 2, t.heads = 4, t.kv_heads = 2, t.head_dim = 32, t.intermediate = 256;
    sp.qk_norm_scale = 4.0f;
    sp.enc_attn_scale = 20.0f;
    sp.conv_scale = 3.0f;
  } else if (name == "0.6b") {
    a.d_model = 896, a.layers = 18, a.heads = 14, a.ffn = 3584, a.conv_channels = 480, a.output_dim = 1024;
    t.hidden = 1024, t.layers = 28, t.heads = 16, t.kv_heads = 8, t.head_dim = 128, t.intermediate = 3072;
  } else if (name == "1.7b") {
    a.d_model = 1024, a.layers = 24, a.heads = 16, a.ffn = 4096, a.conv_channels = 480, a.output_dim = 2048;
    t.hidden = 2048, t.layers = 28, t.heads = 16, t.kv_heads = 8, t.head_dim = 128, t.intermediate = 6144;
  } else {
    return Status::Error(fmt::format("unknown preset '{}' (tiny, 0.6b, 1.7b)", name));
  }
  return sp;
}

Status write_synthetic_hf(const std::string& dir, const SynthSpec& sp, uint64_t seed, const std::string& assets) {
  ::mkdir(dir.c_str(), 0755);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::Error(fmt::format("cannot create output folder '{}'", dir));
  const std::string tokdir = assets + "/qwen3-asr-tokenizer", cfgdir = assets + "/qwen3-asr-0.6b";
  for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json", "chat_template.json"})
    QASR_RETURN_IF_ERROR(copy_file(tokdir + "/" + f, dir + "/" + f));
  for (const char* f : {"generation_config.json", "preprocessor_config.json"})
    QASR_RETURN_IF_ERROR(copy_file(cfgdir + "/" + f, dir + "/" + f));
  QASR_ASSIGN_OR_RETURN(std::string real_cfg, read_file(cfgdir + "/config.json"));
  nlohmann::json rc = nlohmann::json::parse(real_cfg, nullptr, false);
  nlohmann::json langs = rc.is_object() && rc.contains("support_languages") ? rc["support_languages"] : nlohmann::json::array();
  QASR_RETURN_IF_ERROR(write_file(dir + "/config.json", config_json(sp, langs).dump(2) + "\n"));

  // model.safetensors: header first (offsets known from the plan), then bf16 data.
  std::vector<Planned> plan = plan_tensors(sp);
  nlohmann::json header = nlohmann::json::object();
  uint64_t off = 0;
  for (const Planned& p : plan) {
    uint64_t n = 1;
    for (int64_t d : p.shape) n *= static_cast<uint64_t>(d);
    header[p.name] = {{"dtype", "BF16"}, {"shape", p.shape}, {"data_offsets", {off, off + 2 * n}}};
    off += 2 * n;
  }
  header["__metadata__"] = {{"format", "pt"}, {"qasr_synthetic", "random weights"}};
  std::string hs = header.dump();
  hs.append((8 - (8 + hs.size()) % 8) % 8, ' ');
  const std::string path = dir + "/model.safetensors";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), std::fclose);
  if (!f) return Status::Error(fmt::format("cannot write '{}'", path));
  uint64_t hl = hs.size();
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(hl >> (8 * i));
  bool ok = std::fwrite(le, 1, 8, f.get()) == 8 && std::fwrite(hs.data(), 1, hs.size(), f.get()) == hs.size();
  Rng rng{seed};
  std::vector<uint16_t> buf;
  std::vector<uint16_t> embed_copy;  // lm_head duplicates the embedding, as in real checkpoints
  for (const Planned& p : plan) {
    uint64_t n = 1;
    for (int64_t d : p.shape) n *= static_cast<uint64_t>(d);
    if (p.name == "thinker.lm_head.weight") {
      ok = ok && std::fwrite(embed_copy.data(), 2, n, f.get()) == n;
      continue;
    }
    buf.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      float v = p.kind == Planned::kNormal ? p.scale * rng.normal()
                                           : (p.scale < 0 ? -p.scale * (1.0f + 0.1f * rng.normal()) : 1.0f + p.scale * rng.normal());
      buf[i] = f32_to_bf16(v);
    }
    if (p.name == "thinker.model.embed_tokens.weight" && sp.write_lm_head) embed_copy = buf;
    ok = ok && std::fwrite(buf.data(), 2, n, f.get()) == n;
  }
  if (!ok) return Status::Error(fmt::format("cannot write '{}' (disk full?)", path));
  return Status::Ok();
}

}  // namespace qasr
