// Reader for Hugging Face safetensors files over a read-only mapping (no copy):
// u64 little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets: [begin, end]}}, then the data. Every entry is validated (dtype,
// shape × element size = byte range, range inside the file, alignment) before a
// view is handed out. F32, F16 and BF16 are accepted.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "kernels/tensor.h"

namespace qasr {

struct SafetensorsFile {
  MappedFile file;
  std::vector<TensorView> tensors;
};

// Parses one mapped file.
Expected<SafetensorsFile> open_safetensors(const std::string& path);
// Parses a header held in memory (`bytes` is the whole file): the fuzzable core.
Expected<std::vector<TensorView>> parse_safetensors(const uint8_t* bytes, size_t size, const std::string& name);

// A Hugging Face folder's weights: model.safetensors, or the shards listed in
// model.safetensors.index.json. Views stay valid while this object lives.
struct SafetensorsSet {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, TensorView> by_name;
  size_t mapped_bytes() const;
};
Expected<SafetensorsSet> open_safetensors_dir(const std::string& dir);

}  // namespace qasr
