#include "text/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "base/json.h"
#include "base/utf8.h"

namespace qasr {

// The Qwen2 pre-tokenizer pattern (transformers tokenization_qwen2.py
// PRETOKENIZE_REGEX). With PCRE2_UCP, \s, \p{L} and \p{N} are Unicode-aware.
static constexpr const char* kPretokenizePattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct Tokenizer::Regex {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Regex() {
    if (code) pcre2_code_free(code);
  }
};

namespace {

struct ByteMap {
  char32_t to_uni[256];
  int16_t to_byte[324];  // code point (< 256 + 68) → byte, −1 if not a byte-level char
  ByteMap() {
    int n = 0;
    for (int16_t& v : to_byte) v = -1;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_uni[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      to_byte[to_uni[b]] = static_cast<int16_t>(b);
    }
  }
  int byte_of(char32_t c) const { return c < 324 ? to_byte[c] : -1; }
};
const ByteMap& byte_map() {
  static const ByteMap kMap;
  return kMap;
}

}  // namespace

char32_t byte_to_unicode(uint8_t b) {
  return byte_map().to_uni[b];
}

Tokenizer::Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Expected<Tokenizer> Tokenizer::from_tables(std::vector<std::string> tokens,
                                           const std::vector<std::pair<std::string, std::string>>& merges,
                                           std::vector<AddedToken> added) {
  Tokenizer t;
  const ByteMap& bm = byte_map();
  t.n_vocab_entries_ = static_cast<int32_t>(tokens.size());
  int32_t size = t.n_vocab_entries_;
  for (const AddedToken& a : added) {
    if (a.id < 0 || a.id > (1 << 24))
      return InvalidFormat(fmt::format("tokenizer: added token id {} out of range", a.id));
    if (a.content.empty()) return InvalidFormat(fmt::format("tokenizer: added token {} has empty content", a.id));
    size = std::max(size, a.id + 1);
  }
  t.id_to_token_ = std::move(tokens);
  t.id_to_token_.resize(size);
  t.id_to_bytes_.resize(size);
  t.special_.assign(size, 0);
  t.token_to_id_.reserve(size);
  for (const AddedToken& a : added) {
    t.id_to_token_[a.id] = a.content;
    t.id_to_bytes_[a.id] = a.content;
    t.special_[a.id] = a.special ? 1 : 0;
  }
  // id_to_token_ is complete: from here on its strings stay where they are.
  for (int32_t id = 0; id < t.n_vocab_entries_; ++id) {
    const std::string& s = t.id_to_token_[id];
    if (s.empty() || t.special_[id] || !t.id_to_bytes_[id].empty()) continue;  // hole or added token
    t.token_to_id_.put_if_absent(std::string_view(s), id);
    std::string& bytes = t.id_to_bytes_[id];
    bytes.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      // Decode one UTF-8 char (vocab strings are valid UTF-8; ASCII fast path).
      unsigned char c0 = static_cast<unsigned char>(s[i]);
      char32_t c;
      size_t len;
      if (c0 < 0x80)
        c = c0, len = 1;
      else if (c0 < 0xE0 && i + 1 < s.size())
        c = ((c0 & 0x1F) << 6) | (s[i + 1] & 0x3F), len = 2;
      else
        len = c0 < 0xF0 ? 3 : 4, c = 0x110000;
      len = std::min(len, s.size() - i);
      const int b = bm.byte_of(c);
      if (b >= 0)
        bytes.push_back(static_cast<char>(b));
      else
        bytes.append(s, i, len);  // not a byte-level char: keep it literally
      i += len;
    }
  }
  for (const AddedToken& a : added) t.token_to_id_.put(std::string_view(t.id_to_token_[a.id]), a.id);
  t.added_ = std::move(added);
  std::stable_sort(t.added_.begin(), t.added_.end(),
                   [](const AddedToken& x, const AddedToken& y) { return x.content.size() > y.content.size(); });
  for (int b = 0; b < 256; ++b) {
    std::string s;
    utf8::append(s, bm.to_uni[b]);
    const int32_t* it = t.token_to_id_.find(std::string_view(s));
    if (!it) return InvalidFormat(fmt::format("tokenizer: vocabulary lacks the byte-level token for byte 0x{:02x}", b));
    t.byte_to_id_[b] = *it;
  }
  t.merges_.reserve(merges.size());
  t.n_merge_lines_ = merges.size();
  std::string joined;
  for (size_t r = 0; r < merges.size(); ++r) {
    joined.assign(merges[r].first).append(merges[r].second);
    const int32_t* l = t.token_to_id_.find(merges[r].first);
    const int32_t* rr = t.token_to_id_.find(merges[r].second);
    const int32_t* m = t.token_to_id_.find(joined);
    if (!l || !rr || !m)
      return InvalidFormat(fmt::format("tokenizer: merge {} ('{} {}') uses tokens missing from the vocabulary", r,
                                       merges[r].first, merges[r].second));
    uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(*l)) << 32) | static_cast<uint32_t>(*rr);
    t.merges_.put_if_absent(key, static_cast<int32_t>(r), *m);  // first (lowest) rank wins
  }
  int err = 0;
  PCRE2_SIZE off = 0;
  t.regex_ = std::make_unique<Regex>();
  t.regex_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPretokenizePattern), PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  QASR_CHECK(t.regex_->code != nullptr) << "pre-tokenizer regex failed to compile at " << off;
  t.regex_->jit = pcre2_jit_compile(t.regex_->code, PCRE2_JIT_COMPLETE) == 0;
  return t;
}

