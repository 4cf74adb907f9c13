#include "model/model.h"

#include <sys/stat.h>

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "base/memory.h"
#include "model/tensor_specs.h"

namespace qasr {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

// Looks tensors up by name and checks their shapes against the specs from the config
// (model/tensor_specs.h: the one list of names and shapes).
struct Binder {
  const std::map<std::string, TensorView>& tensors;
  std::map<std::string, std::vector<int64_t>> expected;  // name → shape from the specs
  std::vector<std::unique_ptr<std::vector<float>>>& small;
  Status status = Status::Ok();
  std::set<std::string> used;

  const TensorView* get(const std::string& name) {
    if (!status.ok()) return nullptr;
    auto want = expected.find(name);
    QASR_CHECK(want != expected.end()) << "no spec for tensor " << name;
    const std::vector<int64_t>& shape = want->second;
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      status = InvalidFormat(fmt::format("missing tensor '{}' (expected shape {})", name, shape_str(shape)));
      return nullptr;
    }
    if (it->second.shape != shape) {
      status = InvalidFormat(fmt::format("tensor '{}' has shape {}, expected {} from the config", name,
                                         shape_str(it->second.shape), shape_str(shape)));
      return nullptr;
    }
    used.insert(name);
    return &it->second;
  }
  Mat mat(const std::string& name) {
    const TensorView* t = get(name);
    return t ? Mat{t->dtype, t->shape[0], t->numel() / t->shape[0], t->data} : Mat{};
  }
  const float* vec(const std::string& name) {
    const TensorView* t = get(name);
    if (!t) return nullptr;
    if (is_quantized(t->dtype)) {
      status =
          InvalidFormat(fmt::format("tensor '{}' is {}; vectors must be F32, F16 or BF16", name, dtype_name(t->dtype)));
      return nullptr;
    }
    auto v = std::make_unique<std::vector<float>>(t->numel());
    to_f32(t->dtype, t->data, 0, static_cast<size_t>(t->numel()), v->data());
    small.push_back(std::move(v));
    return small.back()->data();
  }
};

}  // namespace

size_t Model::owned_bytes() const {
  size_t n = 0;
  for (const auto& v : small_) n += v->size() * sizeof(float);
  n += enc_.pos_emb.size() * sizeof(float) + dec_.inv_freq.size() * sizeof(float);
  return n;
}

int64_t Model::resident_bytes() const {
  int64_t n = static_cast<int64_t>(owned_bytes());
  for (const auto& f : src_.files) n += resident_bytes_of(f->data(), f->size());
  return n;
}

