// GGUF v3, qasr's own model file: header, typed metadata, tensor infos, data
// aligned to `general.alignment` (32). Our own reader (over a mapping, every count,
// size and offset checked before use) and a streaming writer.
// Tensor dims in the file are innermost first (ggml `ne`); views reverse them to
// outermost first like every other reader here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/io.h"
#include "base/mapped_file.h"
#include "base/status.h"
#include "kernels/tensor.h"

namespace qasr {

enum class GgufType : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };

struct GgufValue {
  GgufType type = GgufType::U32;
  GgufType elem = GgufType::U32;  // element type of an ARRAY
  int64_t i = 0;                  // integer and bool values
  double f = 0;                   // float values
  std::string s;                  // STRING
  std::vector<int64_t> ints;      // integer/bool arrays
  std::vector<double> floats;     // float arrays
  std::vector<std::string> strs;  // string arrays
  bool is_int() const {
    return type <= GgufType::I32 || type == GgufType::U64 || type == GgufType::I64 || type == GgufType::BOOL;
  }
};

struct GgufContent {
  uint32_t version = 0;
  uint32_t alignment = 32;
  std::map<std::string, GgufValue> kv;
  std::vector<TensorView> tensors;  // names as in the file
  uint64_t data_offset = 0;
};

// Parses a GGUF image (`bytes` = the whole file). The fuzzable core.
Expected<GgufContent> parse_gguf(const uint8_t* bytes, size_t size, const std::string& name);

struct GgufFile {
  MappedFile file;
  GgufContent content;
};
Expected<GgufFile> open_gguf(const std::string& path, bool populate = false);

// Writes a GGUF file in one pass: metadata and tensor infos first, then each
// tensor's data in the order it was added (so data can be produced one tensor at
// a time; memory stays far below the model size).
class GgufWriter {
 public:
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  // shape outermost first.
  void add_tensor(const std::string& name, const std::vector<int64_t>& shape, DType type);

  // Writes everything up to the data section into a temporary beside `path` (AtomicFile:
  // the final name appears only at close(); `inputs` may not be overwritten).
  Status open(const std::string& path, const std::vector<std::string>& inputs = {});
  // Appends bytes of the current tensor (in parts if wanted); once a tensor's
  // byte size is reached, the next one begins.
  Status write_tensor(const void* data, size_t bytes);
  Status close();

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    DType type;
    uint64_t offset, bytes;
  };
  std::string header_;  // serialised kv pairs
  uint64_t n_kv_ = 0;
  std::vector<Tensor> tensors_;
  size_t next_ = 0;
  uint64_t written_ = 0;
  uint64_t cur_ = 0;  // bytes written of the current tensor
  AtomicFile file_;
  bool open_ = false;
  std::string path_;
};

}  // namespace qasr
