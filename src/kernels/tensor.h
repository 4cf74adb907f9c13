// Typed, non-owning views of weight tensors (data lives in a file mapping).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qasr {

enum class DType : uint8_t { F32, F16, BF16, Q8_0, Q4_0 };

inline bool is_quantized(DType t) {
  return t == DType::Q8_0 || t == DType::Q4_0;
}
// Bytes of n elements (n a multiple of 32 for quantized types).
inline size_t row_bytes(DType t, int64_t n) {
  switch (t) {
    case DType::F32:
      return 4 * static_cast<size_t>(n);
    case DType::F16:
    case DType::BF16:
      return 2 * static_cast<size_t>(n);
    case DType::Q8_0:
      return 34 * static_cast<size_t>(n / 32);
    case DType::Q4_0:
      return 18 * static_cast<size_t>(n / 32);
  }
  return 0;
}
// Element size for the unquantized types (alignment checks).
inline size_t dtype_size(DType t) {
  return t == DType::F32 ? 4 : 2;
}
const char* dtype_name(DType t);
// "f32", "q4_0", ... → DType; false if unknown.
bool parse_dtype(const std::string& s, DType* out);
// ggml type numbers (F32 0, F16 1, Q4_0 2, Q8_0 8, BF16 30); -1 if none.
int ggml_type_of(DType t);
bool dtype_from_ggml(int ggml_type, DType* out);

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
// Converts `n` elements starting at element `offset` to float (for quantized types
// both must be multiples of 32).
void to_f32(DType t, const void* data, size_t offset, size_t n, float* out);

}  // namespace qasr
