// Typed, non-owning views of weight tensors (data lives in a file mapping).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qasr {

enum class DType : uint8_t { F32, F16, BF16 };

inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }
const char* dtype_name(DType t);

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // outermost first (PyTorch order)
  const void* data = nullptr;
  size_t nbytes = 0;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// A weight matrix W[rows][cols] (PyTorch Linear layout: out × in), row-major.
struct Mat {
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;
};

// Reads element i of any supported dtype as float.
float load_f32(DType t, const void* data, size_t i);
// Converts `n` elements starting at element `offset` to float.
void to_f32(DType t, const void* data, size_t offset, size_t n, float* out);

}  // namespace qasr
