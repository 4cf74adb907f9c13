// Minimal .npy (NumPy format v1.0) writer and reader for float32 little-endian
// C-order arrays: used by debug dumps (`qasr mel -o`, `--dump-dir`) and tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace qasr {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

Status write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);
Expected<NpyArray> read_npy_f32(const std::string& path);

}  // namespace qasr
