// The special token ids the pipeline needs, looked up by content in the
// tokenizer and cross-checked against config.json / generation_config.json
// (never hard-coded; spec §5.2, pitfall P9).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "text/tokenizer.h"

namespace qasr {

struct SpecialTokens {
  int32_t im_start = -1;          // <|im_start|>
  int32_t im_end = -1;            // <|im_end|>
  int32_t endoftext = -1;         // <|endoftext|>
  int32_t audio_start = -1;       // <|audio_start|>
  int32_t audio_end = -1;         // <|audio_end|>
  int32_t audio_pad = -1;         // <|audio_pad|>: rows replaced by encoder output
  int32_t asr_text = -1;          // <asr_text>
  std::vector<int32_t> stop_ids;  // generation stops on any of these
};

// Looks the tokens up by content. Stop ids default to <|im_end|> and <|endoftext|>
// until generation_config.json says otherwise.
Expected<SpecialTokens> find_special_tokens(const Tokenizer& tok);

// Applies config.json (thinker_config.audio_token_id / audio_start_token_id /
// audio_end_token_id must agree with the tokenizer) and generation_config.json
// (eos_token_id: int or list → stop ids). Empty strings skip a file.
Status apply_model_configs(SpecialTokens& sp, const std::string& config_json,
                           const std::string& generation_config_json);

// Replaces the stop ids (each must lie in [0, 2^24); the model later checks them against
// its vocabulary).
Status set_stop_ids(SpecialTokens& sp, const std::vector<int64_t>& ids);

// Same, reading the files from a Hugging Face folder (generation_config.json optional).
Status apply_model_config_files(SpecialTokens& sp, const std::string& dir);

}  // namespace qasr
