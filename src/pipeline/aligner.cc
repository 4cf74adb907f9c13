#include "pipeline/aligner.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/utf8.h"
#include "kernels/ops.h"
#include "model/forward.h"
#include "model/state.h"

namespace qasr {
namespace {

// Kept by clean_token: Unicode letters and numbers, and the ASCII apostrophe.
bool kept(char32_t c) {
  if (c == U'\'') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// is_cjk_char: CJK Unified Ideographs, extensions A–E, compatibility ideographs.
bool cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF);
}

bool kana(char32_t c) {
  return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) || (c >= 0xFF66 && c <= 0xFF9D);
}

}  // namespace

std::vector<std::string> aligner_items(std::string_view text, std::string_view language) {
  const bool japanese = language == "Japanese";
  // tokenize_space_lang: str.split(), clean_token, then split_segment_with_chinese.
  std::vector<std::string> items;
  const std::u32string u = utf8::to_u32(utf8::repair(text));
  std::u32string piece;
  auto flush_piece = [&] {
    std::u32string cleaned;
    for (char32_t c : piece)
      if (kept(c)) cleaned.push_back(c);
    piece.clear();
    if (cleaned.empty()) return;
    std::u32string buf;
    for (char32_t c : cleaned) {
      if (cjk(c) || (japanese && kana(c))) {
        if (!buf.empty()) items.push_back(utf8::from_u32(buf)), buf.clear();
        items.push_back(utf8::from_u32(std::u32string(1, c)));
      } else {
        buf.push_back(c);
      }
    }
    if (!buf.empty()) items.push_back(utf8::from_u32(buf));
  };
  for (char32_t c : u) {
    if (utf8::is_space(c))
      flush_piece();
    else
      piece.push_back(c);
  }
  flush_piece();
  return items;
}

