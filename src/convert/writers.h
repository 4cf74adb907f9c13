// Writing whole model files, one tensor at a time (memory stays far below the
// model size): GGUF (qasr's own format) and chatllm.cpp's .bin. Used by
// `qasr convert` and `qasr synth`.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/pattern.h"
#include "base/status.h"
#include "kernels/tensor.h"
#include "model/config.h"
#include "text/special_tokens.h"
#include "text/tokenizer.h"

namespace qasr {

// Where one output tensor's values come from.
struct TensorData {
  std::string canonical;       // official name, e.g. thinker.model.embed_tokens.weight
  std::vector<int64_t> shape;  // outermost first
  DType type = DType::F32;     // type to write
  // Either bytes already in `type` (carried over without requantizing)...
  const TensorView* raw = nullptr;
  // ...or f32 rows produced on demand: fill(row0, n_rows, out[n_rows × cols]).
  std::function<void(int64_t, int64_t, float*)> fill;
};

struct ModelMeta {
  ModelConfig config;
  const Tokenizer* tokenizer = nullptr;
  SpecialTokens special;
  std::vector<std::string> languages;
  std::string name;
  std::string config_json;            // chatllm meta: config.json (HF form)
  std::string tokenizer_config_json;  // chatllm meta: tokenizer_config.json
  // Called after each tensor is written: (tensors done, tensors in all). May be empty.
  std::function<void(size_t, size_t)> progress;
};

// Both write through AtomicFile (base/io.h): the file appears whole or not at all, and
// `inputs` (the source's files) are never overwritten.
Status write_gguf_model(const std::string& path, const ModelMeta& meta, const std::vector<TensorData>& tensors,
                        const std::vector<std::string>& inputs = {});
Status write_chatllm_model(const std::string& path, const ModelMeta& meta, const std::vector<TensorData>& tensors,
                           const std::vector<std::string>& inputs = {});

// The type policy of `qasr convert` (HF source): norms and biases f32, conv kernels
// f16, a quantized request falls back to f16 for rows not divisible by 32, and the
// token embedding / output stays at least q8_0 when q4_0 is asked for (pitfall P16).
// `overrides` (REGEX=TYPE, matched against the canonical and GGUF names) come first.
struct TypeOverride {
  Pattern pattern;  // PCRE2 with a match limit (base/pattern.h)
  std::string text;
  DType type;
};
Expected<DType> choose_tensor_type(const std::string& canonical, const std::vector<int64_t>& shape, DType requested,
                                   const std::vector<TypeOverride>& overrides);
// chatllm's converter policy: 1-D f32; q4_0/q8_0 where rows divide by 32, else f16; f16/f32 → f16.
DType chatllm_tensor_type(const std::vector<int64_t>& shape, DType requested);
Expected<std::vector<TypeOverride>> parse_type_overrides(const std::vector<std::string>& specs);

}  // namespace qasr
