#include "convert/convert.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include "convert/writers.h"
#include "model/source.h"
#include "model/tensor_specs.h"

namespace qasr {

Expected<ConvertReport> convert_to_gguf(const std::string& src_path, const std::string& out, const ConvertOptions& o) {
  QASR_ASSIGN_OR_RETURN(std::vector<TypeOverride> overrides, parse_type_overrides(o.tensor_types));
  auto src = open_model_source(src_path);
  if (!src.ok()) return src.status();
  ModelMeta meta;
  meta.config = src->config;
  meta.tokenizer = src->tokenizer.get();
  meta.special = src->special;
  meta.languages = src->support_languages;
  meta.progress = o.progress;
  std::string base = src_path;
  while (!base.empty() && base.back() == '/') base.pop_back();
  meta.name = base.substr(base.find_last_of('/') + 1);
  if (src->synthetic) meta.name = "qasr-synthetic (random weights) " + meta.name;
  const bool carry = src->format == ModelFormat::kChatllm;
  std::vector<TensorData> tensors;
  ConvertReport rep;
  for (const TensorSpec& spec : model_tensor_specs(src->config, src->separate_lm_head)) {
    const std::string& name = spec.name;
    auto it = src->tensors.find(name);
    if (it == src->tensors.end()) return InvalidFormat(fmt::format("'{}': missing tensor '{}'", src_path, name));
    TensorData td;
    td.canonical = name;
    td.shape = it->second.shape;
    td.raw = &it->second;
    if (carry && overrides.empty())
      td.type = it->second.dtype;
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
