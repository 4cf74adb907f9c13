#include "formats/chatllm_bin.h"

#include <cstring>
#include <set>

#include <fmt/format.h>

namespace qasr {
namespace {

class Reader {
 public:
  Reader(const uint8_t* p, size_t n, size_t pos) : p_(p), n_(n), pos_(pos) {}
  size_t pos() const { return pos_; }
  size_t left() const { return pos_ <= n_ ? n_ - pos_ : 0; }
  bool i32(int32_t* v) {
    if (left() < 4) return false;
    std::memcpy(v, p_ + pos_, 4);
    pos_ += 4;
    return true;
  }
  bool bytes(size_t len, std::string* out) {
    if (left() < len) return false;
    out->assign(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return true;
  }
  bool u8(uint8_t* v) {
    if (left() < 1) return false;
    *v = p_[pos_++];
    return true;
  }
  void seek(size_t pos) { pos_ = pos; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_;
};

}  // namespace

Expected<ChatllmContent> parse_chatllm(const uint8_t* b, size_t size, const std::string& name) {
  auto err = [&](const std::string& m) { return InvalidFormat(fmt::format("'{}': chatllm .bin: {}", name, m)); };
  if (size < 20) return err(fmt::format("file of {} bytes is too short", size));
  if (std::memcmp(b, "ggmm", 4) != 0) return err("bad magic (expected 'ggmm')");
  ChatllmContent c;
  uint32_t version;
  std::memcpy(&version, b + 4, 4);
  std::memcpy(&c.offset_config, b + 8, 4);
  std::memcpy(&c.offset_tokenizer, b + 12, 4);
  std::memcpy(&c.offset_tensors, b + 16, 4);
  if (version != 1) return err(fmt::format("GGMM version {} is not supported (1)", version));
  if (c.offset_config < 20 || c.offset_config > size || c.offset_tokenizer > size || c.offset_tensors > size)
    return err(fmt::format("header offsets ({}, {}, {}) lie outside the file of {} bytes", c.offset_config,
                           c.offset_tokenizer, c.offset_tensors, size));
  size_t meta_end = c.offset_config;
  while (meta_end > 20 && b[meta_end - 1] == 0) --meta_end;
  c.meta_json.assign(reinterpret_cast<const char*>(b + 20), meta_end - 20);

  Reader r(b, size, c.offset_config);
  if (!r.i32(&c.model_type) || !r.i32(&c.file_version)) return err("truncated model type");
  if (c.model_type != kChatllmQwen3Asr)
    return err(fmt::format("model type 0x{:08X} is not Qwen3-ASR (0x{:08X})", static_cast<uint32_t>(c.model_type),
                           static_cast<uint32_t>(kChatllmQwen3Asr)));
  if (c.file_version != 1) return err(fmt::format("file version {} is not supported (1)", c.file_version));
  int32_t f[154];
  for (int i = 0; i < 154; ++i)
    if (!r.i32(&f[i])) return err("truncated config block");
  ChatllmConfig& k = c.config;
  k.dtype = f[0], k.vocab_size = f[1], k.hidden_size = f[2], k.num_attention_heads = f[3], k.num_hidden_layers = f[4];
  k.intermediate_size = f[5], k.max_length = f[6], k.num_key_value_heads = f[11], k.head_dim = f[12];
  std::memcpy(&k.rope_theta, &f[13], 4);
  k.tie_word_embeddings = f[21];
  if (r.pos() != c.offset_tokenizer)
    return err(
        fmt::format("header says the tokenizer starts at {}, but the config ends at {}", c.offset_tokenizer, r.pos()));
  if (k.vocab_size <= 0 || k.vocab_size > (1 << 24))
    return err(fmt::format("vocab_size {} out of range", k.vocab_size));

  // Tokenizer: (len, text, type)* until len = −1; then (len, "left right")* until −1.
  for (;;) {
    int32_t len;
    if (!r.i32(&len)) return err("truncated vocabulary");
    if (len == -1) break;
    if (len < 0 || static_cast<size_t>(len) > r.left())
      return err(fmt::format("vocabulary entry {} has bad length {}", c.tokens.size(), len));
    if (static_cast<int64_t>(c.tokens.size()) >= static_cast<int64_t>(k.vocab_size) + 100)
      return err("vocabulary has more entries than vocab_size allows");
    std::string s;
    uint8_t type;
    if (!r.bytes(len, &s) || !r.u8(&type)) return err("truncated vocabulary entry");
    c.tokens.push_back(std::move(s));
    c.token_types.push_back(type);
  }
  for (;;) {
    int32_t len;
    if (!r.i32(&len)) return err("truncated merges");
    if (len == -1) break;
    if (len < 0 || static_cast<size_t>(len) > r.left())
      return err(fmt::format("merge {} has bad length {}", c.merges.size(), len));
    std::string s;
    r.bytes(len, &s);
    size_t sp = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
    if (sp == std::string::npos) return err(fmt::format("merge {} ('{}') is not 'left right'", c.merges.size(), s));
    c.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
  }
  if (r.pos() != c.offset_tensors)
    return err(
        fmt::format("header says the tensors start at {}, but the tokenizer ends at {}", c.offset_tensors, r.pos()));

  // Tensor records to EOF.
  std::set<std::string> names;
  while (r.left() > 0) {
    int32_t nlen, nd;
    std::string tname;
    if (!r.i32(&nlen) || nlen <= 0 || nlen > 1024 || !r.bytes(nlen, &tname)) return err("truncated or bad tensor name");
    if (!r.i32(&nd) || nd < 1 || nd > 4) return err(fmt::format("tensor '{}': bad dimension count", tname));
    TensorView t;
    t.name = tname;
    uint64_t numel = 1;
    for (int i = 0; i < nd; ++i) {
      int32_t d;
      if (!r.i32(&d) || d <= 0) return err(fmt::format("tensor '{}': bad dimension", tname));
      if (numel > (uint64_t{1} << 40) / static_cast<uint64_t>(d))
        return err(fmt::format("tensor '{}': size overflows", tname));
      numel *= static_cast<uint64_t>(d);
      t.shape.push_back(d);
    }
    int32_t gt = -1;
    if (!r.i32(&gt) || !dtype_from_ggml(gt, &t.dtype) || t.dtype == DType::BF16)
      return err(fmt::format("tensor '{}': ggml type {} is not supported (F32, F16, Q8_0, Q4_0)", tname, gt));
    if (is_quantized(t.dtype) && t.shape.back() % 32 != 0)
      return err(fmt::format("tensor '{}': quantized rows of {} are not a multiple of 32", tname, t.shape.back()));
    const size_t data_pos = (r.pos() + 15) & ~size_t{15};
    t.nbytes = row_bytes(t.dtype, static_cast<int64_t>(numel));
    if (data_pos > size || t.nbytes > size - data_pos)
      return err(fmt::format("tensor '{}': data [{}, +{}) runs past the end of the file (truncated?)", tname, data_pos,
                             t.nbytes));
    t.data = b + data_pos;
    r.seek(data_pos + t.nbytes);
    if (!names.insert(tname).second) return err(fmt::format("duplicate tensor '{}'", tname));
    c.tensors.push_back(std::move(t));
  }
  return c;
}

Expected<ChatllmFile> open_chatllm(const std::string& path, bool populate) {
  QASR_ASSIGN_OR_RETURN(MappedFile m, MappedFile::open(path, populate));
  ChatllmFile f;
  QASR_ASSIGN_OR_RETURN(f.content, parse_chatllm(m.data(), m.size(), path));
  f.file = std::move(m);
  return f;
}

}  // namespace qasr
