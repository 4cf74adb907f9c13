// Reader for chatllm.cpp's Qwen3-ASR model files ("ggmm" v1; layout in
// chatllm-format.md §2): header with three offsets, meta JSON (the HF config
// files), model type + version, a 616-byte config struct, the BPE tokenizer
// section, then tensor records (dims outermost first, data 16-byte aligned) to EOF.
// Every offset, count and size is checked before use; the header's offsets must
// agree with what is parsed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "kernels/tensor.h"

namespace qasr {

inline constexpr int32_t kChatllmQwen3Asr = 0x1000010F;

struct ChatllmConfig {  // the fields qasr uses from the 616-byte struct
  int32_t dtype, vocab_size, hidden_size, num_attention_heads, num_hidden_layers, intermediate_size, max_length;
  int32_t num_key_value_heads, head_dim, tie_word_embeddings;
  float rope_theta;
};

struct ChatllmContent {
  std::string meta_json;  // verbatim meta block (NULs stripped)
  int32_t model_type = 0, file_version = 0;
  ChatllmConfig config{};
  std::vector<std::string> tokens;   // id → token text (GPT-2 byte-level form)
  std::vector<uint8_t> token_types;  // 1 normal, 4 user-defined (added), ...
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<TensorView> tensors;  // chatllm names
  uint32_t offset_config = 0, offset_tokenizer = 0, offset_tensors = 0;
};

Expected<ChatllmContent> parse_chatllm(const uint8_t* bytes, size_t size, const std::string& name);

struct ChatllmFile {
  MappedFile file;
  ChatllmContent content;
};
Expected<ChatllmFile> open_chatllm(const std::string& path, bool populate = false);

}  // namespace qasr