std::vector<int64_t> fix_timestamps(const std::vector<double>& data) {
  const size_t n = data.size();
  std::vector<int64_t> out(n);
  if (n == 0) return out;
  // The longest non-decreasing subsequence (the first j giving a longer chain wins), ending
  // at the first index of maximal length.
  std::vector<int> dp(n, 1);
  std::vector<int64_t> parent(n, -1);
  for (size_t i = 1; i < n; ++i)
    for (size_t j = 0; j < i; ++j)
      if (data[j] <= data[i] && dp[j] + 1 > dp[i]) {
        dp[i] = dp[j] + 1;
        parent[i] = static_cast<int64_t>(j);
      }
  const size_t max_idx = static_cast<size_t>(std::max_element(dp.begin(), dp.end()) - dp.begin());
  std::vector<bool> normal(n, false);
  for (int64_t idx = static_cast<int64_t>(max_idx); idx != -1; idx = parent[idx]) normal[idx] = true;
  std::vector<double> result = data;
  size_t i = 0;
  while (i < n) {
    if (normal[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && !normal[j]) ++j;
    const size_t count = j - i;
    bool has_left = false, has_right = false;
    double left = 0, right = 0;
    for (size_t k = i; k-- > 0;)
      if (normal[k]) {
        left = result[k], has_left = true;
        break;
      }
    for (size_t k = j; k < n; ++k)
      if (normal[k]) {
        right = result[k], has_right = true;
        break;
      }
    if (count <= 2) {
      for (size_t k = i; k < j; ++k) {
        if (!has_left)
          result[k] = right;
        else if (!has_right)
          result[k] = left;
        // (k − (i − 1)) <= (j − k): the nearer neighbour, the left one on a tie.
        else
          result[k] =
              static_cast<double>(k) - (static_cast<double>(i) - 1) <= static_cast<double>(j - k) ? left : right;
      }
    } else if (has_left && has_right) {
      const double step = (right - left) / static_cast<double>(count + 1);
      for (size_t k = i; k < j; ++k) result[k] = left + step * static_cast<double>(k - i + 1);
    } else {
      for (size_t k = i; k < j; ++k) result[k] = has_left ? left : right;
    }
    i = j;
  }
  for (size_t k = 0; k < n; ++k) out[k] = static_cast<int64_t>(result[k]);  // Python int(): truncation
  return out;
}

Expected<AlignResult> align(const Model& m, ThreadPool& pool, const Pcm16k& audio, std::string_view text,
                            const AlignOptions& o) {
  const ModelConfig& cfg = m.config();
  if (cfg.kind != ModelKind::kForcedAligner)
    return InvalidArgument(fmt::format("'{}' is a transcription model, not a forced aligner", m.path()));
  const std::vector<std::string> items = aligner_items(text, o.language);
  if (items.empty()) return InvalidArgument("the text has no word to align (only spaces or punctuation)");
  if (!m.mel().enough_samples(audio.samples.size()))
    return InvalidArgument(fmt::format("audio of {} samples is too short to align", audio.samples.size()));
  // The head resolves one 80 ms class: a text with more items than the audio has such
  // steps cannot have been spoken in it (and would only give piled-up times).
  const auto steps = static_cast<size_t>(static_cast<double>(audio.samples.size()) / kSampleRate * 1000.0 /
                                         std::max(1.0, cfg.timestamp_segment_ms));
  if (items.size() > std::max<size_t>(1, steps))
    return InvalidArgument(
        fmt::format("the text has {} words but {:.2f} s of audio holds at most {} (one per {} ms); "
                    "is it the transcript of this audio?",
                    items.size(), audio.seconds(), std::max<size_t>(1, steps), cfg.timestamp_segment_ms));
  QASR_RETURN_IF_ERROR(o.control.check());
  AlignResult r;
  const double t0 = now_ms();
  auto mel = m.mel().compute(audio.samples);
  if (!mel.ok()) return mel.status();
  const int64_t n_audio = audio_token_count(cfg.audio, mel->n_frames);
  // The input: audio rows, then each item followed by two <timestamp> tokens.
  const SpecialTokens& sp = m.special();
  const int32_t ts = cfg.timestamp_token_id;
  r.input_ids.push_back(sp.audio_start);
  const int64_t audio_offset = 1;
  r.input_ids.insert(r.input_ids.end(), n_audio, sp.audio_pad);
  r.input_ids.push_back(sp.audio_end);
  std::vector<int64_t> ts_pos;
  for (const std::string& item : items) {
    const std::vector<int32_t> ids = m.tokenizer().encode(item, /*split_special=*/false);
    r.input_ids.insert(r.input_ids.end(), ids.begin(), ids.end());
    for (int k = 0; k < 2; ++k) {
      ts_pos.push_back(static_cast<int64_t>(r.input_ids.size()));
      r.input_ids.push_back(ts);
    }
  }
  const auto L = static_cast<int64_t>(r.input_ids.size());
  if (L > cfg.text.max_position)
    return InvalidArgument(
        fmt::format("{} s of audio and {} words need {} positions; the aligner has {} (split the "
                    "audio into shorter pieces)",
                    audio.seconds(), items.size(), L, cfg.text.max_position));
  // Run state for exactly this input (the aligner runs one pass per call).
  QASR_ASSIGN_OR_RETURN(EncoderScratch enc, EncoderScratch::create(cfg.audio, n_audio));
  QASR_ASSIGN_OR_RETURN(const int64_t got, encode_audio(m, enc, pool, *mel, o.control));
  if (got != n_audio) return Internal("aligner: audio token count mismatch");
  r.encoder_ms = now_ms() - t0;
  // Only the encoder's output stays; its activations go before the decoder's are touched.
  const std::vector<float> audio_rows(enc.out, enc.out + n_audio * cfg.text.hidden);
  enc = EncoderScratch();
  // The pass in chunks of prefill_rows rows (as ASR's prefill): the hidden states at the
  // <timestamp> positions of each chunk are normed and kept; the head runs once at the end.
  const int64_t rows = std::min<int64_t>(L, std::max<int64_t>(1, o.prefill_rows));
  QASR_ASSIGN_OR_RETURN(DecoderState dec, DecoderState::create(cfg, rows, L, o.kv_f16));
  const int64_t h = cfg.text.hidden;
  const auto n_ts = static_cast<int64_t>(ts_pos.size());
  const int64_t classes = cfg.classify_num;
  std::vector<float> normed(static_cast<size_t>(n_ts * h)), logits(static_cast<size_t>(n_ts * classes));
  size_t next_ts = 0;
  for (int64_t c0 = 0; c0 < L; c0 += rows) {
    const int64_t n = std::min(rows, L - c0);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = c0 + j;
      if (i >= audio_offset && i < audio_offset + n_audio)
        std::copy_n(audio_rows.data() + (i - audio_offset) * h, h, dec.x + j * h);
      else
        embed_token(m, r.input_ids[i], dec.x + j * h);
    }
    QASR_RETURN_IF_ERROR(decoder_forward(m, dec, pool, c0, n, o.control));
    for (; next_ts < ts_pos.size() && ts_pos[next_ts] < c0 + n; ++next_ts)
      ops::rms_norm(dec.x + (ts_pos[next_ts] - c0) * h, 1, h, m.decoder().norm, cfg.text.rms_eps,
                    normed.data() + next_ts * h);
  }
  dec = DecoderState();
  // The head at every <timestamp> position: [n_ts][classify_num] logits.
  ops::matmul(pool, normed.data(), n_ts, m.decoder().lm_head, nullptr, logits.data());
  std::vector<double> raw(static_cast<size_t>(n_ts));
  for (int64_t t = 0; t < n_ts; ++t) {
    const float* row = logits.data() + t * classes;
    const int64_t cls = std::max_element(row, row + classes) - row;  // the first maximum, as torch.argmax
    // (class × segment time) is computed in float32 by the official code, then used as a float.
    raw[t] = static_cast<double>(static_cast<float>(cls) * static_cast<float>(cfg.timestamp_segment_ms));
    r.raw_ms.push_back(static_cast<int64_t>(raw[t]));
  }
  const std::vector<int64_t> fixed = fix_timestamps(raw);
  for (size_t i = 0; i < items.size(); ++i)
    r.words.push_back(
        {items[i], static_cast<double>(fixed[2 * i]) / 1000.0, static_cast<double>(fixed[2 * i + 1]) / 1000.0});
  r.n_timestamps = n_ts;
  if (o.keep_logits) r.timestamp_logits = std::move(logits);
  r.forward_ms = now_ms() - t0;
  return r;
}

}  // namespace qasr
