// Qwen2/Qwen3 byte-level BPE tokenizer (spec §6), built from vocab.json +
// merges.txt + tokenizer_config.json (added tokens from `added_tokens_decoder`),
// or from tables carried inside a model file.
//
// encode: NFC → split out added tokens (matched as whole strings, longest first)
//         → Qwen2 pre-tokenizer regex (PCRE2, UTF + UCP, JIT) → GPT-2 byte→unicode
//         → BPE by merge rank.
// decode: token strings → bytes (added tokens as their literal content), invalid
//         UTF-8 replaced by U+FFFD; with skip_special, exactly the added tokens
//         flagged `special: true` are dropped; ids without a string (padding rows
//         of the embedding) decode to nothing.
// No id is hard-coded: every special id is looked up by its content.
// Immutable after construction; all methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "text/flat_map.h"

namespace qasr {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;  // skipped by decode(skip_special = true)
};

class Tokenizer {
 public:
  // `tokens[id]` is the vocabulary string (GPT-2 byte-level form, e.g. "Ġthe").
  // Merges are pairs of vocabulary strings in rank order.
  static Expected<Tokenizer> from_tables(std::vector<std::string> tokens,
                                         const std::vector<std::pair<std::string, std::string>>& merges,
                                         std::vector<AddedToken> added);
  // A folder with vocab.json, merges.txt and tokenizer_config.json.
  static Expected<Tokenizer> load_dir(const std::string& dir);
  // The same from three paths (the forced aligner's tokenizer_config.json beside the shared
  // vocabulary).
  static Expected<Tokenizer> load_files(const std::string& vocab_json, const std::string& merges_txt,
                                        const std::string& tokenizer_config_json);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // With split_special, added tokens in the text (e.g. "<|im_end|>") become their ids, as
  // the reference tokenizer does; without, all of the text is ordinary text (user input:
  // a context string can never close the system turn).
  std::vector<int32_t> encode(std::string_view text, bool split_special = true) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special = true) const;
  // The raw bytes of one token (empty for ids without a string); for streaming.
  std::string_view token_bytes(int32_t id) const;
  bool is_special(int32_t id) const;

  // Id of a vocabulary string or added-token content.
  std::optional<int32_t> find(std::string_view token) const;
  // Number of ids that have a string (vocabulary + added tokens): max id + 1.
  int32_t size() const { return static_cast<int32_t>(id_to_token_.size()); }
  int32_t n_vocab_entries() const { return n_vocab_entries_; }
  size_t n_merges() const { return merges_.size(); }
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  const std::string& token_string(int32_t id) const { return id_to_token_[id]; }
  // Merges as (left, right) vocabulary strings in rank order (for writing model files).
  std::vector<std::pair<std::string, std::string>> merge_list() const;

 private:
  Tokenizer();
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  void encode_ordinary(std::string_view text, std::vector<int32_t>& out) const;

  struct Regex;
  std::vector<std::string> id_to_token_;  // vocab string or added content; "" for holes
  std::vector<std::string> id_to_bytes_;  // decoded bytes per id
  std::vector<uint8_t> special_;          // per id: skipped when decoding with skip_special
  // Views into id_to_token_ (its strings never move once built).
  FlatStrMap token_to_id_;
  std::vector<AddedToken> added_;  // sorted by content length, longest first
  int32_t n_vocab_entries_ = 0;
  int32_t byte_to_id_[256];
  // (left id << 32 | right id) → (rank, merged id)
  FlatPairMap merges_;
  size_t n_merge_lines_ = 0;
  std::unique_ptr<Regex> regex_;
};

// GPT-2 byte → unicode code point map (printable bytes map to themselves).
char32_t byte_to_unicode(uint8_t b);

}  // namespace qasr
