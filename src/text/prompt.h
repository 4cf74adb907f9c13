// The transcription prompt (spec §5.1, the official chat template rendered with
// add_generation_prompt and the audio placeholder expanded to N_audio copies):
//
//   <|im_start|>system\n{context}<|im_end|>\n<|im_start|>user\n<|audio_start|>
//   <|audio_pad|> × N_audio <|audio_end|><|im_end|>\n<|im_start|>assistant\n
//   [language {Lang}<asr_text>]            (only when a language is forced)
//
// The text is encoded by the tokenizer, so every id comes from its files.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "text/special_tokens.h"
#include "text/tokenizer.h"

namespace qasr {

struct Prompt {
  std::vector<int32_t> ids;
  int32_t audio_offset = 0;  // index of the first <|audio_pad|>
  int32_t n_audio = 0;       // number of <|audio_pad|> rows
};

// `forced_language` must be a canonical name ("English"); empty = auto-detect.
Expected<Prompt> build_prompt(const Tokenizer& tok, const SpecialTokens& sp, int32_t n_audio, std::string_view context,
                              std::string_view forced_language);

}  // namespace qasr
