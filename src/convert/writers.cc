#include "convert/writers.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "formats/chatllm_bin.h"
#include "formats/gguf.h"
#include "formats/tensor_names.h"
#include "kernels/half.h"
#include "kernels/quant.h"
#include "model/gguf_keys.h"

namespace qasr {
namespace {

constexpr int64_t kChunkElems = int64_t{1} << 20;  // ~4 MB of f32 per step

// f32 → bytes of `type` (n a multiple of 32 for quantized types).
void encode(const float* x, int64_t n, DType type, uint8_t* out) {
  switch (type) {
    case DType::F32:
      std::memcpy(out, x, 4 * n);
      break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(out)[i] = f32_to_f16(x[i]);
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(out)[i] = f32_to_bf16(x[i]);
      break;
    case DType::Q8_0:
      quantize_q8_0(x, reinterpret_cast<BlockQ8_0*>(out), n);
      break;
    case DType::Q4_0:
      quantize_q4_0(x, reinterpret_cast<BlockQ4_0*>(out), n);
      break;
  }
}

// Streams one tensor's bytes to `sink` in chunks of whole rows.
Status emit(const TensorData& t, const std::function<Status(const void*, size_t)>& sink) {
  int64_t numel = 1;
  for (int64_t d : t.shape) numel *= d;
  const int64_t cols = t.shape.back(), rows = numel / cols;
  if (is_quantized(t.type) && cols % kQK != 0)
    return InvalidArgument(fmt::format("tensor '{}': rows of {} cannot be {}", t.canonical, cols, dtype_name(t.type)));
  if (t.raw && t.raw->dtype == t.type) {
    const uint8_t* p = static_cast<const uint8_t*>(t.raw->data);
    for (size_t off = 0; off < t.raw->nbytes; off += size_t{64} << 20)
      QASR_RETURN_IF_ERROR(sink(p + off, std::min(size_t{64} << 20, t.raw->nbytes - off)));
    return Status::Ok();
  }
  const int64_t rows_per = std::max<int64_t>(1, kChunkElems / cols);
  std::vector<float> f(static_cast<size_t>(rows_per * cols));
  std::vector<uint8_t> bytes(row_bytes(t.type, rows_per * cols));
  for (int64_t r0 = 0; r0 < rows; r0 += rows_per) {
    const int64_t nr = std::min(rows_per, rows - r0);
    if (t.raw)
      to_f32(t.raw->dtype, t.raw->data, static_cast<size_t>(r0 * cols), static_cast<size_t>(nr * cols), f.data());
    else
      t.fill(r0, nr, f.data());
    encode(f.data(), nr * cols, t.type, bytes.data());
    QASR_RETURN_IF_ERROR(sink(bytes.data(), row_bytes(t.type, nr * cols)));
  }
  return Status::Ok();
}

}  // namespace

Status write_gguf_model(const std::string& path, const ModelMeta& m, const std::vector<TensorData>& tensors,
                        const std::vector<std::string>& inputs) {
  GgufWriter w;
  const std::string p = kGgufPrefix;
  w.set_string("general.architecture", kGgufArchitecture);
  w.set_string("general.name", m.name);
  const bool aligner = m.config.kind == ModelKind::kForcedAligner;
  if (aligner) w.set_string(kGgufModelKindKey, model_kind_name(m.config.kind));
  ModelConfig cfg = m.config;  // the table's accessors take a mutable config
  cfg.audio_token_id = m.special.audio_pad;
  for (const GgufIntKey& k : kGgufIntKeys)
    if (!k.aligner_only || aligner) w.set_u32(p + k.suffix, static_cast<uint32_t>(*k.field(cfg)));
  w.set_u32(p + "attention.value_length", m.config.text.head_dim);  // llama.cpp convention; not read back
  for (const GgufFloatKey& k : kGgufFloatKeys)
    if (!k.aligner_only || aligner) w.set_f32(p + k.suffix, static_cast<float>(k.get(m.config)));
  w.set_i32s(p + "stop_token_ids", m.special.stop_ids);
  w.set_strings(p + "support_languages", m.languages);
  // Tokenizer (llama.cpp conventions): type 1 normal, 3 control (special), 4 user-defined, 5 unused.
  const Tokenizer& tok = *m.tokenizer;
  std::vector<std::string> tokens(tok.size());
  std::vector<int32_t> types(tok.size(), 5);
  for (int32_t i = 0; i < tok.size(); ++i) {
    tokens[i] = tok.token_string(i);
    if (!tokens[i].empty()) types[i] = 1;
  }
  for (const AddedToken& at : tok.added_tokens()) types[at.id] = at.special ? 3 : 4;
  std::vector<std::string> merges;
  for (const auto& [l, r] : tok.merge_list()) {
    std::string m = l;
    m += ' ';
    m += r;
    merges.push_back(std::move(m));
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "qwen2");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_strings("tokenizer.ggml.merges", merges);
  w.set_u32("tokenizer.ggml.eos_token_id", m.special.im_end);
  w.set_u32("tokenizer.ggml.padding_token_id", m.special.endoftext);
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  for (const TensorData& td : tensors) {
    auto g = gguf_from_canonical(td.canonical);
    if (!g) return Internal(fmt::format("no GGUF name for tensor '{}'", td.canonical));
    w.add_tensor(*g, td.shape, td.type);
  }
  QASR_RETURN_IF_ERROR(w.open(path, inputs));
  for (size_t i = 0; i < tensors.size(); ++i) {
    QASR_RETURN_IF_ERROR(emit(tensors[i], [&](const void* d, size_t n) { return w.write_tensor(d, n); }));
    if (m.progress) m.progress(i + 1, tensors.size());
  }
  return w.close();
}

Status write_chatllm_model(const std::string& path, const ModelMeta& m, const std::vector<TensorData>& tensors,
                           const std::vector<std::string>& inputs) {
  using nlohmann::json;
  QASR_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path, inputs));
  Status st = Status::Ok();
  auto put = [&](const void* p, size_t n) {
    if (st.ok()) st = f.write(p, n);
  };
  auto put_i32 = [&](int32_t v) { put(&v, 4); };
  put("ggmm", 4);
  put_i32(1);
  put_i32(0), put_i32(0), put_i32(0);  // offsets, patched at the end
  json meta = json::object();
  meta["config.json"] = json::parse(m.config_json, nullptr, false);
  meta["tokenizer_config.json"] = json::parse(m.tokenizer_config_json, nullptr, false);
  meta["preprocessor_config.json"] = {{"chunk_length", 30},
                                      {"feature_extractor_type", "WhisperFeatureExtractor"},
                                      {"feature_size", m.config.audio.num_mel_bins},
                                      {"hop_length", 160},
                                      {"n_fft", 400},
                                      {"n_samples", 480000},
                                      {"nb_max_frames", 3000},
                                      {"padding_side", "right"},
                                      {"padding_value", 0.0},
                                      {"return_attention_mask", true}};
  meta["model_name"] = m.name;
  std::string ms = meta.dump(-1, ' ', false, json::error_handler_t::replace);
  ms.append((4 - ms.size() % 4) % 4, '\0');
  put(ms.data(), ms.size());
  const uint32_t off_config = static_cast<uint32_t>(20 + ms.size());
  put_i32(kChatllmQwen3Asr);
  put_i32(1);
  const TextConfig& t = m.config.text;
  int32_t cfg[154] = {};
  DType first = tensors.empty() ? DType::F32 : tensors.front().type;
  for (const TensorData& td : tensors)
    if (td.shape.size() == 2) first = td.type;
  cfg[0] = ggml_type_of(first);
  cfg[1] = t.vocab, cfg[2] = t.hidden, cfg[3] = t.heads, cfg[4] = t.layers, cfg[5] = t.intermediate;
  cfg[6] = t.max_position, cfg[7] = -1, cfg[8] = -1, cfg[9] = -1, cfg[10] = -1;
  cfg[11] = t.kv_heads, cfg[12] = t.head_dim;
  const float theta = static_cast<float>(t.rope_theta), yarn = -1.0f;
  std::memcpy(&cfg[13], &theta, 4);
  std::memcpy(&cfg[14], &yarn, 4);
  cfg[15] = -1, cfg[16] = 1, cfg[17] = -1, cfg[18] = -1, cfg[19] = -1, cfg[20] = 0, cfg[21] = 0;
  cfg[150] = 24, cfg[151] = 20, cfg[152] = 20, cfg[153] = 0;
  put(cfg, sizeof(cfg));
  const uint32_t off_tok = off_config + 8 + 616;
  const Tokenizer& tok = *m.tokenizer;
  std::vector<uint8_t> is_added(tok.size(), 0);
  for (const AddedToken& at : tok.added_tokens()) is_added[at.id] = 1;
  for (int32_t i = 0; i < tok.size(); ++i) {
    const std::string& s = tok.token_string(i);
    put_i32(static_cast<int32_t>(s.size()));
    put(s.data(), s.size());
    uint8_t type = is_added[i] ? 4 : 1;
    put(&type, 1);
  }
  put_i32(-1);
  for (const auto& [l, r] : tok.merge_list()) {
    std::string s = l;
    s += ' ';
    s += r;
    put_i32(static_cast<int32_t>(s.size()));
    put(s.data(), s.size());
  }
  put_i32(-1);
  const uint64_t off_tensors = f.size();
  for (const TensorData& td : tensors) {
    auto name = chatllm_from_canonical(td.canonical);
    if (!name) return Internal(fmt::format("no chatllm name for tensor '{}'", td.canonical));
    put_i32(static_cast<int32_t>(name->size()));
    put(name->data(), name->size());
    put_i32(static_cast<int32_t>(td.shape.size()));
    for (int64_t d : td.shape) put_i32(static_cast<int32_t>(d));
    put_i32(ggml_type_of(td.type));
    static const char kZeros[16] = {};
    put(kZeros, static_cast<size_t>((16 - f.size() % 16) % 16));
    QASR_RETURN_IF_ERROR(st);
    QASR_RETURN_IF_ERROR(emit(td, [&](const void* d, size_t n) { return f.write(d, n); }));
    if (m.progress) m.progress(static_cast<size_t>(&td - tensors.data()) + 1, tensors.size());
  }
  QASR_RETURN_IF_ERROR(st);
  const int32_t offsets[3] = {static_cast<int32_t>(off_config), static_cast<int32_t>(off_tok),
                              static_cast<int32_t>(off_tensors)};
  QASR_RETURN_IF_ERROR(f.pwrite(offsets, sizeof offsets, 8));
  return f.commit();
}

