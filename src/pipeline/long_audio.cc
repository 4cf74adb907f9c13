#include "pipeline/long_audio.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "model/model.h"
#include "pipeline/aligner.h"

namespace qasr {

int64_t split_boundary(std::span<const float> x, int64_t left, int64_t right, int64_t cut) {
  const int64_t win = kSplitBoxSamples;
  if (right - left <= win) return cut;
  // Box sums over |x| (the official np.convolve(|x|, ones(1600), "valid")): the first
  // window of smallest sum, then the first sample of smallest |x| inside it. Sums are kept
  // in float64 (a sliding sum), which orders the windows as the exact sums do.
  double sum = 0;
  for (int64_t i = left; i < left + win; ++i) sum += std::fabs(x[i]);
  double best = sum;
  int64_t best_k = 0;
  for (int64_t k = 1; k + win <= right - left; ++k) {
    sum += std::fabs(x[left + k + win - 1]) - std::fabs(x[left + k - 1]);
    if (sum < best) best = sum, best_k = k;
  }
  int64_t inner = 0;
  float lo = std::fabs(x[left + best_k]);
  for (int64_t i = 1; i < win; ++i) {
    const float v = std::fabs(x[left + best_k + i]);
    if (v < lo) lo = v, inner = i;
  }
  return left + best_k + inner;
}

std::vector<PieceRange> split_ranges(std::span<const float> x, double max_sec) {
  const auto total = static_cast<int64_t>(x.size());
  std::vector<PieceRange> out;
  if (static_cast<double>(total) / kSampleRate <= max_sec) {
    out.push_back({0, total, 0.0});
    return out;
  }
  const auto max_len = static_cast<int64_t>(max_sec * kSampleRate);
  int64_t start = 0;
  double offset = 0;
  while (total - start > max_len) {
    const int64_t cut = start + max_len;
    const int64_t left = std::max(start, cut - kSplitExpandSamples), right = std::min(total, cut + kSplitExpandSamples);
    int64_t boundary = split_boundary(x, left, right, cut);
    boundary = std::min(std::max(boundary, start + 1), total);
    out.push_back({start, boundary, offset});
    offset += static_cast<double>(boundary - start) / kSampleRate;
    start = boundary;
  }
  out.push_back({start, total, offset});
  return out;
}

// ---- PieceReader ----

Expected<std::unique_ptr<PieceReader>> PieceReader::create(std::unique_ptr<AudioStream> stream, double max_sec) {
  if (!(max_sec >= 1.0)) return InvalidArgument(fmt::format("the piece length must be at least 1 s, got {}", max_sec));
  std::unique_ptr<PieceReader> r(new PieceReader());
  r->stream_ = std::move(stream);
  r->max_sec_ = max_sec;
  r->max_len_ = static_cast<int64_t>(max_sec * kSampleRate);
  // First pass: the peak and the length (the official code scales by the peak of the whole
  // 16 kHz signal when it exceeds 1).
  std::vector<float> block;
  float peak = 0;
  for (;;) {
    block.clear();
    QASR_ASSIGN_OR_RETURN(const size_t got, r->stream_->read(block, size_t{1} << 20));
    if (got == 0) break;
    for (float v : block) {
      if (!std::isfinite(v))
        return InvalidFormat(fmt::format("'{}': audio contains NaN or infinite samples", r->stream_->name()));
      peak = std::max(peak, std::fabs(v));
    }
    r->total_ += static_cast<int64_t>(got);
  }
  r->scale_ = peak > 1.0f ? 1.0f / peak : 1.0f;
  r->split_ = static_cast<double>(r->total_) / kSampleRate > max_sec;
  QASR_RETURN_IF_ERROR(r->stream_->rewind());
  return r;
}

Expected<std::unique_ptr<PieceReader>> PieceReader::from_span(std::span<const float> samples, double max_sec) {
  if (!(max_sec >= 1.0)) return InvalidArgument(fmt::format("the piece length must be at least 1 s, got {}", max_sec));
  std::unique_ptr<PieceReader> r(new PieceReader());
  r->max_sec_ = max_sec;
  r->max_len_ = static_cast<int64_t>(max_sec * kSampleRate);
  r->total_ = static_cast<int64_t>(samples.size());
  r->split_ = static_cast<double>(r->total_) / kSampleRate > max_sec;
  r->memory_ = samples;
  r->in_memory_ = true;
  r->eof_ = true;
  return r;
}

Expected<std::unique_ptr<PieceReader>> PieceReader::from_samples(std::vector<float> samples, double max_sec) {
  QASR_ASSIGN_OR_RETURN(std::unique_ptr<PieceReader> r, from_span({}, max_sec));
  r->buffer_ = std::move(samples);
  r->memory_ = r->buffer_;
  r->total_ = static_cast<int64_t>(r->buffer_.size());
  r->split_ = static_cast<double>(r->total_) / kSampleRate > max_sec;
  return r;
}

Status PieceReader::fill(size_t want) {
  if (eof_) return Status::Ok();
  // Drop what earlier pieces used (at most one piece), then read to `want` samples past head_.
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(head_));
  head_ = 0;
  while (!eof_ && buffer_.size() < want) {
    const size_t before = buffer_.size();
    QASR_ASSIGN_OR_RETURN(const size_t got, stream_->read(buffer_, want - buffer_.size()));
    if (got == 0) {
      eof_ = true;
      break;
    }
    for (size_t i = before; i < buffer_.size(); ++i) buffer_[i] = std::clamp(buffer_[i] * scale_, -1.0f, 1.0f);
  }
  return Status::Ok();
}

