// `qasr convert`: any model qasr reads → one GGUF file, streamed tensor by tensor.
// A chatllm .bin's tensors are carried over as they are (no requantizing); other
// sources follow the type policy in writers.h.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/tensor.h"

namespace qasr {

struct ConvertOptions {
  DType type = DType::Q8_0;
  std::vector<std::string> tensor_types;         // REGEX=TYPE overrides
  std::function<void(size_t, size_t)> progress;  // (tensors written, tensors in all)
};

struct ConvertReport {
  size_t n_tensors = 0;
  size_t bytes_written = 0;
};

Expected<ConvertReport> convert_to_gguf(const std::string& src, const std::string& out, const ConvertOptions& opts);

}  // namespace qasr