Expected<DType> choose_tensor_type(const std::string& canonical, const std::vector<int64_t>& shape, DType requested,
                                   const std::vector<TypeOverride>& overrides) {
  if (shape.size() <= 1) return DType::F32;  // norms and biases, whatever the overrides say
  const std::string gguf = gguf_from_canonical(canonical).value_or(canonical);
  for (const TypeOverride& o : overrides) {
    QASR_ASSIGN_OR_RETURN(const bool on_canonical, o.pattern.search(canonical));
    QASR_ASSIGN_OR_RETURN(const bool on_gguf, o.pattern.search(gguf));
    if (on_canonical || on_gguf) {
      if (is_quantized(o.type) && shape.back() % kQK != 0)
        return InvalidArgument(fmt::format("--tensor-type {}: '{}' has rows of {}, which {} cannot hold", o.text,
                                           canonical, shape.back(), dtype_name(o.type)));
      return o.type;
    }
  }
  // Conv kernels (innermost dim 3, cannot be blocked): f16, or the requested float type
  // when that is f32/bf16 (an f32 file stays exact).
  if (shape.size() == 4) return requested == DType::F32 || requested == DType::BF16 ? requested : DType::F16;
  if (is_quantized(requested) && shape.back() % kQK != 0) return DType::F16;
  const bool embedding = canonical == "thinker.model.embed_tokens.weight" || canonical == "thinker.lm_head.weight";
  if (embedding && requested == DType::Q4_0) return DType::Q8_0;
  return requested;
}

DType chatllm_tensor_type(const std::vector<int64_t>& shape, DType requested) {
  if (shape.size() <= 1) return DType::F32;
  if (is_quantized(requested)) return shape.back() % kQK == 0 ? requested : DType::F16;
  return DType::F16;  // chatllm's converter writes f16 for both -t f16 and -t f32
}

Expected<std::vector<TypeOverride>> parse_type_overrides(const std::vector<std::string>& specs) {
  std::vector<TypeOverride> out;
  for (const std::string& s : specs) {
    size_t eq = s.rfind('=');
    DType t;
    if (eq == std::string::npos || !parse_dtype(s.substr(eq + 1), &t))
      return InvalidArgument(
          fmt::format("--tensor-type '{}': expected REGEX=TYPE with TYPE one of f32, f16, bf16, q8_0, q4_0", s));
    auto pattern = Pattern::compile(s.substr(0, eq));
    if (!pattern.ok()) return pattern.status().annotate(fmt::format("--tensor-type '{}'", s));
    out.push_back({std::move(pattern).value(), s, t});
  }
  return out;
}

}  // namespace qasr
