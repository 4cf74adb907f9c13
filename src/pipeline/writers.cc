#include "pipeline/writers.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/utf8.h"

namespace qasr {
namespace {

using nlohmann::json;

constexpr size_t kLineChars = 42;
constexpr int kCueLines = 2;
constexpr double kCueSeconds = 7.0;
constexpr double kPauseSeconds = 0.8;

bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2EBEF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x3040 && c <= 0x30FF) || (c >= 0xAC00 && c <= 0xD7AF) ||
         (c >= 0x3000 && c <= 0x303F) || (c >= 0xFF00 && c <= 0xFFEF);
}

bool ends_sentence(const std::u32string& w) {
  if (w.empty()) return false;
  const char32_t c = w.back();
  return c == U'.' || c == U'!' || c == U'?' || c == U'。' || c == U'！' || c == U'？' || c == U'…';
}

// Joins `next` to `line`: no space between two CJK characters, one space otherwise.
void append_word(std::u32string& line, const std::u32string& next) {
  if (!line.empty() && !next.empty() && !(is_cjk(line.back()) && is_cjk(next.front()))) line.push_back(U' ');
  line += next;
}

size_t joined_length(const std::u32string& line, const std::u32string& next) {
  std::u32string t = line;
  append_word(t, next);
  return t.size();
}

// Wraps text into lines of at most kLineChars code points, breaking at spaces (or
// anywhere in CJK text).
std::vector<std::u32string> wrap(const std::u32string& text) {
  std::vector<std::u32string> lines;
  std::u32string line, word;
  auto flush_word = [&] {
    if (word.empty()) return;
    if (!line.empty() && joined_length(line, word) > kLineChars) {
      lines.push_back(line);
      line.clear();
    }
    append_word(line, word);
    word.clear();
  };
  for (char32_t c : text) {
    if (utf8::is_space(c)) {
      flush_word();
    } else if (is_cjk(c)) {
      flush_word();
      word.push_back(c);
      flush_word();
    } else {
      word.push_back(c);
    }
  }
  flush_word();
  if (!line.empty()) lines.push_back(line);
  return lines;
}

std::string join_lines(const std::vector<std::u32string>& lines) {
  std::string s;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) s += '\n';
    s += utf8::from_u32(lines[i]);
  }
  return s;
}

std::string lowercase_ascii(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string srt(const std::vector<Cue>& cues) {
  std::string o;
  for (size_t i = 0; i < cues.size(); ++i)
    o += fmt::format("{}\n{} --> {}\n{}\n\n", i + 1, subtitle_time(cues[i].start, ','), subtitle_time(cues[i].end, ','),
                     cues[i].text);
  return o;
}

std::string vtt(const std::vector<Cue>& cues) {
  std::string o = "WEBVTT\n\n";
  for (const Cue& c : cues)
    o += fmt::format("{} --> {}\n{}\n\n", subtitle_time(c.start, '.'), subtitle_time(c.end, '.'), c.text);
  return o;
}

}  // namespace

Expected<OutputFormat> parse_output_format(std::string_view n) {
  if (n == "text") return OutputFormat::kText;
  if (n == "json") return OutputFormat::kJson;
  if (n == "verbose_json") return OutputFormat::kVerboseJson;
  if (n == "srt") return OutputFormat::kSrt;
  if (n == "vtt") return OutputFormat::kVtt;
  return InvalidArgument(fmt::format("unknown output format '{}' (text, json, verbose_json, srt, vtt)", n));
}

const char* output_format_name(OutputFormat f) {
  switch (f) {
    case OutputFormat::kText:
      return "text";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kVerboseJson:
      return "verbose_json";
    case OutputFormat::kSrt:
      return "srt";
    case OutputFormat::kVtt:
      return "vtt";
  }
  return "json";
}

const char* content_type(OutputFormat f) {
  switch (f) {
    case OutputFormat::kJson:
    case OutputFormat::kVerboseJson:
      return "application/json";
    case OutputFormat::kVtt:
      return "text/vtt; charset=utf-8";
    case OutputFormat::kText:
    case OutputFormat::kSrt:
      return "text/plain; charset=utf-8";
  }
  return "application/json";
}

std::string subtitle_time(double seconds, char sep) {
  const int64_t ms = static_cast<int64_t>(std::llround(std::max(0.0, seconds) * 1000.0));
  return fmt::format("{:02}:{:02}:{:02}{}{:03}", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, sep, ms % 1000);
}