Expected<bool> PieceReader::next(AudioPiece& out) {
  if (done_) return false;
  // The next piece plus its search window: max_len + 5 s (+1 to know whether more remain).
  QASR_RETURN_IF_ERROR(fill(static_cast<size_t>(max_len_ + kSplitExpandSamples + 1)));
  const std::span<const float> view =
      in_memory_ ? memory_.subspan(head_) : std::span<const float>(buffer_.data() + head_, buffer_.size() - head_);
  const auto have = static_cast<int64_t>(view.size());
  const bool last = !split_ || have <= max_len_;
  int64_t boundary;  // relative to view[0]
  if (last) {
    boundary = have;
    done_ = true;
  } else {
    const int64_t cut = max_len_;
    const int64_t left = std::max<int64_t>(0, cut - kSplitExpandSamples),
                  right = std::min(have, cut + kSplitExpandSamples);
    boundary = std::min(std::max(split_boundary(view, left, right, cut), int64_t{1}), have);
  }
  out.range = {start_, start_ + boundary, offset_};
  out.audio.samples.assign(view.begin(), view.begin() + boundary);
  if (split_ && out.audio.samples.size() < static_cast<size_t>(kMinPieceSamples))
    out.audio.samples.resize(kMinPieceSamples, 0.0f);  // pieces under 0.5 s are padded
  head_ += static_cast<size_t>(boundary);
  offset_ += static_cast<double>(boundary) / kSampleRate;
  start_ += boundary;
  if (done_ && !in_memory_) {
    buffer_ = std::vector<float>();
    head_ = 0;
  }
  return true;
}

// ---- documents ----

namespace {

std::string merge_languages(const std::vector<std::string>& langs) {
  std::string out, prev;
  for (const std::string& l : langs) {
    if (l.empty() || l == prev) continue;
    if (!out.empty()) out += ',';
    out += l;
    prev = l;
  }
  return out;
}

// Python's round(x, 3): the exact binary value rounded to 3 decimals (glibc's printf
// rounds the exact value, half to even, as CPython's dtoa does), read back.
double round3(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", x);
  return std::strtod(buf, nullptr);
}

}  // namespace

