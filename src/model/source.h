// Opens any model qasr reads (a Hugging Face folder, a GGUF file, a chatllm.cpp
// .bin) into one shape: config, tokenizer, special ids and tensor views under
// canonical (official checkpoint) names, backed by read-only mappings.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "kernels/tensor.h"
#include "model/config.h"
#include "text/special_tokens.h"
#include "text/tokenizer.h"

namespace qasr {

enum class ModelFormat { kHfSafetensors, kGguf, kChatllm };
const char* model_format_name(ModelFormat f);

struct ModelSource {
  ModelFormat format = ModelFormat::kHfSafetensors;
  std::string path;
  ModelConfig config;
  std::unique_ptr<Tokenizer> tokenizer;
  SpecialTokens special;
  std::vector<std::string> support_languages;
  std::map<std::string, TensorView> tensors;  // canonical names
  // Logits from the file's own thinker.lm_head.weight (chatllm does this; GGUF files
  // carry one only when converted from such a file). HF checkpoints are tied.
  bool separate_lm_head = false;
  bool synthetic = false;  // random weights written by `qasr synth` (transcripts are meaningless)
  std::vector<std::unique_ptr<MappedFile>> files;
  size_t mapped_bytes() const;
};

struct SourceOptions {
  bool populate = false;  // MAP_POPULATE the files
  bool mlock = false;     // lock the mappings in RAM
};

Expected<ModelSource> open_model_source(const std::string& path, const SourceOptions& opts = {});

}  // namespace qasr
