// Long audio (spec §8.1, §8.4; official `split_audio_into_chunks` in qwen_asr/inference/utils.py):
// pieces cut at quiet points, transcribed in order on one session, texts joined with "" and
// languages merged (empty and consecutive duplicates dropped, joined with ",").
//
//  - split_ranges(): the official rule as a pure function of the 16 kHz samples: while more
//    than max_len = int(max_sec·16000) samples remain, cut = start + max_len; in the window
//    [max(start, cut − 80000), min(N, cut + 80000)) slide a 1600-sample (100 ms) box filter over
//    |x|, take the first window of smallest sum and in it the first sample of smallest |x|;
//    that sample is the boundary. Audio of at most max_sec is one piece.
//  - PieceReader: the same pieces from an AudioStream in bounded memory (the next piece plus
//    its search window, never the whole file), in two passes (the first finds the peak for
//    the official peak safety). Pieces shorter than 0.5 s are zero-padded to 8000 samples, as
//    the official code does (only when the audio is split).
//  - transcribe_document(): every piece transcribed on one session (sized for one piece),
//    with word times from a forced aligner when given, into a TranscriptDoc for the writers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "audio/audio.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "pipeline/aligner.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"
#include "pipeline/writers.h"

namespace qasr {

inline constexpr double kMaxAsrInputSeconds = 1200;        // MAX_ASR_INPUT_SECONDS
inline constexpr double kMaxForceAlignInputSeconds = 180;  // MAX_FORCE_ALIGN_INPUT_SECONDS
inline constexpr int64_t kSplitExpandSamples = 5 * 16000;  // the ±5 s search window
inline constexpr int64_t kSplitBoxSamples = 1600;          // the 100 ms box filter
inline constexpr int64_t kMinPieceSamples = 8000;          // pieces under 0.5 s are padded to this

struct PieceRange {
  int64_t start = 0, end = 0;  // samples, end exclusive, in the input (before any padding)
  double offset_sec = 0;       // float64 running sum of (end − start)/16000, as the official code
};

// The official split of all of `x`.
std::vector<PieceRange> split_ranges(std::span<const float> x, double max_sec);
// One boundary: the window [left, right) of `x` (absolute indices) → the boundary sample.
int64_t split_boundary(std::span<const float> x, int64_t left, int64_t right, int64_t cut);

struct AudioPiece {
  PieceRange range;
  Pcm16k audio;  // its samples after peak safety, padded to 8000 if short and the audio was split
};

class PieceReader {
 public:
  // Opens `stream` for pieces of at most `max_sec`; the first pass (peak) happens here.
  static Expected<std::unique_ptr<PieceReader>> create(std::unique_ptr<AudioStream> stream, double max_sec);
  // The same pieces of samples already decoded (16 kHz, peak safety applied), e.g. an upload:
  // owned, or viewed (`samples` must then outlive the reader).
  static Expected<std::unique_ptr<PieceReader>> from_samples(std::vector<float> samples, double max_sec);
  static Expected<std::unique_ptr<PieceReader>> from_span(std::span<const float> samples, double max_sec);
  // The next piece; false at the end.
  Expected<bool> next(AudioPiece& out);
  double total_seconds() const { return static_cast<double>(total_) / kSampleRate; }
  int64_t total_samples() const { return total_; }
  bool splits() const { return split_; }  // more than one piece
  double max_seconds() const { return max_sec_; }

 private:
  PieceReader() = default;
  Status fill(size_t want);              // reads until buffer_ holds `want` samples or the input ends
  std::unique_ptr<AudioStream> stream_;  // null for from_samples()
  double max_sec_ = 0;
  int64_t max_len_ = 0;
  float scale_ = 1.0f;  // 1/peak when the peak exceeds 1
  int64_t total_ = 0;   // samples in all (known from the first pass)
  int64_t start_ = 0;   // absolute index of buffer_[head_]
  size_t head_ = 0;     // first sample of buffer_ not yet in a piece
  double offset_ = 0;
  std::vector<float> buffer_;
  std::span<const float> memory_;  // from_samples / from_span: all samples (buffer_ may own them)
  bool in_memory_ = false;
  bool eof_ = false, done_ = false, split_ = false;
};

class Model;
enum class TimestampMode { kNone, kSegment, kWord };
struct DocumentOptions {
  TranscribeOptions transcribe;  // language, context, max tokens per piece, control
  // Word times from this loaded forced aligner (null: none). With kSegment the aligner's
  // words also tighten each segment to its first and last word.
  const Model* aligner = nullptr;
  TimestampMode timestamps = TimestampMode::kNone;
  std::string align_language;  // for the aligner's text rule (Japanese); default: the piece's
};

// Called after each piece with its range and transcript (timings, ids), e.g. for progress.
using PieceCallback = std::function<void(const AudioPiece&, const Transcript&)>;

// Word times for one transcribed piece: aligns `text` to `piece` and appends the words to
// doc.words offset by the piece's start (round(t + offset, 3)); with kSegment, `segment`
// (when not null) is tightened to its first and last word. A text the aligner refuses
// (InvalidArgument) counts in doc.unaligned_pieces instead of failing.
Status align_piece(TranscriptDoc& doc, TranscriptSegment* segment, const Model& aligner, ThreadPool& pool,
                   const AudioPiece& piece, const std::string& text, const std::string& language, TimestampMode mode,
                   const AlignOptions& base);

// The longest piece `reader` can give: the input, or max_sec plus the search window.
double max_piece_seconds(const PieceReader& reader);

// Transcribes every piece of `reader` in order on `session` (sized for max_piece_seconds);
// `on_text` streams the text of all pieces in order. Word times (when asked) come from the
// aligner, offset by each piece's start as round(t + offset, 3).
Expected<TranscriptDoc> transcribe_document(Session& session, ThreadPool& pool, PieceReader& reader,
                                            const DocumentOptions& options, const TextCallback& on_text = {},
                                            const PieceCallback& on_piece = {});

}  // namespace qasr
