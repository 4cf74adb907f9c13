// One tensor-name table shared by every reader, the converter and the writers.
// The canonical name is the official checkpoint's (prefix `thinker.`); GGUF files
// use short llama.cpp-style names; chatllm.cpp's converter uses its own renames
// (chatllm-format.md §2.4). "{i}" stands for a layer index.
#pragma once

#include <optional>
#include <string>

namespace qasr {

struct TensorNameRow {
  const char* canonical;
  const char* gguf;
  const char* chatllm;
};

// Every row of the table (in file order for writers).
const TensorNameRow* tensor_name_table(int* count);

std::optional<std::string> canonical_from_gguf(const std::string& gguf_name);
std::optional<std::string> canonical_from_chatllm(const std::string& chatllm_name);
std::optional<std::string> gguf_from_canonical(const std::string& canonical);
std::optional<std::string> chatllm_from_canonical(const std::string& canonical);

}  // namespace qasr
