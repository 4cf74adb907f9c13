#include "formats/gguf.h"

#include <cstring>
#include <set>

#include <fmt/format.h>

namespace qasr {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxString = uint64_t{1} << 30;

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }
  template <typename T>
  bool read(T* v) {
    if (left() < sizeof(T)) return false;
    std::memcpy(v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool read_string(std::string* s) {
    uint64_t len;
    if (!read(&len) || len > left() || len > kMaxString) return false;
    s->assign(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return true;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::BOOL:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
    case GgufType::STRING:  // at least the length field
      return 8;
    default:
      return 0;
  }
}

bool read_scalar(Cursor& c, GgufType t, int64_t* i, double* f) {
  switch (t) {
    case GgufType::U8: {
      uint8_t v;
      if (!c.read(&v)) return false;
      *i = v;
      return true;
    }
    case GgufType::I8: {
      int8_t v;
      if (!c.read(&v)) return false;
      *i = static_cast<int64_t>(v);  // NOLINT(bugprone-signed-char-misuse): GGUF I8 is signed
      return true;
    }
    case GgufType::BOOL: {
      uint8_t v;
      if (!c.read(&v) || v > 1) return false;
      *i = v;
      return true;
    }
    case GgufType::U16: {
      uint16_t v;
      if (!c.read(&v)) return false;
      *i = v;
      return true;
    }
    case GgufType::I16: {
      int16_t v;
      if (!c.read(&v)) return false;
      *i = v;
      return true;
    }
    case GgufType::U32: {
      uint32_t v;
      if (!c.read(&v)) return false;
      *i = v;
      return true;
    }
    case GgufType::I32: {
      int32_t v;
      if (!c.read(&v)) return false;
      *i = v;
      return true;
    }
    case GgufType::U64: {
      uint64_t v;
      if (!c.read(&v)) return false;
      *i = static_cast<int64_t>(v);
      return true;
    }
    case GgufType::I64: {
      int64_t v;
      if (!c.read(&v)) return false;
      *i = v;
      return true;
    }
    case GgufType::F32: {
      float v;
      if (!c.read(&v)) return false;
      *f = v;
      return true;
    }
    case GgufType::F64: {
      double v;
      if (!c.read(&v)) return false;
      *f = v;
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

Expected<GgufContent> parse_gguf(const uint8_t* bytes, size_t size, const std::string& name) {
  Cursor c(bytes, size);
  auto err = [&](const std::string& m) { return InvalidFormat(fmt::format("'{}': GGUF: {}", name, m)); };
  uint32_t magic = 0;
  if (!c.read(&magic) || magic != kMagic) return err("bad magic (not a GGUF file)");
  GgufContent g;
  if (!c.read(&g.version)) return err("truncated header");
  if (g.version != 3) return err(fmt::format("version {} is not supported (3)", g.version));
  uint64_t n_tensors, n_kv;
  if (!c.read(&n_tensors) || !c.read(&n_kv)) return err("truncated header");
  // Each kv needs ≥ 13 bytes, each tensor info ≥ 28: counts beyond the file are corrupt.
  if (n_kv > c.left() / 13) return err(fmt::format("metadata count {} exceeds the file", n_kv));
  if (n_tensors > c.left() / 28) return err(fmt::format("tensor count {} exceeds the file", n_tensors));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    uint32_t type;
    if (!c.read_string(&key) || !c.read(&type)) return err(fmt::format("truncated metadata entry {}", k));
    GgufValue v;
    if (type > static_cast<uint32_t>(GgufType::F64)) return err(fmt::format("key '{}': unknown type {}", key, type));
    v.type = static_cast<GgufType>(type);
    if (v.type == GgufType::STRING) {
      if (!c.read_string(&v.s)) return err(fmt::format("key '{}': truncated string", key));
    } else if (v.type == GgufType::ARRAY) {
      uint32_t et;
      uint64_t count;
      if (!c.read(&et) || !c.read(&count)) return err(fmt::format("key '{}': truncated array", key));
      if (et > static_cast<uint32_t>(GgufType::F64) || et == static_cast<uint32_t>(GgufType::ARRAY))
        return err(fmt::format("key '{}': unsupported array element type {}", key, et));
      v.elem = static_cast<GgufType>(et);
      if (count > c.left() / scalar_size(v.elem))
        return err(fmt::format("key '{}': array count {} exceeds the file", key, count));
      if (v.elem == GgufType::STRING) {
        v.strs.resize(count);
        for (uint64_t i = 0; i < count; ++i)
          if (!c.read_string(&v.strs[i])) return err(fmt::format("key '{}': truncated string {}", key, i));
      } else {
        const bool fl = v.elem == GgufType::F32 || v.elem == GgufType::F64;
        (fl ? v.floats.reserve(count) : v.ints.reserve(count));
        for (uint64_t i = 0; i < count; ++i) {
          int64_t iv = 0;
          double fv = 0;
          if (!read_scalar(c, v.elem, &iv, &fv)) return err(fmt::format("key '{}': bad array element {}", key, i));
          if (fl)
            v.floats.push_back(fv);
          else
            v.ints.push_back(iv);
        }
      }
    } else if (!read_scalar(c, v.type, &v.i, &v.f)) {
      return err(fmt::format("key '{}': bad value", key));
    }
    if (!g.kv.emplace(key, std::move(v)).second) return err(fmt::format("duplicate key '{}'", key));
  }
  if (auto it = g.kv.find("general.alignment"); it != g.kv.end()) {
    if (!it->second.is_int() || it->second.i < 8 || it->second.i > 4096 || (it->second.i & (it->second.i - 1)))
      return err("general.alignment must be a power of two in [8, 4096]");
    g.alignment = static_cast<uint32_t>(it->second.i);
  }
  struct Info {
    std::string name;
    std::vector<int64_t> shape;
    DType type;
    uint64_t offset;
    uint64_t bytes;
  };
  std::vector<Info> infos;
  std::set<std::string> names;
  for (uint64_t t = 0; t < n_tensors; ++t) {
    Info in;
    uint32_t nd, gt;
    if (!c.read_string(&in.name) || !c.read(&nd)) return err(fmt::format("truncated tensor info {}", t));
    if (nd < 1 || nd > 4) return err(fmt::format("tensor '{}': {} dimensions", in.name, nd));
    std::vector<int64_t> ne(nd);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t v;
      if (!c.read(&v)) return err(fmt::format("tensor '{}': truncated dims", in.name));
      if (v == 0 || v > (uint64_t{1} << 40) || numel > (uint64_t{1} << 40) / v)
        return err(fmt::format("tensor '{}': dimension {} out of range or overflowing", in.name, v));
      numel *= v;
      ne[d] = static_cast<int64_t>(v);
    }
    if (!c.read(&gt) || !c.read(&in.offset)) return err(fmt::format("tensor '{}': truncated info", in.name));
    if (!dtype_from_ggml(static_cast<int>(gt), &in.type))
      return err(fmt::format("tensor '{}': ggml type {} is not supported (F32, F16, BF16, Q8_0, Q4_0)", in.name, gt));
    if (is_quantized(in.type) && ne[0] % 32 != 0)
      return err(fmt::format("tensor '{}': quantized rows of {} are not a multiple of 32", in.name, ne[0]));
    in.shape.assign(ne.rbegin(), ne.rend());
    in.bytes = row_bytes(in.type, static_cast<int64_t>(numel));
    if (in.offset % g.alignment != 0)
      return err(fmt::format("tensor '{}': offset {} is not aligned", in.name, in.offset));
    if (!names.insert(in.name).second) return err(fmt::format("duplicate tensor name '{}'", in.name));
    infos.push_back(std::move(in));
  }
  g.data_offset = (c.pos() + g.alignment - 1) / g.alignment * g.alignment;
  if (g.data_offset > size) return err("truncated before the data section");
  const uint64_t data_size = size - g.data_offset;
  for (Info& in : infos) {
    if (in.offset > data_size || in.bytes > data_size - in.offset)
      return err(fmt::format("tensor '{}': data [{}, +{}) lies past the end of the file (truncated?)", in.name,
                             in.offset, in.bytes));
    TensorView tv;
    tv.name = std::move(in.name);
    tv.dtype = in.type;
    tv.shape = std::move(in.shape);
    tv.data = bytes + g.data_offset + in.offset;
    tv.nbytes = in.bytes;
    g.tensors.push_back(std::move(tv));
  }
  return g;
}

Expected<GgufFile> open_gguf(const std::string& path, bool populate) {
  QASR_ASSIGN_OR_RETURN(MappedFile m, MappedFile::open(path, populate));
  GgufFile f;
  QASR_ASSIGN_OR_RETURN(f.content, parse_gguf(m.data(), m.size(), path));
  f.file = std::move(m);
  return f;
}

// ---- writer ----

namespace {
void put_u32(std::string& s, uint32_t v) {
  s.append(reinterpret_cast<const char*>(&v), 4);
}
void put_u64(std::string& s, uint64_t v) {
  s.append(reinterpret_cast<const char*>(&v), 8);
}
void put_str(std::string& s, const std::string& v) {
  put_u64(s, v.size());
  s += v;
}
}  // namespace

void GgufWriter::set_u32(const std::string& key, uint32_t v) {
  put_str(header_, key);
  put_u32(header_, static_cast<uint32_t>(GgufType::U32));
  put_u32(header_, v);
  ++n_kv_;
}
void GgufWriter::set_i32(const std::string& key, int32_t v) {
  put_str(header_, key);
  put_u32(header_, static_cast<uint32_t>(GgufType::I32));
  put_u32(header_, static_cast<uint32_t>(v));
  ++n_kv_;
}
void GgufWriter::set_f32(const std::string& key, float v) {
  put_str(header_, key);
  put_u32(header_, static_cast<uint32_t>(GgufType::F32));
  header_.append(reinterpret_cast<const char*>(&v), 4);
  ++n_kv_;
}
void GgufWriter::set_bool(const std::string& key, bool v) {
  put_str(header_, key);
  put_u32(header_, static_cast<uint32_t>(GgufType::BOOL));
  header_.push_back(v ? 1 : 0);
  ++n_kv_;
}
void GgufWriter::set_string(const std::string& key, const std::string& v) {
  put_str(header_, key);
  put_u32(header_, static_cast<uint32_t>(GgufType::STRING));
  put_str(header_, v);
  ++n_kv_;
}
void GgufWriter::set_strings(const std::string& key, const std::vector<std::string>& v) {
  put_str(header_, key);
  put_u32(header_, static_cast<uint32_t>(GgufType::ARRAY));
  put_u32(header_, static_cast<uint32_t>(GgufType::STRING));
  put_u64(header_, v.size());
  for (const std::string& s : v) put_str(header_, s);
  ++n_kv_;
}
void GgufWriter::set_i32s(const std::string& key, const std::vector<int32_t>& v) {
  put_str(header_, key);
  put_u32(header_, static_cast<uint32_t>(GgufType::ARRAY));
  put_u32(header_, static_cast<uint32_t>(GgufType::I32));
  put_u64(header_, v.size());
  for (int32_t x : v) put_u32(header_, static_cast<uint32_t>(x));
  ++n_kv_;
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& shape, DType type) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  uint64_t off = 0;
  if (!tensors_.empty()) off = (tensors_.back().offset + tensors_.back().bytes + 31) / 32 * 32;
  tensors_.push_back({name, shape, type, off, row_bytes(type, n)});
}

Status GgufWriter::open(const std::string& path, const std::vector<std::string>& inputs) {
  path_ = path;
  std::string h;
  put_u32(h, kMagic);
  put_u32(h, 3);
  put_u64(h, tensors_.size());
  put_u64(h, n_kv_ + 1);
  h += header_;
  put_str(h, "general.alignment");
  put_u32(h, static_cast<uint32_t>(GgufType::U32));
  put_u32(h, 32);
  for (const Tensor& t : tensors_) {
    put_str(h, t.name);
    put_u32(h, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put_u64(h, static_cast<uint64_t>(*it));
    put_u32(h, static_cast<uint32_t>(ggml_type_of(t.type)));
    put_u64(h, t.offset);
  }
  h.append((32 - h.size() % 32) % 32, '\0');
  QASR_ASSIGN_OR_RETURN(file_, AtomicFile::create(path, inputs));
  open_ = true;
  return file_.write(h);
}

Status GgufWriter::write_tensor(const void* data, size_t bytes) {
  if (!open_ || next_ >= tensors_.size()) return Internal("GGUF writer: no tensor left to write");
  const Tensor& t = tensors_[next_];
  if (cur_ + bytes > t.bytes)
    return Internal(fmt::format("GGUF writer: tensor '{}' needs {} bytes, got {}", t.name, t.bytes, cur_ + bytes));
  static const char kZeros[32] = {};
  if (cur_ == 0 && written_ < t.offset) {
    QASR_RETURN_IF_ERROR(file_.write(kZeros, t.offset - written_));
    written_ = t.offset;
  }
  if (bytes) QASR_RETURN_IF_ERROR(file_.write(data, bytes));
  written_ += bytes;
  cur_ += bytes;
  if (cur_ == t.bytes) {
    ++next_;
    cur_ = 0;
  }
  return Status::Ok();
}

Status GgufWriter::close() {
  if (!open_) return Internal("GGUF writer: not open");
  if (next_ != tensors_.size())
    return Internal(fmt::format("GGUF writer: {} tensors not written", tensors_.size() - next_));
  open_ = false;
  return file_.commit();
}

}  // namespace qasr
