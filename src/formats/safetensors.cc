#include "formats/safetensors.h"

#include <sys/stat.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "base/json.h"

namespace qasr {

Expected<std::vector<TensorView>> parse_safetensors(const uint8_t* bytes, size_t size, const std::string& name) {
  using nlohmann::json;
  if (size < 8) return InvalidFormat(fmt::format("'{}': not a safetensors file ({} bytes, too short)", name, size));
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | bytes[i];
  if (hlen > size - 8 || hlen > (uint64_t{100} << 20))
    return InvalidFormat(
        fmt::format("'{}': safetensors header length {} exceeds the file ({} bytes); truncated or not safetensors",
                    name, hlen, size));
  auto parsed = parse_json(std::string_view(reinterpret_cast<const char*>(bytes + 8), hlen),
                           fmt::format("'{}': safetensors header", name));
  if (!parsed.ok()) return parsed.status();
  const json& h = *parsed;
  if (!h.is_object()) return InvalidFormat(fmt::format("'{}': safetensors header is not a JSON object", name));
  const uint64_t data_start = 8 + hlen, data_size = size - data_start;
  std::vector<TensorView> out;
  for (const auto& item : h.items()) {
    const std::string& key = item.key();
    const json& v = item.value();
    if (key == "__metadata__") continue;
    auto err = [&](const std::string& m) { return InvalidFormat(fmt::format("'{}': tensor '{}': {}", name, key, m)); };
    if (!v.is_object() || !v.contains("dtype") || !v["dtype"].is_string() || !v.contains("shape") ||
        !v["shape"].is_array() || !v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      return err("malformed entry (needs dtype, shape, data_offsets)");
    TensorView t;
    t.name = key;
    const std::string dt = v["dtype"].get<std::string>();
    if (dt == "F32")
      t.dtype = DType::F32;
    else if (dt == "F16")
      t.dtype = DType::F16;
    else if (dt == "BF16")
      t.dtype = DType::BF16;
    else
      return err(fmt::format("dtype {} is not supported (F32, F16, BF16)", dt));
    uint64_t numel = 1;
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40)) return err("bad dimension " + d.dump());
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (uint64_t{1} << 40) / dim) return err("shape overflows");
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& o = v["data_offsets"];
    if (!o[0].is_number_unsigned() || !o[1].is_number_unsigned()) return err("bad data_offsets");
    uint64_t b = o[0].get<uint64_t>(), e = o[1].get<uint64_t>();
    if (b > e || e > data_size)
      return err(fmt::format("data [{}, {}) lies outside the file's {} data bytes (truncated?)", b, e, data_size));
    if (e - b != numel * dtype_size(t.dtype))
      return err(fmt::format("byte range {} does not match shape × {} bytes = {}", e - b, dtype_size(t.dtype),
                             numel * dtype_size(t.dtype)));
    if ((data_start + b) % dtype_size(t.dtype) != 0) return err("data is not aligned to its element size");
    t.data = bytes + data_start + b;
    t.nbytes = e - b;
    out.push_back(std::move(t));
  }
  return out;
}

Expected<SafetensorsFile> open_safetensors(const std::string& path) {
  QASR_ASSIGN_OR_RETURN(MappedFile m, MappedFile::open(path));
  SafetensorsFile f;
  QASR_ASSIGN_OR_RETURN(f.tensors, parse_safetensors(m.data(), m.size(), path));
  f.file = std::move(m);
  return f;
}

size_t SafetensorsSet::mapped_bytes() const {
  size_t n = 0;
  for (const auto& f : files) n += f->file.size();
  return n;
}

Expected<SafetensorsSet> open_safetensors_dir(const std::string& dir) {
  using nlohmann::json;
  std::vector<std::string> shards;
  struct stat st {};
  const std::string single = dir + "/model.safetensors", index = dir + "/model.safetensors.index.json";
  if (::stat(index.c_str(), &st) == 0) {
    QASR_ASSIGN_OR_RETURN(std::string text, read_file(index));
    QASR_ASSIGN_OR_RETURN(json j, parse_json(text, fmt::format("'{}'", index)));
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      return InvalidFormat(fmt::format("'{}': no weight_map", index));
    for (auto& [k, v] : j["weight_map"].items()) {
      if (!v.is_string()) return InvalidFormat(fmt::format("'{}': weight_map entry '{}' is not a file name", index, k));
      std::string s = v.get<std::string>();
      if (s.find('/') != std::string::npos)
        return InvalidFormat(fmt::format("'{}': shard '{}' is not a plain file name", index, s));
      if (std::find(shards.begin(), shards.end(), s) == shards.end()) shards.push_back(s);
    }
  } else if (::stat(single.c_str(), &st) == 0) {
    shards.push_back("model.safetensors");
  } else {
    return InvalidFormat(fmt::format("'{}' has neither model.safetensors nor model.safetensors.index.json", dir));
  }
  SafetensorsSet set;
  for (const std::string& s : shards) {
    QASR_ASSIGN_OR_RETURN(SafetensorsFile f, open_safetensors(fmt::format("{}/{}", dir, s)));
    auto owned = std::make_unique<SafetensorsFile>(std::move(f));
    for (const TensorView& t : owned->tensors) {
      if (!set.by_name.emplace(t.name, t).second)
        return InvalidFormat(fmt::format("'{}': tensor '{}' appears in more than one shard", dir, t.name));
    }
    set.files.push_back(std::move(owned));
  }
  return set;
}

}  // namespace qasr
