#include "text/prompt.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

namespace qasr {

Expected<Prompt> build_prompt(const Tokenizer& tok, const SpecialTokens& sp, int32_t n_audio,
                              std::string_view context, std::string_view forced_language) {
  if (n_audio < 0) return InvalidArgument("negative audio token count");
  const std::string& im_start = tok.token_string(sp.im_start);
  const std::string& im_end = tok.token_string(sp.im_end);
  // Added tokens split the text into independent segments, so encoding the part
  // before and after the placeholders separately equals encoding the whole.
  std::string head = im_start + "system\n" + std::string(context) + im_end + "\n" + im_start + "user\n" +
                     tok.token_string(sp.audio_start);
  std::string tail = tok.token_string(sp.audio_end) + im_end + "\n" + im_start + "assistant\n";
  if (!forced_language.empty()) tail += "language " + std::string(forced_language) + tok.token_string(sp.asr_text);
  Prompt p;
  p.ids = tok.encode(head);
  p.audio_offset = static_cast<int32_t>(p.ids.size());
  p.n_audio = n_audio;
  p.ids.insert(p.ids.end(), n_audio, sp.audio_pad);
  std::vector<int32_t> t = tok.encode(tail);
  p.ids.insert(p.ids.end(), t.begin(), t.end());
  // A context that itself contains <|audio_pad|> would shift the audio rows.
  if (std::count(p.ids.begin(), p.ids.end(), sp.audio_pad) != n_audio)
    return InvalidArgument("the context text must not contain the <|audio_pad|> token");
  return p;
}

}  // namespace qasr
