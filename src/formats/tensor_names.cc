#include "formats/tensor_names.h"

#include <cctype>
#include <cstring>

namespace qasr {
namespace {

#define QASR_ENC_LAYER(c, g, l) \
  { "thinker.audio_tower.layers.{i}." c, "a.blk.{i}." g, "audio.layers.{i}." l }
#define QASR_DEC_LAYER(c, g) \
  { "thinker.model.layers.{i}." c, "blk.{i}." g, "model.layers.{i}." c }

const TensorNameRow kTable[] = {
    {"thinker.audio_tower.conv2d1.weight", "a.conv1.weight", "audio.conv2d1.weight"},
    {"thinker.audio_tower.conv2d1.bias", "a.conv1.bias", "audio.conv2d1.bias"},
    {"thinker.audio_tower.conv2d2.weight", "a.conv2.weight", "audio.conv2d2.weight"},
    {"thinker.audio_tower.conv2d2.bias", "a.conv2.bias", "audio.conv2d2.bias"},
    {"thinker.audio_tower.conv2d3.weight", "a.conv3.weight", "audio.conv2d3.weight"},
    {"thinker.audio_tower.conv2d3.bias", "a.conv3.bias", "audio.conv2d3.bias"},
    {"thinker.audio_tower.conv_out.weight", "a.conv_out.weight", "audio.conv_out.weight"},
    QASR_ENC_LAYER("self_attn.q_proj.weight", "attn_q.weight", "self_attn.q_proj.weight"),
    QASR_ENC_LAYER("self_attn.q_proj.bias", "attn_q.bias", "self_attn.q_proj.bias"),
    QASR_ENC_LAYER("self_attn.k_proj.weight", "attn_k.weight", "self_attn.k_proj.weight"),
    QASR_ENC_LAYER("self_attn.k_proj.bias", "attn_k.bias", "self_attn.k_proj.bias"),
    QASR_ENC_LAYER("self_attn.v_proj.weight", "attn_v.weight", "self_attn.v_proj.weight"),
    QASR_ENC_LAYER("self_attn.v_proj.bias", "attn_v.bias", "self_attn.v_proj.bias"),
    QASR_ENC_LAYER("self_attn.out_proj.weight", "attn_out.weight", "self_attn.o_proj.weight"),
    QASR_ENC_LAYER("self_attn.out_proj.bias", "attn_out.bias", "self_attn.o_proj.bias"),
    QASR_ENC_LAYER("self_attn_layer_norm.weight", "attn_norm.weight", "input_layernorm.weight"),
    QASR_ENC_LAYER("self_attn_layer_norm.bias", "attn_norm.bias", "input_layernorm.bias"),
    QASR_ENC_LAYER("fc1.weight", "ffn_up.weight", "mlp.fc0.weight"),
    QASR_ENC_LAYER("fc1.bias", "ffn_up.bias", "mlp.fc0.bias"),
    QASR_ENC_LAYER("fc2.weight", "ffn_down.weight", "mlp.fc1.weight"),
    QASR_ENC_LAYER("fc2.bias", "ffn_down.bias", "mlp.fc1.bias"),
    QASR_ENC_LAYER("final_layer_norm.weight", "ffn_norm.weight", "post_attention_layernorm.weight"),
    QASR_ENC_LAYER("final_layer_norm.bias", "ffn_norm.bias", "post_attention_layernorm.bias"),
    {"thinker.audio_tower.ln_post.weight", "a.post_norm.weight", "audio.ln_post.weight"},
    {"thinker.audio_tower.ln_post.bias", "a.post_norm.bias", "audio.ln_post.bias"},
    {"thinker.audio_tower.proj1.weight", "a.proj1.weight", "multi_modal_projector.proj1.weight"},
    {"thinker.audio_tower.proj1.bias", "a.proj1.bias", "multi_modal_projector.proj1.bias"},
    {"thinker.audio_tower.proj2.weight", "a.proj2.weight", "multi_modal_projector.proj2.weight"},
    {"thinker.audio_tower.proj2.bias", "a.proj2.bias", "multi_modal_projector.proj2.bias"},
    {"thinker.model.embed_tokens.weight", "token_embd.weight", "model.embed_tokens.weight"},
    QASR_DEC_LAYER("input_layernorm.weight", "attn_norm.weight"),
    QASR_DEC_LAYER("self_attn.q_proj.weight", "attn_q.weight"),
    QASR_DEC_LAYER("self_attn.k_proj.weight", "attn_k.weight"),
    QASR_DEC_LAYER("self_attn.v_proj.weight", "attn_v.weight"),
    QASR_DEC_LAYER("self_attn.o_proj.weight", "attn_output.weight"),
    QASR_DEC_LAYER("self_attn.q_norm.weight", "attn_q_norm.weight"),
    QASR_DEC_LAYER("self_attn.k_norm.weight", "attn_k_norm.weight"),
    QASR_DEC_LAYER("post_attention_layernorm.weight", "ffn_norm.weight"),
    QASR_DEC_LAYER("mlp.gate_proj.weight", "ffn_gate.weight"),
    QASR_DEC_LAYER("mlp.up_proj.weight", "ffn_up.weight"),
    QASR_DEC_LAYER("mlp.down_proj.weight", "ffn_down.weight"),
    {"thinker.model.norm.weight", "output_norm.weight", "model.norm.weight"},
    {"thinker.lm_head.weight", "output.weight", "lm_head.weight"},
};
#undef QASR_ENC_LAYER
#undef QASR_DEC_LAYER

// Matches `name` against a pattern with at most one "{i}"; on success returns the
// layer digits ("" when the pattern has none).
std::optional<std::string> match(const char* pattern, const std::string& name) {
  const char* brace = std::strstr(pattern, "{i}");
  if (!brace) return name == pattern ? std::optional<std::string>("") : std::nullopt;
  const std::string prefix(pattern, brace), suffix(brace + 3);
  if (name.size() <= prefix.size() + suffix.size()) return std::nullopt;
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 4) return std::nullopt;
  for (char c : digits)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  return digits;
}

std::string fill(const char* pattern, const std::string& digits) {
  std::string s(pattern);
  size_t p = s.find("{i}");
  if (p != std::string::npos) s.replace(p, 3, digits);
  return s;
}

template <typename From, typename To>
std::optional<std::string> translate(const std::string& name, From from, To to) {
  for (const TensorNameRow& r : kTable)
    if (auto d = match(from(r), name)) return fill(to(r), *d);
  return std::nullopt;
}

const char* canon(const TensorNameRow& r) {
  return r.canonical;
}
const char* gguf(const TensorNameRow& r) {
  return r.gguf;
}
const char* chat(const TensorNameRow& r) {
  return r.chatllm;
}

}  // namespace

const TensorNameRow* tensor_name_table(int* count) {
  *count = static_cast<int>(std::size(kTable));
  return kTable;
}

std::optional<std::string> canonical_from_gguf(const std::string& n) {
  return translate(n, gguf, canon);
}
std::optional<std::string> canonical_from_chatllm(const std::string& n) {
  return translate(n, chat, canon);
}
std::optional<std::string> gguf_from_canonical(const std::string& n) {
  return translate(n, canon, gguf);
}
std::optional<std::string> chatllm_from_canonical(const std::string& n) {
  return translate(n, canon, chat);
}

}  // namespace qasr
