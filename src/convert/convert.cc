#include "convert/convert.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include "model/source.h"
#include "formats/tensor_names.h"
#include "convert/writers.h"

namespace qasr {

std::vector<std::string> canonical_tensor_order(const ModelConfig& c, bool with_lm_head) {
  int n = 0;
  const TensorNameRow* rows = tensor_name_table(&n);
  std::vector<std::string> out;
  auto add_layer_rows = [&](const char* prefix, int layers) {
    for (int l = 0; l < layers; ++l)
      for (int i = 0; i < n; ++i) {
        std::string s = rows[i].canonical;
        if (s.rfind(prefix, 0) != 0) continue;
        s.replace(s.find("{i}"), 3, std::to_string(l));
        out.push_back(s);
      }
  };
  bool enc_done = false, dec_done = false;
  for (int i = 0; i < n; ++i) {
    std::string s = rows[i].canonical;
    if (s.find("{i}") != std::string::npos) {
      if (s.rfind("thinker.audio_tower.layers.", 0) == 0 && !enc_done) {
        add_layer_rows("thinker.audio_tower.layers.", c.audio.layers);
        enc_done = true;
      } else if (s.rfind("thinker.model.layers.", 0) == 0 && !dec_done) {
        add_layer_rows("thinker.model.layers.", c.text.layers);
        dec_done = true;
      }
      continue;
    }
    if (s == "thinker.lm_head.weight" && !with_lm_head) continue;
    out.push_back(s);
  }
  return out;
}

Expected<ConvertReport> convert_to_gguf(const std::string& src_path, const std::string& out, const ConvertOptions& o) {
  QASR_ASSIGN_OR_RETURN(std::vector<TypeOverride> overrides, parse_type_overrides(o.tensor_types));
  auto src = open_model_source(src_path);
  if (!src.ok()) return src.status();
  ModelMeta meta;
  meta.config = src->config;
  meta.tokenizer = src->tokenizer.get();
  meta.special = src->special;
  meta.languages = src->support_languages;
  std::string base = src_path;
  while (!base.empty() && base.back() == '/') base.pop_back();
  meta.name = base.substr(base.find_last_of('/') + 1);
  if (src->synthetic) meta.name = "qasr-synthetic (random weights) " + meta.name;
  const bool carry = src->format == ModelFormat::kChatllm;
  std::vector<TensorData> tensors;
  ConvertReport rep;
  for (const std::string& name : canonical_tensor_order(src->config, src->separate_lm_head)) {
    auto it = src->tensors.find(name);
    if (it == src->tensors.end()) return InvalidFormat(fmt::format("'{}': missing tensor '{}'", src_path, name));
    TensorData td;
    td.canonical = name;
    td.shape = it->second.shape;
    td.raw = &it->second;
    if (carry && overrides.empty()) td.type = it->second.dtype;
    else {
      QASR_ASSIGN_OR_RETURN(td.type, choose_tensor_type(name, td.shape, o.type, overrides));
    }
    int64_t numel = 1;
    for (int64_t d : td.shape) numel *= d;
    rep.bytes_written += row_bytes(td.type, numel);
    tensors.push_back(std::move(td));
  }
  rep.n_tensors = tensors.size();
  std::vector<std::string> inputs;
  for (const auto& f : src->files) inputs.push_back(f->path());
  QASR_RETURN_IF_ERROR(write_gguf_model(out, meta, tensors, inputs));
  return rep;
}

}  // namespace qasr