Expected<Tokenizer> Tokenizer::load_dir(const std::string& dir) {
  return load_files(dir + "/vocab.json", dir + "/merges.txt", dir + "/tokenizer_config.json");
}

Expected<Tokenizer> Tokenizer::load_files(const std::string& vocab_path, const std::string& merges_path,
                                          const std::string& config_path) {
  using nlohmann::json;
  QASR_ASSIGN_OR_RETURN(std::string vocab_text, read_file(vocab_path));
  QASR_ASSIGN_OR_RETURN(std::string merges_text, read_file(merges_path));
  QASR_ASSIGN_OR_RETURN(std::string config_text, read_file(config_path));
  QASR_ASSIGN_OR_RETURN(json vocab, parse_json(vocab_text, fmt::format("'{}'", vocab_path)));
  if (!vocab.is_object()) return InvalidFormat(fmt::format("'{}' is not a JSON object", vocab_path));
  std::vector<std::string> tokens;
  // Ids are dense (0 .. entries − 1 in real files); one absurd id must not size the table.
  const size_t max_id = vocab.size() + 65536;
  for (auto& [k, v] : vocab.items()) {
    const bool valid = v.is_number_unsigned() ? v.get<uint64_t>() < max_id
                       : v.is_number_integer()
                           ? v.get<int64_t>() >= 0 && v.get<int64_t>() < static_cast<int64_t>(max_id)
                           : false;
    if (!valid)
      return InvalidFormat(fmt::format("'{}': token '{}' has an invalid id {} ({} entries)", vocab_path,
                                       utf8::repair(k), dump_json(v), vocab.size()));
    size_t id = v.get<size_t>();
    if (id >= tokens.size()) tokens.resize(id + 1);
    tokens[id] = k;
  }
  std::vector<std::pair<std::string, std::string>> merges;
  size_t pos = 0;
  bool first = true;
  while (pos < merges_text.size()) {
    size_t eol = merges_text.find('\n', pos);
    if (eol == std::string::npos) eol = merges_text.size();
    std::string line = merges_text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first && line.rfind("#version", 0) == 0) {
      first = false;
      continue;
    }
    first = false;
    if (line.empty()) continue;
    size_t sp = line.find(' ', 1);
    if (sp == std::string::npos)
      return InvalidFormat(fmt::format("'{}': line '{}' is not 'left right'", merges_path, line));
    merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  QASR_ASSIGN_OR_RETURN(json cfg, parse_json(config_text, fmt::format("'{}'", config_path)));
  if (!cfg.is_object()) return InvalidFormat(fmt::format("'{}' is not a JSON object", config_path));
  std::vector<AddedToken> added;
  if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
    for (auto& [k, v] : cfg["added_tokens_decoder"].items()) {
      char* end = nullptr;
      errno = 0;
      const long long id = std::strtoll(k.c_str(), &end, 10);
      if (end == k.c_str() || *end != '\0' || errno == ERANGE || id < 0 || id >= (1 << 24) || !v.is_object() ||
          !v.contains("content") || !v["content"].is_string())
        return InvalidFormat(fmt::format("'{}': bad added_tokens_decoder entry '{}'", config_path, k));
      AddedToken a;
      a.id = static_cast<int32_t>(id);
      a.content = v["content"].get<std::string>();
      a.special = v.contains("special") && v["special"].is_boolean() && v["special"].get<bool>();
      added.push_back(std::move(a));
    }
  }
  auto t = from_tables(std::move(tokens), merges, std::move(added));
  if (!t.ok()) return t.status().annotate("'" + vocab_path + "'");
  return t;
}

