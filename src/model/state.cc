#include "model/state.h"

#include <algorithm>

#include "base/buffer_plan.h"
#include "kernels/ops.h"

namespace qasr {

Expected<EncoderScratch> EncoderScratch::create(const AudioConfig& a, int64_t max_tokens) {
  EncoderScratch s;
  s.max_tokens = max_tokens;
  const int64_t N = max_tokens, d = a.d_model, C = a.conv_channels, chunk = a.chunk_frames();
  // The conv stem's shapes for one full chunk, as the encoder computes them.
  const int64_t H1 = conv_out_len(a.num_mel_bins), W1 = conv_out_len(chunk);
  const int64_t H2 = conv_out_len(H1), W2 = conv_out_len(W1), H3 = conv_out_len(H2), W3 = conv_out_len(W2);
  BufferPlan p;
  for (float** b : {&s.x, &s.ln, &s.q, &s.k, &s.v, &s.attn}) p.add(b, N * d);
  p.add(&s.ffn, N * std::max<int64_t>(a.ffn, d));
  p.add(&s.out, N * a.output_dim);
  p.add(&s.conv_in, a.num_mel_bins * chunk);
  p.add(&s.col, std::max({H1 * W1 * 9, H2 * W2 * C * 9, H3 * W3 * C * 9}));
  p.add(&s.a1, H1 * W1 * C);
  p.add(&s.a2, H2 * W2 * C);
  p.add(&s.a3, H3 * W3 * C);
  p.add(&s.feat, kConvOutChunks * W3 * C * H3);
  QASR_ASSIGN_OR_RETURN(s.mem_, p.reserve());
  return s;
}

Expected<KvCache> KvCache::create(const TextConfig& t, int64_t max_positions, bool f16) {
  KvCache c;
  c.kv_heads_ = t.kv_heads;
  c.head_dim_ = t.head_dim;
  c.max_positions_ = max_positions;
  const int64_t elems = static_cast<int64_t>(t.layers) * max_positions * t.kv_heads * t.head_dim;
  BufferPlan p;
  if (f16) {
    p.add(&c.k16_, elems);
    p.add(&c.v16_, elems);
  } else {
    p.add(&c.k32_, elems);
    p.add(&c.v32_, elems);
  }
  QASR_ASSIGN_OR_RETURN(c.mem_, p.reserve());
  return c;
}

void KvCache::store(int layer, int64_t kh, int64_t pos, const float* k, const float* v) {
  const size_t at = layer_offset(layer) + static_cast<size_t>(kh * head_stride() + pos * head_dim_);
  if (k16_) {
    ops::to_f16_row(k, head_dim_, k16_ + at);
    ops::to_f16_row(v, head_dim_, v16_ + at);
  } else {
    std::copy_n(k, head_dim_, k32_ + at);
    std::copy_n(v, head_dim_, v32_ + at);
  }
}

Expected<DecoderState> DecoderState::create(const ModelConfig& c, int64_t max_rows, int64_t max_positions,
                                            bool kv_f16) {
  const TextConfig& t = c.text;
  DecoderState s;
  s.max_rows = max_rows;
  const int64_t R = max_rows, h = t.hidden, hd = t.head_dim;
  BufferPlan p;
  p.add(&s.x, R * h);
  p.add(&s.a, R * h);
  p.add(&s.q, R * t.heads * hd);
  p.add(&s.k, R * t.kv_heads * hd);
  p.add(&s.v, R * t.kv_heads * hd);
  p.add(&s.attn, R * t.heads * hd);
  p.add(&s.o, R * h);
  p.add(&s.gate, R * t.intermediate);
  p.add(&s.up, R * t.intermediate);
  p.add(&s.logits, c.head_rows());
  p.add(&s.probs, c.head_rows());
  p.add(&s.rope_cos, R * hd / 2);
  p.add(&s.rope_sin, R * hd / 2);
  QASR_ASSIGN_OR_RETURN(s.mem_, p.reserve());
  QASR_ASSIGN_OR_RETURN(s.kv, KvCache::create(t, max_positions, kv_f16));
  return s;
}

}  // namespace qasr
