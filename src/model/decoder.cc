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

void decoder_forward(const Model& m, Session& s, ThreadPool& pool, int64_t pos0, int64_t L) {
  const TextConfig& t = m.config().text;
  const DecoderWeights& w = m.decoder();
  auto& b = s.dec;
  const int64_t h = t.hidden, hd = t.head_dim, H = t.heads, KV = t.kv_heads, group = H / KV;
  const int64_t kvw = KV * hd, P = s.max_positions();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (size_t li = 0; li < w.layers.size(); ++li) {
    const DecoderLayerWeights& l = w.layers[li];
    float* kc = b.k_cache + li * P * kvw;  // [pos][KV·hd]
    float* vc = b.v_cache + li * P * kvw;
    // Attention block.
    ops::rms_norm(b.x, L, h, l.in_norm, t.rms_eps, b.a);
    ops::matmul(pool, b.a, L, l.q, nullptr, b.q);
    ops::matmul(pool, b.a, L, l.k, nullptr, b.k);
    ops::matmul(pool, b.a, L, l.v, nullptr, b.v);
    for (int64_t i = 0; i < L; ++i) {
      for (int64_t hh = 0; hh < H; ++hh) {
        float* q = b.q + i * H * hd + hh * hd;
        ops::rms_norm(q, 1, hd, l.q_norm, t.rms_eps, q);
        ops::rope_neox(q, static_cast<int>(hd), pos0 + i, w.inv_freq.data());
      }
      for (int64_t kh = 0; kh < KV; ++kh) {
        float* k = b.k + i * kvw + kh * hd;
        ops::rms_norm(k, 1, hd, l.k_norm, t.rms_eps, k);
        ops::rope_neox(k, static_cast<int>(hd), pos0 + i, w.inv_freq.data());
      }
      std::copy_n(b.k + i * kvw, kvw, kc + (pos0 + i) * kvw);
      std::copy_n(b.v + i * kvw, kvw, vc + (pos0 + i) * kvw);
    }
    // Causal attention: row i sees positions [0, pos0 + i]. Query head hh uses KV head hh / group.
    pool.parallel_for(L * H, 1, [&](int64_t jb, int64_t je, int t) {
      float* scores = static_cast<float*>(pool.scratch(t, 2, static_cast<size_t>(P) * sizeof(float)));
      for (int64_t job = jb; job < je; ++job) {
        const int64_t i = job / H, hh = job % H, kh = hh / group, n = pos0 + i + 1;
        const float* q = b.q + i * H * hd + hh * hd;
        for (int64_t j = 0; j < n; ++j) {
          const float* k = kc + j * kvw + kh * hd;
          float acc = 0;
          for (int64_t c = 0; c < hd; ++c) acc += q[c] * k[c];
          scores[j] = acc * scale;
        }
        ops::softmax_inplace(scores, n);
        float* o = b.attn + i * H * hd + hh * hd;
        std::fill(o, o + hd, 0.0f);
        for (int64_t j = 0; j < n; ++j) {
          const float p = scores[j];
          const float* v = vc + j * kvw + kh * hd;
          for (int64_t c = 0; c < hd; ++c) o[c] += p * v[c];
        }
      }
    });
    ops::matmul(pool, b.attn, L, l.o, nullptr, b.o);
    ops::add_inplace(b.x, b.o, L * h);
    // MLP block.
    ops::rms_norm(b.x, L, h, l.post_norm, t.rms_eps, b.a);
    ops::matmul(pool, b.a, L, l.gate, nullptr, b.gate);
    ops::matmul(pool, b.a, L, l.up, nullptr, b.up);
    ops::swiglu(b.gate, b.up, L * t.intermediate, b.gate);
    ops::matmul(pool, b.gate, L, l.down, nullptr, b.o);
    ops::add_inplace(b.x, b.o, L * h);
  }
}

void decoder_logits(const Model& m, Session& s, ThreadPool& pool, const float* hidden) {
  const TextConfig& t = m.config().text;
  ops::rms_norm(hidden, 1, t.hidden, m.decoder().norm, t.rms_eps, s.dec.a);
  ops::matmul(pool, s.dec.a, 1, m.decoder().lm_head, nullptr, s.dec.logits);
}

}  // namespace qasr
