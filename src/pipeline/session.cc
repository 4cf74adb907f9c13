#include "pipeline/session.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/buffer_plan.h"

namespace qasr {

SessionLimits SessionLimits::for_audio(double audio_seconds, int max_new_tokens) {
  SessionLimits l;
  l.max_audio_seconds = std::max(30.0, audio_seconds + 1);
  l.max_new_tokens = max_new_tokens;
  return l;
}

Expected<std::unique_ptr<Session>> Session::create(const std::shared_ptr<const Model>& model,
                                                   const SessionLimits& limits) {
  if (!model) return InvalidArgument("no model");
  if (!std::isfinite(limits.max_audio_seconds) || limits.max_audio_seconds <= 0 || limits.max_new_tokens <= 0 ||
      limits.max_context_tokens < 0 || limits.prefill_rows < 1)
    return InvalidArgument("session limits must be positive and finite");
  const ModelConfig& c = model->config();
  const TextConfig& t = c.text;
  // Checked in doubles first: a huge limit must fail here, not overflow below.
  const double frames_d = limits.max_audio_seconds * 100.0 + 1;
  const double positions_d = frames_d * 0.13 + 13 + limits.max_context_tokens + limits.max_new_tokens + 32;
  if (positions_d > t.max_position)
    return TooLarge(
        fmt::format("session limits ({:.0f} s of audio, {} new tokens) need about {:.0f} positions but the "
                    "model supports {}",
                    limits.max_audio_seconds, limits.max_new_tokens, positions_d, t.max_position));
  std::unique_ptr<Session> s(new Session());
  s->model_ = model;
  s->limits_ = limits;
  const int64_t max_audio_tokens = audio_token_count(c.audio, static_cast<int64_t>(frames_d));
  // system/user/assistant scaffolding (15) + "language X<asr_text>" (≤ 8) + context + audio.
  const int64_t max_prompt = 32 + limits.max_context_tokens + max_audio_tokens;
  const int64_t max_positions = max_prompt + limits.max_new_tokens;
  if (max_positions > t.max_position)
    return TooLarge(
        fmt::format("session limits need {} positions but the model supports {}", max_positions, t.max_position));
  QASR_ASSIGN_OR_RETURN(s->enc, EncoderScratch::create(c.audio, max_audio_tokens));
  // Decoder rows: the prompt is prefilled in chunks of at most prefill_rows.
  s->max_prompt_ = max_prompt;
  QASR_ASSIGN_OR_RETURN(
      s->dec, DecoderState::create(c, std::min(max_prompt, limits.prefill_rows), max_positions, limits.kv_f16));
  BufferPlan gen;
  gen.add(&s->generated, limits.max_new_tokens);
  gen.add(&s->generated_logprobs, limits.max_new_tokens);
  QASR_ASSIGN_OR_RETURN(s->generated_, gen.reserve());
  return s;
}

void Session::reset() {
  enc.release_pages();
  dec.release_pages();
  generated_.release_pages();
}

}  // namespace qasr
