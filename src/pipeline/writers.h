// One set of output writers for the CLI (`--output-format`) and the server
// (`response_format`): text, json, verbose_json (OpenAI's shape, server-api.md §1.4), SRT
// and WebVTT. A TranscriptDoc holds what every format needs: the text, the language, the
// duration, segments (all ten OpenAI fields, honest values for Qwen3-ASR) and word times
// when the aligner gave any.
//
// Subtitle cues: from word times when there are any (at most 42 characters a line, 2 lines,
// 7 s a cue; broken at sentence punctuation and at pauses of 0.8 s or more; CJK text counts
// and joins per character), else one cue per segment (its text wrapped at 42 characters).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "pipeline/transcribe.h"

namespace qasr {

struct TranscriptWord {
  std::string text;
  double start = 0, end = 0;  // seconds
};

struct TranscriptSegment {
  int id = 0;
  double start = 0, end = 0;  // seconds
  std::string text;
  std::vector<int32_t> tokens;  // the Qwen token ids of the segment
  double temperature = 0;
  double avg_logprob = 0;        // mean decoder log-probability of the tokens
  double compression_ratio = 0;  // len(utf8) / len(zlib(utf8)), as Whisper computes it
  double no_speech_prob = 0;     // 1 when the model said "language None" (silence), else 0
  int64_t seek() const { return std::llround(start * 100.0); }  // 10 ms frames
};

struct TranscriptDoc {
  std::string text;
  std::string language;  // Qwen's name ("English"), or "" when unknown
  double duration = 0;   // seconds of audio
  std::vector<TranscriptSegment> segments;
  std::vector<TranscriptWord> words;
  bool words_requested = false;  // verbose_json carries "words" only then
  int unaligned_pieces = 0;      // pieces whose transcript the aligner refused (no word times)
  int64_t input_text_tokens = 0, input_audio_tokens = 0, output_tokens = 0;
};

enum class OutputFormat { kText, kJson, kVerboseJson, kSrt, kVtt };
Expected<OutputFormat> parse_output_format(std::string_view name);
const char* output_format_name(OutputFormat f);
// The Content-Type a server sends for the format (srt/vtt/text are not JSON, so clients
// return them as strings).
const char* content_type(OutputFormat f);

// The document in `format` (text and subtitle formats end with a newline).
std::string render(const TranscriptDoc& doc, OutputFormat format);
nlohmann::json verbose_json(const TranscriptDoc& doc);
// OpenAI's token usage object (json and the streaming "done" event).
nlohmann::json token_usage(const TranscriptDoc& doc);

// len(utf8) / len(zlib.compress(utf8)) (zlib level 6, as Python's default).
double compression_ratio(std::string_view text);

// A segment from one transcribed piece: [start, end) seconds, its text and token statistics.
TranscriptSegment segment_from(const Transcript& t, int id, double start, double end, double temperature);

struct Cue {
  double start = 0, end = 0;
  std::string text;  // lines joined with '\n'
};
std::vector<Cue> make_cues(const TranscriptDoc& doc);

// "00:01:02,345" (SRT) / "00:01:02.345" (VTT).
std::string subtitle_time(double seconds, char ms_separator);

}  // namespace qasr