Expected<std::shared_ptr<const Model>> Model::load(const std::string& path, const LoadOptions& opts) {
  std::shared_ptr<Model> m(new Model());
  SourceOptions so;
  so.populate = opts.populate;
  so.mlock = opts.mlock;
  auto src = open_model_source(path, so);
  if (!src.ok()) return src.status();
  m->src_ = std::move(src).value();
  MelConfig mc;
  mc.n_mels = m->src_.config.audio.num_mel_bins;
  m->mel_ = std::make_unique<MelExtractor>(mc);

  const ModelConfig& cfg = m->src_.config;
  const AudioConfig& a = cfg.audio;
  const TextConfig& t = cfg.text;
  Binder b{m->src_.tensors, {}, m->small_, Status::Ok(), {}};
  for (TensorSpec& spec : model_tensor_specs(cfg, /*with_lm_head=*/true)) b.expected.emplace(spec.name, spec.shape);
  EncoderWeights& e = m->enc_;
  const std::string ap = "thinker.audio_tower.";
  const int64_t d = a.d_model;
  // Conv kernels [C][Cin][3][3] are used as [C][Cin·9].
  e.conv1 = b.mat(ap + "conv2d1.weight");
  e.conv1_b = b.vec(ap + "conv2d1.bias");
  e.conv2 = b.mat(ap + "conv2d2.weight");
  e.conv2_b = b.vec(ap + "conv2d2.bias");
  e.conv3 = b.mat(ap + "conv2d3.weight");
  e.conv3_b = b.vec(ap + "conv2d3.bias");
  e.conv_out = b.mat(ap + "conv_out.weight");
  for (int i = 0; i < a.layers; ++i) {
    const std::string p = ap + fmt::format("layers.{}.", i);
    EncoderLayerWeights l;
    l.ln1_g = b.vec(p + "self_attn_layer_norm.weight");
    l.ln1_b = b.vec(p + "self_attn_layer_norm.bias");
    l.q = b.mat(p + "self_attn.q_proj.weight");
    l.q_b = b.vec(p + "self_attn.q_proj.bias");
    l.k = b.mat(p + "self_attn.k_proj.weight");
    l.k_b = b.vec(p + "self_attn.k_proj.bias");
    l.v = b.mat(p + "self_attn.v_proj.weight");
    l.v_b = b.vec(p + "self_attn.v_proj.bias");
    l.o = b.mat(p + "self_attn.out_proj.weight");
    l.o_b = b.vec(p + "self_attn.out_proj.bias");
    l.ln2_g = b.vec(p + "final_layer_norm.weight");
    l.ln2_b = b.vec(p + "final_layer_norm.bias");
    l.fc1 = b.mat(p + "fc1.weight");
    l.fc1_b = b.vec(p + "fc1.bias");
    l.fc2 = b.mat(p + "fc2.weight");
    l.fc2_b = b.vec(p + "fc2.bias");
    e.layers.push_back(l);
  }
  e.ln_post_g = b.vec(ap + "ln_post.weight");
  e.ln_post_b = b.vec(ap + "ln_post.bias");
  e.proj1 = b.mat(ap + "proj1.weight");
  e.proj1_b = b.vec(ap + "proj1.bias");
  e.proj2 = b.mat(ap + "proj2.weight");
  e.proj2_b = b.vec(ap + "proj2.bias");

  DecoderWeights& dw = m->dec_;
  const int64_t hd = t.head_dim;
  dw.embed = b.mat("thinker.model.embed_tokens.weight");
  if (cfg.kind == ModelKind::kForcedAligner || m->src_.separate_lm_head) {
    // The aligner's timestamp classifier [classify_num][h], or the file's own output
    // matrix (chatllm).
    dw.lm_head = b.mat("thinker.lm_head.weight");
  } else {
    dw.lm_head = dw.embed;  // tied (spec §4.5): a stored lm_head copy, if any, is checked but not used
    if (m->src_.tensors.count("thinker.lm_head.weight")) b.mat("thinker.lm_head.weight");
  }
  for (int i = 0; i < t.layers; ++i) {
    const std::string p = fmt::format("thinker.model.layers.{}.", i);
    DecoderLayerWeights l;
    l.in_norm = b.vec(p + "input_layernorm.weight");
    l.post_norm = b.vec(p + "post_attention_layernorm.weight");
    l.q = b.mat(p + "self_attn.q_proj.weight");
    l.k = b.mat(p + "self_attn.k_proj.weight");
    l.v = b.mat(p + "self_attn.v_proj.weight");
    l.o = b.mat(p + "self_attn.o_proj.weight");
    l.q_norm = b.vec(p + "self_attn.q_norm.weight");
    l.k_norm = b.vec(p + "self_attn.k_norm.weight");
    l.gate = b.mat(p + "mlp.gate_proj.weight");
    l.up = b.mat(p + "mlp.up_proj.weight");
    l.down = b.mat(p + "mlp.down_proj.weight");
    dw.layers.push_back(l);
  }
  dw.norm = b.vec("thinker.model.norm.weight");
  if (!b.status.ok()) return b.status.annotate("'" + path + "'");
  for (const auto& [name, tv] : m->src_.tensors)
    if (!b.used.count(name))
      return InvalidFormat(
          fmt::format("'{}': unexpected tensor '{}' (not part of a model with this config)", path, name));

  // Sinusoid positions per chunk (spec §3.4): inc = ln(10000)/(half − 1).
  const int tokens_per_chunk = static_cast<int>(a.tokens_per_chunk());
  const int half = a.d_model / 2;
  const double inc = std::log(10000.0) / (half - 1);
  e.pos_emb.resize(static_cast<size_t>(tokens_per_chunk) * d);
  for (int p = 0; p < tokens_per_chunk; ++p)
    for (int j = 0; j < half; ++j) {
      const float inv = static_cast<float>(std::exp(-inc * j));
      const float ang = static_cast<float>(p) * inv;
      e.pos_emb[p * d + j] = std::sin(ang);
      e.pos_emb[p * d + half + j] = std::cos(ang);
    }
  // RoPE: inv_freq_j = theta^(−2j/hd) in fp32.
  dw.inv_freq.resize(hd / 2);
  for (int j = 0; j < hd / 2; ++j)
    dw.inv_freq[j] = static_cast<float>(1.0 / std::pow(t.rope_theta, 2.0 * j / static_cast<double>(hd)));
  return std::shared_ptr<const Model>(std::move(m));
}

}  // namespace qasr
