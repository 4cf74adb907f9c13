#include "text/prompt.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

namespace qasr {

Expected<Prompt> build_prompt(const Tokenizer& tok, const SpecialTokens& sp, int32_t n_audio, std::string_view context,
                              std::string_view forced_language) {
  if (n_audio < 0) return InvalidArgument("negative audio token count");
  // The template's own text is encoded around the special ids; the context is user text
  // and is encoded without recognising special tokens in it (qasr deliberately differs
  // from the reference processor here: "<|im_end|>" in a context stays plain text).
  // "system\n" + context is one ordinary piece, so the ids equal the reference's for any
  // context without special-token strings.
  Prompt p;
  auto add = [&](std::vector<int32_t> ids) { p.ids.insert(p.ids.end(), ids.begin(), ids.end()); };
  p.ids.push_back(sp.im_start);
  add(tok.encode("system\n" + std::string(context), /*split_special=*/false));
  p.ids.push_back(sp.im_end);
  add(tok.encode("\n"));
  p.ids.push_back(sp.im_start);
  add(tok.encode("user\n"));
  p.ids.push_back(sp.audio_start);
  p.audio_offset = static_cast<int32_t>(p.ids.size());
  p.n_audio = n_audio;
  p.ids.insert(p.ids.end(), n_audio, sp.audio_pad);
  p.ids.push_back(sp.audio_end);
  p.ids.push_back(sp.im_end);
  add(tok.encode("\n"));
  p.ids.push_back(sp.im_start);
  if (forced_language.empty()) {
    add(tok.encode("assistant\n"));
  } else {
    add(tok.encode("assistant\nlanguage " + std::string(forced_language), /*split_special=*/false));
    p.ids.push_back(sp.asr_text);
  }
  return p;
}

}  // namespace qasr
