#include "pipeline/transcribe.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/io.h"
#include "base/npy.h"
#include "base/utf8.h"
#include "model/forward.h"
#include "text/output_parser.h"
#include "text/prompt.h"

namespace qasr {
namespace {

int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;  // first maximum, as torch.argmax
  return static_cast<int32_t>(best);
}

// Streams the transcript part of the generated text in whole UTF-8 characters.
// Buffers are reserved once; no allocation per token.
class TextStreamer {
 public:
  TextStreamer(const Tokenizer& tok, int32_t asr_text_id, bool forced, const TextCallback& cb)
      : tok_(tok), asr_text_(asr_text_id), active_(forced), cb_(cb) {
    pending_.reserve(4096);
  }
  void push(int32_t id) {
    if (!cb_) return;
    if (!active_) {
      if (id == asr_text_) active_ = true;
      return;
    }
    if (tok_.is_special(id)) return;
    pending_.append(tok_.token_bytes(id));
    const size_t n = utf8::complete_prefix(pending_);
    if (n > 0) {
      // Emit exactly what the final decode produces for these bytes.
      if (leading_) {  // the transcript is stripped: hold back leading spaces
        size_t k = 0;
        while (k < n && (pending_[k] == ' ' || pending_[k] == '\n')) ++k;
        pending_.erase(0, k);
        if (pending_.empty() || k == n) return;
        leading_ = false;
        emit(utf8::complete_prefix(pending_));
        return;
      }
      emit(n);
    }
  }

 private:
  void emit(size_t n) {
    cb_(std::string_view(pending_).substr(0, n));
    pending_.erase(0, n);
  }
  const Tokenizer& tok_;
  int32_t asr_text_;
  bool active_;
  bool leading_ = true;
  const TextCallback& cb_;
  std::string pending_;
};

}  // namespace

Expected<Transcript> transcribe(Session& s, ThreadPool& pool, const Pcm16k& audio, const TranscribeOptions& o,
                                const TextCallback& on_text) {
  const Model& m = s.model();
  const TextConfig& tc = m.config().text;
  Transcript r;
  if (o.max_new_tokens < 1 || o.max_new_tokens > s.limits().max_new_tokens)
    return InvalidArgument(fmt::format("max_new_tokens must be in [1, {}], got {}", s.limits().max_new_tokens, o.max_new_tokens));
  if (audio.seconds() > s.limits().max_audio_seconds)
    return TooLarge(fmt::format("audio is {:.1f} s long; the limit for one pass is {:.0f} s (splitting long audio is not implemented yet)",
                                     audio.seconds(), s.limits().max_audio_seconds));
  const double t_start = now_ms();

  // 1. Log-mel.
  auto mel = m.mel().compute(audio.samples);
  if (!mel.ok()) return mel.status();
  const double t_mel = now_ms();

  // 2. Encoder.
  const int64_t n_audio = encode_audio(m, s, pool, *mel);
  r.n_audio_tokens = n_audio;
  const double t_enc = now_ms();

  // 3. Prompt: rows of <|audio_pad|> take the encoder outputs (spec §4.4).
  auto prompt = build_prompt(m.tokenizer(), m.special(), static_cast<int32_t>(n_audio), o.context, o.language);
  if (!prompt.ok()) return prompt.status();
  const int64_t L = static_cast<int64_t>(prompt->ids.size());
  if (L > s.max_prompt_tokens())
    return TooLarge(fmt::format("prompt of {} tokens exceeds the session limit of {} (context too long?)", L,
                                     s.max_prompt_tokens()));
  r.prompt_ids = prompt->ids;
  const int64_t h = tc.hidden;
  for (int64_t i = 0; i < L; ++i) {
    if (i >= prompt->audio_offset && i < prompt->audio_offset + n_audio)
      std::copy_n(s.enc.out + (i - prompt->audio_offset) * h, h, s.dec.x + i * h);
    else
      embed_token(m, prompt->ids[i], s.dec.x + i * h);
  }

  // 4. Prefill, logits at the last prompt position → first token.
  decoder_forward(m, s, pool, 0, L);
  decoder_logits(m, s, pool, s.dec.x + (L - 1) * h);
  if (!o.dump_dir.empty()) {
    QASR_RETURN_IF_ERROR(write_npy_f32(o.dump_dir + "/mel.npy", mel->data.data(), {mel->n_mels, mel->n_frames}));
    QASR_RETURN_IF_ERROR(write_npy_f32(o.dump_dir + "/encoder_out.npy", s.enc.out, {n_audio, h}));
    QASR_RETURN_IF_ERROR(write_npy_f32(o.dump_dir + "/logits_step0.npy", s.dec.logits, {tc.vocab}));
    std::string ids = "[";
    for (size_t i = 0; i < prompt->ids.size(); ++i) ids += (i ? ", " : "") + std::to_string(prompt->ids[i]);
    QASR_RETURN_IF_ERROR(write_file(o.dump_dir + "/prompt_ids.json", ids + "]\n"));
  }
  const auto& stops = m.special().stop_ids;
  auto is_stop = [&](int32_t id) { return std::find(stops.begin(), stops.end(), id) != stops.end(); };
  TextStreamer streamer(m.tokenizer(), m.special().asr_text, !o.language.empty(), on_text);
  int32_t next = argmax(s.dec.logits, tc.vocab);
  const double t_first = now_ms();

  // 5. Greedy decoding, one token at a time.
  int n_gen = 0;
  while (n_gen < o.max_new_tokens) {
    if (!o.ignore_eos && is_stop(next)) break;
    s.generated[n_gen++] = next;
    streamer.push(next);
    if (n_gen == o.max_new_tokens) break;
    embed_token(m, next, s.dec.x);
    decoder_forward(m, s, pool, L + n_gen - 1, 1);
    decoder_logits(m, s, pool, s.dec.x);
    next = argmax(s.dec.logits, tc.vocab);
  }
  const double t_end = now_ms();

  // 6. Text and parsing (spec §5.4).
  r.token_ids.assign(s.generated, s.generated + n_gen);
  r.raw = m.tokenizer().decode(r.token_ids);
  AsrOutput parsed = parse_asr_output(r.raw, o.language);
  r.text = std::move(parsed.text);
  r.language = std::move(parsed.language);
  r.timings.mel = t_mel - t_start;
  r.timings.encoder = t_enc - t_mel;
  r.timings.prefill = t_first - t_enc;
  r.timings.decode = t_end - t_first;
  r.timings.first_token = t_first - t_start;
  r.timings.total = t_end - t_start;
  return r;
}

}  // namespace qasr
