// Qwen3 text decoder (spec §4.2): pre-norm layers with per-head q/k RMSNorm before
// NeoX RoPE, GQA causal attention over the KV cache, SwiGLU MLP; tied lm_head.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ops.h"
#include "model/forward.h"

namespace qasr {

void embed_token(const Model& m, int32_t id, float* out) {
  const Mat& e = m.decoder().embed;
  to_f32(e.dtype, e.data, static_cast<size_t>(id) * e.cols, e.cols, out);
}

Status decoder_forward(const Model& m, DecoderState& b, ThreadPool& pool, int64_t pos0, int64_t L,
                       const RunControl& ctl) {
  const TextConfig& t = m.config().text;
  const DecoderWeights& w = m.decoder();
  const int64_t h = t.hidden, hd = t.head_dim, H = t.heads, KV = t.kv_heads;
  const int64_t kvw = KV * hd, P = b.kv.max_positions();
  QASR_CHECK(L <= b.max_rows && pos0 + L <= P) << L << " rows at " << pos0;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // cos/sin of every row's position, once for all heads and layers.
  for (int64_t i = 0; i < L; ++i)
    ops::rope_table(static_cast<int>(hd), pos0 + i, w.inv_freq.data(), b.rope_cos + i * hd / 2,
                    b.rope_sin + i * hd / 2);
  for (size_t li = 0; li < w.layers.size(); ++li) {
    QASR_RETURN_IF_ERROR(ctl.check());
    if (L > 1) ctl.report("prefill", static_cast<int64_t>(li), static_cast<int64_t>(w.layers.size()));
    const DecoderLayerWeights& l = w.layers[li];
    const int layer = static_cast<int>(li);
    // Attention block.
    ops::rms_norm(b.x, L, h, l.in_norm, t.rms_eps, b.a);
    ops::matmul_group(pool, b.a, L, {{&l.q, b.q}, {&l.k, b.k}, {&l.v, b.v}});
    for (int64_t i = 0; i < L; ++i) {
      const float* rc = b.rope_cos + i * hd / 2;
      const float* rs = b.rope_sin + i * hd / 2;
      for (int64_t hh = 0; hh < H; ++hh) {
        float* q = b.q + i * H * hd + hh * hd;
        ops::rms_norm(q, 1, hd, l.q_norm, t.rms_eps, q);
        ops::rope_neox_table(q, static_cast<int>(hd), rc, rs);
      }
      for (int64_t kh = 0; kh < KV; ++kh) {
        float* k = b.k + i * kvw + kh * hd;
        ops::rms_norm(k, 1, hd, l.k_norm, t.rms_eps, k);
        ops::rope_neox_table(k, static_cast<int>(hd), rc, rs);
      }
      for (int64_t kh = 0; kh < KV; ++kh)
        b.kv.store(layer, kh, pos0 + i, b.k + i * kvw + kh * hd, b.v + i * kvw + kh * hd);
    }
    // Causal attention over the cache: row i sees positions [0, pos0 + i]. The cache is
    // [KV head][pos][hd] per layer: one head's keys are contiguous, so decode reads them
    // as one stream (a [pos][KV·hd] layout put 4 KiB between a head's keys).
    const int64_t hs = b.kv.head_stride();
    if (b.kv.f16())
      ops::attention_f16kv(pool, b.q, H * hd, L, b.kv.k16(layer), b.kv.v16(layer), hd, hs, pos0 + L, H, KV, hd, scale,
                           pos0, b.attn, H * hd, P);
    else
      ops::attention(pool, b.q, H * hd, L, b.kv.k32(layer), b.kv.v32(layer), hd, hs, pos0 + L, H, KV, hd, scale, pos0,
                     b.attn, H * hd, P);
    ops::matmul(pool, b.attn, L, l.o, nullptr, b.o);
    ops::add_inplace(b.x, b.o, L * h);
    // MLP block.
    ops::rms_norm(b.x, L, h, l.post_norm, t.rms_eps, b.a);
    ops::matmul_group(pool, b.a, L, {{&l.gate, b.gate}, {&l.up, b.up}});
    ops::swiglu(pool, b.gate, b.up, L * t.intermediate, b.gate);
    ops::matmul(pool, b.gate, L, l.down, nullptr, b.o);
    ops::add_inplace(b.x, b.o, L * h);
  }
  return Status::Ok();
}

void decoder_logits(const Model& m, DecoderState& s, ThreadPool& pool, const float* hidden) {
  const TextConfig& t = m.config().text;
  ops::rms_norm(hidden, 1, t.hidden, m.decoder().norm, t.rms_eps, s.a);
  ops::matmul(pool, s.a, 1, m.decoder().lm_head, nullptr, s.logits);
}

}  // namespace qasr