double compression_ratio(std::string_view text) {
  if (text.empty()) return 0;
  uLongf out_len = compressBound(static_cast<uLong>(text.size()));
  std::vector<Bytef> out(out_len);
  if (compress2(out.data(), &out_len, reinterpret_cast<const Bytef*>(text.data()), static_cast<uLong>(text.size()),
                6) != Z_OK ||
      out_len == 0)
    return 0;
  return static_cast<double>(text.size()) / static_cast<double>(out_len);
}

TranscriptSegment segment_from(const Transcript& t, int id, double start, double end, double temperature) {
  TranscriptSegment s;
  s.id = id;
  s.start = start;
  s.end = end;
  s.text = t.text;
  s.tokens = t.token_ids;
  s.temperature = temperature;
  double sum = 0;
  for (float lp : t.token_logprobs) sum += lp;
  s.avg_logprob = t.token_logprobs.empty() ? 0.0 : sum / static_cast<double>(t.token_logprobs.size());
  s.compression_ratio = compression_ratio(t.text);
  s.no_speech_prob = t.no_speech ? 1.0 : 0.0;
  return s;
}

std::vector<Cue> make_cues(const TranscriptDoc& doc) {
  std::vector<Cue> cues;
  if (doc.words.empty()) {
    for (const TranscriptSegment& s : doc.segments) {
      const std::vector<std::u32string> lines = wrap(utf8::to_u32(utf8::repair(s.text)));
      if (lines.empty()) continue;
      cues.push_back({s.start, std::max(s.end, s.start), join_lines(lines)});
    }
    return cues;
  }
  std::vector<std::u32string> lines;
  std::u32string line;
  double cue_start = 0, last_end = 0;
  bool open = false;
  auto close = [&] {
    if (!line.empty()) lines.push_back(line);
    if (!lines.empty()) cues.push_back({cue_start, std::max(last_end, cue_start), join_lines(lines)});
    lines.clear();
    line.clear();
    open = false;
  };
  for (const TranscriptWord& w : doc.words) {
    const std::u32string word = utf8::to_u32(utf8::repair(w.text));
    if (word.empty()) continue;
    if (open && (w.start - last_end >= kPauseSeconds || w.end - cue_start > kCueSeconds)) close();
    if (!open) {
      cue_start = w.start;
      open = true;
    }
    if (!line.empty() && joined_length(line, word) > kLineChars) {
      lines.push_back(line);
      line.clear();
      if (static_cast<int>(lines.size()) == kCueLines) {
        close();
        cue_start = w.start;
        open = true;
      }
    }
    append_word(line, word);
    last_end = std::max(last_end, w.end);
    if (ends_sentence(word)) close();
  }
  close();
  return cues;
}

json token_usage(const TranscriptDoc& d) {
  const int64_t input = d.input_text_tokens + d.input_audio_tokens;
  return {{"type", "tokens"},
          {"input_tokens", input},
          {"input_token_details", {{"text_tokens", d.input_text_tokens}, {"audio_tokens", d.input_audio_tokens}}},
          {"output_tokens", d.output_tokens},
          {"total_tokens", input + d.output_tokens}};
}

json verbose_json(const TranscriptDoc& d) {
  json segs = json::array();
  for (const TranscriptSegment& s : d.segments)
    segs.push_back({{"id", s.id},
                    {"seek", s.seek()},
                    {"start", s.start},
                    {"end", s.end},
                    {"text", s.text},
                    {"tokens", s.tokens},
                    {"temperature", s.temperature},
                    {"avg_logprob", s.avg_logprob},
                    {"compression_ratio", s.compression_ratio},
                    {"no_speech_prob", s.no_speech_prob}});
  json j = {{"task", "transcribe"},
            {"language", lowercase_ascii(d.language)},
            {"duration", d.duration},
            {"text", d.text},
            {"segments", segs},
            {"usage", {{"type", "duration"}, {"seconds", static_cast<int64_t>(std::llround(d.duration))}}}};
  if (d.words_requested) {
    json words = json::array();
    for (const TranscriptWord& w : d.words) words.push_back({{"word", w.text}, {"start", w.start}, {"end", w.end}});
    j["words"] = words;
  }
  return j;
}

std::string render(const TranscriptDoc& d, OutputFormat f) {
  switch (f) {
    case OutputFormat::kText:
      return d.text + "\n";
    case OutputFormat::kJson:
      return json({{"text", d.text}, {"usage", token_usage(d)}}).dump(-1, ' ', false, json::error_handler_t::replace);
    case OutputFormat::kVerboseJson:
      return verbose_json(d).dump(-1, ' ', false, json::error_handler_t::replace);
    case OutputFormat::kSrt:
      return srt(make_cues(d));
    case OutputFormat::kVtt:
      return vtt(make_cues(d));
  }
  return d.text;
}

}  // namespace qasr