std::optional<int32_t> Tokenizer::find(std::string_view token) const {
  const int32_t* it = token_to_id_.find(token);
  if (!it) return std::nullopt;
  return *it;
}

std::vector<std::pair<std::string, std::string>> Tokenizer::merge_list() const {
  std::vector<std::pair<std::string, std::string>> out(n_merge_lines_);
  merges_.for_each([&](uint64_t key, int32_t rank, int32_t) {
    out[rank] = {id_to_token_[static_cast<int32_t>(key >> 32)], id_to_token_[static_cast<int32_t>(key & 0xffffffffu)]};
  });
  // Duplicate merges (same pair twice) leave holes; drop them.
  std::erase_if(out, [](const auto& p) { return p.first.empty(); });
  return out;
}

// BPE on one pre-token: start from byte tokens, repeatedly merge every occurrence
// of the adjacent pair with the lowest rank (GPT-2 order).
void Tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<int32_t> syms;
  syms.reserve(piece.size());
  for (unsigned char b : piece) syms.push_back(byte_to_id_[b]);
  while (syms.size() > 1) {
    int32_t best_rank = INT32_MAX, left = -1, right = -1, merged = -1;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      const uint64_t key =
          (static_cast<uint64_t>(static_cast<uint32_t>(syms[i])) << 32) | static_cast<uint32_t>(syms[i + 1]);
      int32_t rank, out;
      if (merges_.get(key, &rank, &out) && rank < best_rank) {
        best_rank = rank;
        merged = out;
        left = syms[i];
        right = syms[i + 1];
      }
    }
    if (merged < 0) break;
    size_t w = 0;
    for (size_t i = 0; i < syms.size(); ++i) {
      if (i + 1 < syms.size() && syms[i] == left && syms[i + 1] == right) {
        syms[w++] = merged;
        ++i;
      } else {
        syms[w++] = syms[i];
      }
    }
    syms.resize(w);
  }
  out.insert(out.end(), syms.begin(), syms.end());
}

void Tokenizer::encode_ordinary(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(regex_->code, nullptr);
  QASR_CHECK(md != nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    int rc = regex_->jit ? pcre2_jit_match(regex_->code, subject, text.size(), pos, 0, md, nullptr)
                         : pcre2_match(regex_->code, subject, text.size(), pos, 0, md, nullptr);
    if (rc < 0) {  // nothing matches (cannot happen with this pattern): take the rest as one piece
      encode_piece(text.substr(pos), out);
      break;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[0] > pos) encode_piece(text.substr(pos, ov[0] - pos), out);  // unmatched gap
    if (ov[1] == ov[0]) {  // empty match: step one byte to guarantee progress
      encode_piece(text.substr(ov[0], 1), out);
      pos = ov[0] + 1;
      continue;
    }
    encode_piece(text.substr(ov[0], ov[1] - ov[0]), out);
    pos = ov[1];
  }
  pcre2_match_data_free(md);
}

std::vector<int32_t> Tokenizer::encode(std::string_view raw, bool split_special) const {
  // NFC needs valid UTF-8; invalid bytes become U+FFFD first.
  std::string valid = utf8::repair(raw);
  utf8proc_uint8_t* nfc = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(valid.c_str()));
  std::string text = nfc ? std::string(reinterpret_cast<char*>(nfc)) : valid;
  std::free(nfc);
  std::vector<int32_t> out;
  if (!split_special) {
    encode_ordinary(text, out);
    return out;
  }
  size_t start = 0, i = 0;
  while (i < text.size()) {
    const AddedToken* hit = nullptr;
    for (const AddedToken& a : added_) {  // longest first
      if (text.compare(i, a.content.size(), a.content) == 0) {
        hit = &a;
        break;
      }
    }
    if (hit) {
      encode_ordinary(std::string_view(text).substr(start, i - start), out);
      out.push_back(hit->id);
      i += hit->content.size();
      start = i;
    } else {
      ++i;
    }
  }
  encode_ordinary(std::string_view(text).substr(start), out);
  return out;
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= static_cast<int32_t>(id_to_bytes_.size())) return {};
  return id_to_bytes_[id];
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < static_cast<int32_t>(special_.size()) && special_[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  // Sized up front: one allocation however many ids (no growth per token).
  size_t total = 0;
  for (int32_t id : ids)
    if (!(skip_special && is_special(id))) total += token_bytes(id).size();
  std::string bytes;
  bytes.reserve(total);
  for (int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    bytes.append(token_bytes(id));
  }
  return utf8::repair(bytes);
}

}  // namespace qasr
