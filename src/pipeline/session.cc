#include "pipeline/session.h"

#include <algorithm>

#include <fmt/format.h>

namespace qasr {

Expected<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, const SessionLimits& limits) {
  if (!model) return InvalidArgument("no model");
  if (limits.max_audio_seconds <= 0 || limits.max_new_tokens <= 0 || limits.max_context_tokens < 0)
    return InvalidArgument("session limits must be positive");
  std::unique_ptr<Session> s(new Session());
  s->model_ = model;
  s->limits_ = limits;
  const AudioConfig& a = model->config().audio;
  const TextConfig& t = model->config().text;
  const int64_t frames = static_cast<int64_t>(limits.max_audio_seconds * 100.0) + 1;
  s->max_audio_tokens_ = audio_token_count(a, frames);
  // system/user/assistant scaffolding (15) + "language X<asr_text>" (≤ 8) + context + audio.
  s->max_prompt_tokens_ = 32 + limits.max_context_tokens + s->max_audio_tokens_;
  s->max_positions_ = s->max_prompt_tokens_ + limits.max_new_tokens;
  if (s->max_positions_ > t.max_position)
    return TooLarge(fmt::format("session limits need {} positions but the model supports {}", s->max_positions_,
                                     t.max_position));

  // Lay every buffer out in one reservation.
  const int64_t N = s->max_audio_tokens_, d = a.d_model, C = a.conv_channels, chunk = a.chunk_frames();
  const int64_t H1 = (a.num_mel_bins + 1) / 2, W1 = (chunk + 1) / 2, H2 = (H1 + 1) / 2, W2 = (W1 + 1) / 2,
                H3 = (H2 + 1) / 2, W3 = (W2 + 1) / 2;
  const int64_t L = s->max_prompt_tokens_, h = t.hidden, hd = t.head_dim;
  std::vector<std::pair<float**, int64_t>> plan = {
      {&s->enc.x, N * d}, {&s->enc.ln, N * d}, {&s->enc.q, N * d}, {&s->enc.k, N * d}, {&s->enc.v, N * d},
      {&s->enc.attn, N * d}, {&s->enc.ffn, N * std::max<int64_t>(a.ffn, d)}, {&s->enc.out, N * a.output_dim},
      {&s->enc.conv_in, a.num_mel_bins * chunk},
      {&s->enc.col, std::max({H1 * W1 * 9, H2 * W2 * C * 9, H3 * W3 * C * 9})},
      {&s->enc.a1, H1 * W1 * C}, {&s->enc.a2, H2 * W2 * C}, {&s->enc.a3, H3 * W3 * C},
      {&s->enc.feat, W3 * C * H3}, {&s->enc.chunk_out, W3 * d},
      {&s->dec.x, L * h}, {&s->dec.a, L * h}, {&s->dec.q, L * t.heads * hd}, {&s->dec.k, L * t.kv_heads * hd},
      {&s->dec.v, L * t.kv_heads * hd}, {&s->dec.attn, L * t.heads * hd}, {&s->dec.o, L * h},
      {&s->dec.gate, L * t.intermediate}, {&s->dec.up, L * t.intermediate}, {&s->dec.logits, t.vocab},
      {&s->dec.rope_cos, L * hd / 2}, {&s->dec.rope_sin, L * hd / 2},
  };
  size_t total = 0;
  for (auto& [ptr, n] : plan) total += ((static_cast<size_t>(n) * sizeof(float) + 63) / 64) * 64;
  total += static_cast<size_t>(limits.max_new_tokens) * sizeof(int32_t) + 64;
  QASR_ASSIGN_OR_RETURN(s->scratch_, VirtualBuffer::reserve(total));
  char* p = s->scratch_.as<char>();
  for (auto& [ptr, n] : plan) {
    *ptr = reinterpret_cast<float*>(p);
    p += ((static_cast<size_t>(n) * sizeof(float) + 63) / 64) * 64;
  }
  s->generated = reinterpret_cast<int32_t*>(p);
  // f16 keys and values by default (as ggml's cache): half the memory of f32.
  const size_t kv_elems = static_cast<size_t>(t.layers) * s->max_positions_ * t.kv_heads * hd;
  QASR_ASSIGN_OR_RETURN(s->kv_, VirtualBuffer::reserve(2 * kv_elems * (limits.kv_f16 ? 2 : 4)));
  if (limits.kv_f16) {
    s->dec.k16 = s->kv_.as<uint16_t>();
    s->dec.v16 = s->dec.k16 + kv_elems;
  } else {
    s->dec.k32 = s->kv_.as<float>();
    s->dec.v32 = s->dec.k32 + kv_elems;
  }
  return s;
}

void Session::reset() {
  scratch_.release_pages();
  kv_.release_pages();
}

size_t Session::reserved_bytes() const { return scratch_.size() + kv_.size(); }

}  // namespace qasr
