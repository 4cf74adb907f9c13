#include "pipeline/transcribe.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/io.h"
#include "base/npy.h"
#include "base/utf8.h"
#include "kernels/ops.h"
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
// Buffers are reserved once; no allocation per token. push() returns false when the
// callback asked to stop.
class TextStreamer {
 public:
  TextStreamer(const Tokenizer& tok, int32_t asr_text_id, bool forced, const TextCallback& cb)
      : tok_(tok), asr_text_(asr_text_id), active_(forced), cb_(cb) {
    pending_.reserve(4096);
  }
  bool push(int32_t id) {
    if (!cb_) return true;
    if (!active_) {
      if (id == asr_text_) active_ = true;
      return true;
    }
    if (tok_.is_special(id)) return true;
    pending_.append(tok_.token_bytes(id));
    const size_t n = utf8::complete_prefix(pending_);
    if (n == 0) return true;
    if (leading_) {  // the transcript is stripped: hold back leading spaces
      size_t k = 0;
      while (k < n && (pending_[k] == ' ' || pending_[k] == '\n')) ++k;
      pending_.erase(0, k);
      if (pending_.empty() || k == n) return true;
      leading_ = false;
      return emit(utf8::complete_prefix(pending_));
    }
    return emit(n);
  }

 private:
  bool emit(size_t n) {
    const bool go_on = cb_(std::string_view(pending_).substr(0, n));
    pending_.erase(0, n);
    return go_on;
  }
  const Tokenizer& tok_;
  int32_t asr_text_;
  bool active_;
  bool leading_ = true;
  const TextCallback& cb_;
  std::string pending_;
};

// Next token from the logits: argmax at temperature 0, else a draw from softmax(l / T).
// `probs` is scratch of n floats. Returns the id and its log-probability under
// softmax(logits) (temperature 1, as Whisper's avg_logprob).
struct Pick {
  int32_t id;
  float logprob;
};
Pick pick_token(const float* logits, int64_t n, float temperature, std::mt19937_64& rng, float* probs) {
  int32_t id;
  if (temperature > 0) {
    const float inv = 1.0f / temperature;
    for (int64_t i = 0; i < n; ++i) probs[i] = logits[i] * inv;
    ops::softmax_inplace(probs, n);
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    double acc = 0;
    id = static_cast<int32_t>(n - 1);
    for (int64_t i = 0; i < n; ++i) {
      acc += probs[i];
      if (u < acc) {
        id = static_cast<int32_t>(i);
        break;
      }
    }
  } else {
    id = argmax(logits, n);
  }
  std::copy_n(logits, n, probs);
  ops::softmax_inplace(probs, n);
  return {id, std::log(std::max(probs[id], 1e-30f))};
}

}  // namespace

