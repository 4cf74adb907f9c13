#include "model/tensor_specs.h"

#include <fmt/format.h>

namespace qasr {

std::vector<TensorSpec> model_tensor_specs(const ModelConfig& c, bool with_lm_head) {
  const AudioConfig& a = c.audio;
  const TextConfig& t = c.text;
  const int64_t C = a.conv_channels, d = a.d_model, F = a.freq_after_conv(), h = t.hidden, hd = t.head_dim;
  std::vector<TensorSpec> s;
  auto add = [&](std::string name, std::vector<int64_t> shape) { s.push_back({std::move(name), std::move(shape)}); };
  const std::string ap = "thinker.audio_tower.";
  add(ap + "conv2d1.weight", {C, 1, 3, 3});
  add(ap + "conv2d1.bias", {C});
  add(ap + "conv2d2.weight", {C, C, 3, 3});
  add(ap + "conv2d2.bias", {C});
  add(ap + "conv2d3.weight", {C, C, 3, 3});
  add(ap + "conv2d3.bias", {C});
  add(ap + "conv_out.weight", {d, C * F});
  for (int i = 0; i < a.layers; ++i) {
    const std::string p = ap + fmt::format("layers.{}.", i);
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      add(p + "self_attn." + n + ".weight", {d, d});
      add(p + "self_attn." + n + ".bias", {d});
    }
    add(p + "self_attn_layer_norm.weight", {d});
    add(p + "self_attn_layer_norm.bias", {d});
    add(p + "fc1.weight", {a.ffn, d});
    add(p + "fc1.bias", {a.ffn});
    add(p + "fc2.weight", {d, a.ffn});
    add(p + "fc2.bias", {d});
    add(p + "final_layer_norm.weight", {d});
    add(p + "final_layer_norm.bias", {d});
  }
  add(ap + "ln_post.weight", {d});
  add(ap + "ln_post.bias", {d});
  add(ap + "proj1.weight", {d, d});
  add(ap + "proj1.bias", {d});
  add(ap + "proj2.weight", {a.output_dim, d});
  add(ap + "proj2.bias", {a.output_dim});
  add("thinker.model.embed_tokens.weight", {t.vocab, h});
  for (int i = 0; i < t.layers; ++i) {
    const std::string p = fmt::format("thinker.model.layers.{}.", i);
    add(p + "input_layernorm.weight", {h});
    add(p + "post_attention_layernorm.weight", {h});
    add(p + "self_attn.q_proj.weight", {t.heads * hd, h});
    add(p + "self_attn.k_proj.weight", {t.kv_heads * hd, h});
    add(p + "self_attn.v_proj.weight", {t.kv_heads * hd, h});
    add(p + "self_attn.o_proj.weight", {h, t.heads * hd});
    add(p + "self_attn.q_norm.weight", {hd});
    add(p + "self_attn.k_norm.weight", {hd});
    add(p + "mlp.gate_proj.weight", {t.intermediate, h});
    add(p + "mlp.up_proj.weight", {t.intermediate, h});
    add(p + "mlp.down_proj.weight", {h, t.intermediate});
  }
  add("thinker.model.norm.weight", {h});
  if (with_lm_head || c.kind == ModelKind::kForcedAligner) add("thinker.lm_head.weight", {c.head_rows(), h});
  return s;
}

}  // namespace qasr