Status align_piece(TranscriptDoc& doc, TranscriptSegment* seg, const Model& aligner, ThreadPool& pool,
                   const AudioPiece& piece, const std::string& text, const std::string& language, TimestampMode mode,
                   const AlignOptions& base) {
  if (mode == TimestampMode::kNone || aligner_items(text, language).empty()) return Status::Ok();
  const double start = piece.range.offset_sec;
  const double end = start + static_cast<double>(piece.range.end - piece.range.start) / kSampleRate;
  AlignOptions ao = base;
  ao.language = language;
  auto a = align(aligner, pool, piece.audio, text, ao);
  // A transcript the aligner refuses (more words than the piece can hold, or than its
  // positions) leaves that piece without word times rather than failing the document.
  if (!a.ok()) {
    if (a.status().code() != StatusCode::kInvalidArgument) return a.status();
    ++doc.unaligned_pieces;
    return Status::Ok();
  }
  const size_t first = doc.words.size();
  for (const AlignedWord& w : a->words) doc.words.push_back({w.text, round3(w.start + start), round3(w.end + start)});
  if (mode == TimestampMode::kSegment && seg && doc.words.size() > first) {
    seg->start = std::max(start, doc.words[first].start);
    seg->end = std::max(seg->start, std::min(end, doc.words.back().end));
  }
  return Status::Ok();
}

double max_piece_seconds(const PieceReader& r) {
  const double most =
      r.splits() ? r.max_seconds() + static_cast<double>(kSplitExpandSamples) / kSampleRate : r.total_seconds();
  return std::min(r.total_seconds(), most);
}

Expected<TranscriptDoc> transcribe_document(Session& session, ThreadPool& pool, PieceReader& reader,
                                            const DocumentOptions& o, const TextCallback& on_text,
                                            const PieceCallback& on_piece) {
  TranscriptDoc doc;
  doc.duration = reader.total_seconds();
  doc.words_requested = o.timestamps == TimestampMode::kWord;
  if (o.timestamps == TimestampMode::kWord && !o.aligner)
    return InvalidArgument("word timestamps need a forced aligner");
  std::vector<std::string> langs;
  AudioPiece piece;
  int id = 0;
  for (;;) {
    QASR_ASSIGN_OR_RETURN(const bool more, reader.next(piece));
    if (!more) break;
    QASR_RETURN_IF_ERROR(o.transcribe.control.check());
    const double start = piece.range.offset_sec;
    const double end = start + static_cast<double>(piece.range.end - piece.range.start) / kSampleRate;
    session.reset();
    auto t = transcribe(session, pool, piece.audio, o.transcribe, on_text);
    if (!t.ok()) return t.status().annotate(fmt::format("piece {} ({:.1f}–{:.1f} s)", id, start, end));
    doc.text += t->text;
    langs.push_back(t->language);
    doc.input_audio_tokens += t->n_audio_tokens;
    doc.input_text_tokens += static_cast<int64_t>(t->prompt_ids.size()) - t->n_audio_tokens;
    doc.output_tokens += static_cast<int64_t>(t->token_ids.size());
    if (!t->text.empty() || !t->token_ids.empty()) {
      TranscriptSegment seg =
          segment_from(*t, static_cast<int>(doc.segments.size()), start, end, o.transcribe.temperature);
      if (o.aligner && o.timestamps != TimestampMode::kNone) {
        AlignOptions ao;
        ao.control = o.transcribe.control;
        ao.kv_f16 = session.limits().kv_f16;
        QASR_RETURN_IF_ERROR(align_piece(doc, &seg, *o.aligner, pool, piece, t->text,
                                         o.align_language.empty() ? t->language : o.align_language, o.timestamps, ao)
                                 .annotate(fmt::format("aligning piece {} ({:.1f}–{:.1f} s)", id, start, end)));
      }
      doc.segments.push_back(std::move(seg));
    }
    if (on_piece) on_piece(piece, *t);
    ++id;
  }
  if (o.timestamps != TimestampMode::kWord) doc.words.clear();
  doc.language = merge_languages(langs);
  return doc;
}

}  // namespace qasr