Expected<Transcript> transcribe(Session& s, ThreadPool& pool, const Pcm16k& audio, const TranscribeOptions& o,
                                const TextCallback& on_text) {
  const Model& m = s.model();
  if (m.config().kind != ModelKind::kAsr)
    return InvalidArgument(fmt::format("'{}' is a forced aligner, not a transcription model", m.path()));
  const int64_t n_head = m.config().head_rows();
  Transcript r;
  if (o.max_new_tokens < 1 || o.max_new_tokens > s.limits().max_new_tokens)
    return InvalidArgument(
        fmt::format("max_new_tokens must be in [1, {}], got {}", s.limits().max_new_tokens, o.max_new_tokens));
  if (!(o.temperature >= 0 && o.temperature <= 2))
    return InvalidArgument(fmt::format("temperature must be in [0, 2], got {}", o.temperature));
  if (audio.seconds() > s.limits().max_audio_seconds)
    return TooLarge(fmt::format("audio is {:.1f} s long; the limit of this session is {:.0f} s in one pass",
                                audio.seconds(), s.limits().max_audio_seconds));
  const double t_start = now_ms();
  // Too short for one mel frame (under 12.5 ms, or empty): no speech, an empty transcript.
  if (!m.mel().enough_samples(audio.samples.size())) {
    r.no_speech = true;
    return r;
  }
  QASR_RETURN_IF_ERROR(o.control.check());

  // 1. Log-mel.
  auto mel = m.mel().compute(audio.samples);
  if (!mel.ok()) return mel.status();
  const double t_mel = now_ms();

  // 2. Encoder.
  QASR_ASSIGN_OR_RETURN(const int64_t n_audio, encode_audio(m, s.enc, pool, *mel, o.control));
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
  DecoderState& d = s.dec;
  const int64_t h = m.config().text.hidden;

  // 4. Prefill in chunks of the decoder state's rows (positions c0.. append to the KV
  //    cache; row i attends to [0, c0 + i]), so a 20-minute prompt needs activations for
  //    one chunk, not 15,000 rows. Then the logits at the last prompt position.
  int64_t last_row = 0;
  for (int64_t c0 = 0; c0 < L; c0 += d.max_rows) {
    const int64_t n = std::min(d.max_rows, L - c0);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = c0 + j;
      if (i >= prompt->audio_offset && i < prompt->audio_offset + n_audio)
        std::copy_n(s.enc.out + (i - prompt->audio_offset) * h, h, d.x + j * h);
      else
        embed_token(m, prompt->ids[i], d.x + j * h);
    }
    QASR_RETURN_IF_ERROR(decoder_forward(m, d, pool, c0, n, o.control));
    last_row = n - 1;
  }
  decoder_logits(m, d, pool, d.x + last_row * h);
  if (!o.dump_dir.empty()) {
    QASR_RETURN_IF_ERROR(write_npy_f32(o.dump_dir + "/mel.npy", mel->data.data(), {mel->n_mels, mel->n_frames}));
    QASR_RETURN_IF_ERROR(write_npy_f32(o.dump_dir + "/encoder_out.npy", s.enc.out, {n_audio, h}));
    QASR_RETURN_IF_ERROR(write_npy_f32(o.dump_dir + "/logits_step0.npy", d.logits, {n_head}));
    std::string ids = "[";
    for (size_t i = 0; i < prompt->ids.size(); ++i) ids += (i ? ", " : "") + std::to_string(prompt->ids[i]);
    QASR_RETURN_IF_ERROR(write_file(o.dump_dir + "/prompt_ids.json", ids + "]\n"));
  }
  const auto& stops = m.special().stop_ids;
  auto is_stop = [&](int32_t id) { return std::find(stops.begin(), stops.end(), id) != stops.end(); };
  TextStreamer streamer(m.tokenizer(), m.special().asr_text, !o.language.empty(), on_text);
  std::mt19937_64 rng(o.seed);
  float* logprobs = s.generated_logprobs;
  Pick next = pick_token(d.logits, n_head, o.temperature, rng, d.probs);
  const double t_first = now_ms();

  // 5. Decoding, one token at a time.
  int n_gen = 0;
  while (n_gen < o.max_new_tokens) {
    if (!o.ignore_eos && is_stop(next.id)) break;
    s.generated[n_gen] = next.id;
    logprobs[n_gen] = next.logprob;
    ++n_gen;
    if (!streamer.push(next.id)) return Cancelled("stopped by the text callback");
    if (n_gen == o.max_new_tokens) break;
    QASR_RETURN_IF_ERROR(o.control.check());
    if (n_gen % 16 == 0) o.control.report("decode", n_gen, o.max_new_tokens);
    embed_token(m, next.id, d.x);
    QASR_RETURN_IF_ERROR(decoder_forward(m, d, pool, L + n_gen - 1, 1));
    decoder_logits(m, d, pool, d.x);
    next = pick_token(d.logits, n_head, o.temperature, rng, d.probs);
  }
  const double t_end = now_ms();

  // 6. Text and parsing (spec §5.4).
  r.token_ids.assign(s.generated, s.generated + n_gen);
  r.token_logprobs.assign(logprobs, logprobs + n_gen);
  r.raw = m.tokenizer().decode(r.token_ids);
  AsrOutput parsed = parse_asr_output(r.raw, o.language);
  r.text = std::move(parsed.text);
  r.language = std::move(parsed.language);
  r.no_speech = o.language.empty() && r.raw.rfind("language None", 0) == 0;
  r.timings.mel = t_mel - t_start;
  r.timings.encoder = t_enc - t_mel;
  r.timings.prefill = t_first - t_enc;
  r.timings.decode = t_end - t_first;
  r.timings.first_token = t_first - t_start;
  r.timings.total = t_end - t_start;
  return r;
}

}  // namespace qasr
