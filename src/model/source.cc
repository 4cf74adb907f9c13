#include "model/source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "base/json.h"
#include "formats/chatllm_bin.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "formats/tensor_names.h"
#include "model/gguf_keys.h"

namespace qasr {

const char* model_format_name(ModelFormat f) {
  switch (f) {
    case ModelFormat::kHfSafetensors:
      return "hf-safetensors";
    case ModelFormat::kGguf:
      return "gguf";
    case ModelFormat::kChatllm:
      return "chatllm";
  }
  return "?";
}

size_t ModelSource::mapped_bytes() const {
  size_t n = 0;
  for (const auto& f : files) n += f->size();
  return n;
}

namespace {

using nlohmann::json;

std::vector<std::string> languages_from(const json& cfg) {
  std::vector<std::string> out;
  if (cfg.is_object() && cfg.contains("support_languages") && cfg["support_languages"].is_array())
    for (const json& l : cfg["support_languages"])
      if (l.is_string()) out.push_back(l.get<std::string>());
  return out;
}

// Every id the model will use must be inside its vocabulary and agree with the config.
Status check_ids(const ModelSource& s) {
  const ModelConfig& c = s.config;
  auto err = [&](const std::string& m) { return InvalidFormat(fmt::format("'{}': {}", s.path, m)); };
  if (c.text.vocab < s.tokenizer->size())
    return err(fmt::format("vocab_size {} is smaller than the tokenizer's {} ids", c.text.vocab, s.tokenizer->size()));
  if (c.audio_token_id >= 0 && c.audio_token_id != s.special.audio_pad)
    return err(fmt::format("audio_token_id {} is not the tokenizer's <|audio_pad|> ({})", c.audio_token_id,
                           s.special.audio_pad));
  for (int32_t id : s.special.stop_ids)
    if (id < 0 || id >= c.text.vocab)
      return err(fmt::format("stop token id {} is outside the vocabulary of {}", id, c.text.vocab));
  if (c.kind == ModelKind::kForcedAligner) {
    const auto ts = s.tokenizer->find("<timestamp>");
    if (!ts || *ts != c.timestamp_token_id)
      return err(fmt::format("timestamp_token_id {} is not the tokenizer's <timestamp> ({})", c.timestamp_token_id,
                             ts ? *ts : -1));
  }
  return Status::Ok();
}

// Special ids from the tokenizer, cross-checked against config.json / generation_config.json
// text where the format has them.
Status finish_tokens(ModelSource& s, const std::string& config_json, const std::string& gen_json) {
  QASR_ASSIGN_OR_RETURN(s.special, find_special_tokens(*s.tokenizer));
  Status st = apply_model_configs(s.special, config_json, gen_json);
  if (!st.ok()) return st.annotate("'" + s.path + "'");
  return check_ids(s);
}

Expected<ModelSource> open_hf(const std::string& dir, const SourceOptions& opts) {
  ModelSource s;
  s.format = ModelFormat::kHfSafetensors;
  s.path = dir;
  QASR_ASSIGN_OR_RETURN(std::string cfg_text, read_file(dir + "/config.json"));
  auto cfg = parse_model_config(cfg_text);
  if (!cfg.ok()) return cfg.status().annotate("'" + dir + "'");
  s.config = *cfg;
  s.support_languages = languages_from(json::parse(cfg_text, nullptr, false));  // depth-checked above
  s.synthetic = cfg_text.find("qasr_synthetic") != std::string::npos;
  QASR_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::load_dir(dir));
  s.tokenizer = std::make_unique<Tokenizer>(std::move(tok));
  std::string gen;
  struct stat st {};
  if (::stat((dir + "/generation_config.json").c_str(), &st) == 0) {
    QASR_ASSIGN_OR_RETURN(gen, read_file(dir + "/generation_config.json"));
  }
  QASR_RETURN_IF_ERROR(finish_tokens(s, cfg_text, gen));
  auto set = open_safetensors_dir(dir);
  if (!set.ok()) return set.status();
  for (auto& f : set->files) {
    for (const TensorView& t : f->tensors) s.tensors.emplace(t.name, t);
    s.files.push_back(std::make_unique<MappedFile>(std::move(f->file)));
  }
  (void)opts;
  return s;
}

// Renames a file's tensors to canonical names through the shared table.
Status add_canonical(ModelSource& s, const std::vector<TensorView>& tensors,
                     std::optional<std::string> (*to_canonical)(const std::string&)) {
  for (const TensorView& t : tensors) {
    auto canon = to_canonical(t.name);
    if (!canon) return InvalidFormat(fmt::format("'{}': unknown tensor '{}'", s.path, t.name));
    TensorView v = t;
    v.name = *canon;
    s.tensors.emplace(*canon, v);
  }
  return Status::Ok();
}

// ---- GGUF ----

Expected<int64_t> kv_int(const GgufContent& g, const std::string& key, const std::string& path) {
  auto it = g.kv.find(key);
  if (it == g.kv.end() || !it->second.is_int())
    return InvalidFormat(fmt::format("'{}': GGUF metadata '{}' is missing or not an integer", path, key));
  return it->second.i;
}
Expected<double> kv_float(const GgufContent& g, const std::string& key, const std::string& path) {
  auto it = g.kv.find(key);
  if (it == g.kv.end() || (it->second.type != GgufType::F32 && it->second.type != GgufType::F64))
    return InvalidFormat(fmt::format("'{}': GGUF metadata '{}' is missing or not a float", path, key));
  return it->second.f;
}

Expected<ModelSource> open_gguf_source(const std::string& path, const SourceOptions& opts) {
  QASR_ASSIGN_OR_RETURN(GgufFile f, open_gguf(path, opts.populate));
  ModelSource s;
  s.format = ModelFormat::kGguf;
  s.path = path;
  const GgufContent& g = f.content;
  auto arch = g.kv.find("general.architecture");
  if (arch == g.kv.end() || arch->second.s != kGgufArchitecture)
    return InvalidFormat(fmt::format("'{}': GGUF architecture is '{}', not '{}'", path,
                                     arch == g.kv.end() ? "" : arch->second.s, kGgufArchitecture));
  // The config from the shared key table (model/gguf_keys.h), validated like config.json.
  ModelConfig& cfg = s.config;
  if (auto it = g.kv.find(kGgufModelKindKey); it != g.kv.end()) {
    if (it->second.s == model_kind_name(ModelKind::kForcedAligner))
      cfg.kind = ModelKind::kForcedAligner;
    else if (it->second.s != model_kind_name(ModelKind::kAsr))
      return InvalidFormat(fmt::format("'{}': unknown {} '{}'", path, kGgufModelKindKey, it->second.s));
  }
  const bool aligner = cfg.kind == ModelKind::kForcedAligner;
  for (const GgufIntKey& k : kGgufIntKeys) {
    if (k.aligner_only && !aligner) continue;
    QASR_ASSIGN_OR_RETURN(int64_t v, kv_int(g, std::string(kGgufPrefix) + k.suffix, path));
    if (v < 0 || v > (int64_t{1} << 30))
      return InvalidFormat(fmt::format("'{}': {}{} = {} is out of range", path, kGgufPrefix, k.suffix, v));
    *k.field(cfg) = static_cast<int>(v);
  }
  for (const GgufFloatKey& k : kGgufFloatKeys) {
    if (k.aligner_only && !aligner) continue;
    QASR_ASSIGN_OR_RETURN(double v, kv_float(g, std::string(kGgufPrefix) + k.suffix, path));
    k.set(cfg, v);
  }
  cfg.text.tie_word_embeddings = !aligner;
  if (Status st = validate_model_config(cfg); !st.ok()) return st.annotate("'" + path + "': GGUF metadata");
  if (auto it = g.kv.find(std::string(kGgufPrefix) + "support_languages"); it != g.kv.end())
    s.support_languages = it->second.strs;
  if (auto it = g.kv.find("general.name"); it != g.kv.end())
    s.synthetic = it->second.s.find("qasr-synthetic") != std::string::npos;

  // Tokenizer: tokens + token types + merges (llama.cpp keys).
  auto toks = g.kv.find("tokenizer.ggml.tokens");
  auto types = g.kv.find("tokenizer.ggml.token_type");
  auto merges = g.kv.find("tokenizer.ggml.merges");
  if (toks == g.kv.end() || types == g.kv.end() || merges == g.kv.end() || toks->second.elem != GgufType::STRING ||
      merges->second.elem != GgufType::STRING || types->second.ints.size() != toks->second.strs.size())
    return InvalidFormat(
        fmt::format("'{}': GGUF tokenizer (tokens, token_type, merges) is missing or inconsistent", path));
  std::vector<std::string> vocab;
  std::vector<AddedToken> added;
  for (size_t i = 0; i < toks->second.strs.size(); ++i) {
    const int64_t t = types->second.ints[i];
    if (t == 1) {
      if (vocab.size() <= i) vocab.resize(i + 1);
      vocab[i] = toks->second.strs[i];
    } else if (t == 3 || t == 4) {
      added.push_back({static_cast<int32_t>(i), toks->second.strs[i], t == 3});
    }
  }
  std::vector<std::pair<std::string, std::string>> mp;
  mp.reserve(merges->second.strs.size());
  for (const std::string& m : merges->second.strs) {
    size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (sp == std::string::npos)
      return InvalidFormat(fmt::format("'{}': GGUF merge '{}' is not 'left right'", path, m));
    mp.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  auto tok = Tokenizer::from_tables(std::move(vocab), mp, std::move(added));
  if (!tok.ok()) return tok.status().annotate("'" + path + "'");
  s.tokenizer = std::make_unique<Tokenizer>(std::move(tok).value());
  std::vector<int64_t> stops;
  if (auto it = g.kv.find(std::string(kGgufPrefix) + "stop_token_ids"); it != g.kv.end()) stops = it->second.ints;
  QASR_RETURN_IF_ERROR(finish_tokens(s, "", ""));
  if (!stops.empty()) QASR_RETURN_IF_ERROR(set_stop_ids(s.special, stops).annotate("'" + path + "'"));
  QASR_RETURN_IF_ERROR(check_ids(s));

  QASR_RETURN_IF_ERROR(add_canonical(s, g.tensors, canonical_from_gguf));
  s.separate_lm_head = s.tensors.count("thinker.lm_head.weight") > 0;
  s.files.push_back(std::make_unique<MappedFile>(std::move(f.file)));
  return s;
}

// ---- chatllm ----

Expected<ModelSource> open_chatllm_source(const std::string& path, const SourceOptions& opts) {
  QASR_ASSIGN_OR_RETURN(ChatllmFile f, open_chatllm(path, opts.populate));
  const ChatllmContent& c = f.content;
  ModelSource s;
  s.format = ModelFormat::kChatllm;
  s.path = path;
  QASR_ASSIGN_OR_RETURN(json meta, parse_json(c.meta_json, fmt::format("'{}': chatllm meta", path)));
  if (!meta.is_object() || !meta.contains("config.json"))
    return InvalidFormat(fmt::format("'{}': chatllm meta JSON is missing or has no config.json", path));
  const std::string cfg_text = dump_json(meta["config.json"]);
  auto cfg = parse_model_config(cfg_text);
  if (!cfg.ok()) return cfg.status().annotate("'" + path + "': meta config.json");
  s.config = *cfg;
  s.support_languages = languages_from(meta["config.json"]);
  s.synthetic = c.meta_json.find("qasr-synthetic") != std::string::npos ||
                c.meta_json.find("qasr_synthetic") != std::string::npos;
  // The binary config block must agree with the meta config.
  const ChatllmConfig& k = c.config;
  const TextConfig& t = s.config.text;
  if (k.vocab_size != t.vocab || k.hidden_size != t.hidden || k.num_attention_heads != t.heads ||
      k.num_hidden_layers != t.layers || k.intermediate_size != t.intermediate || k.num_key_value_heads != t.kv_heads ||
      k.head_dim != t.head_dim)
    return InvalidFormat(fmt::format(
        "'{}': the config block (vocab {}, hidden {}, heads {}/{}, layers {}, ffn {}, head_dim {}) contradicts the "
        "meta "
        "config.json (vocab {}, hidden {}, heads {}/{}, layers {}, ffn {}, head_dim {})",
        path, k.vocab_size, k.hidden_size, k.num_attention_heads, k.num_key_value_heads, k.num_hidden_layers,
        k.intermediate_size, k.head_dim, t.vocab, t.hidden, t.heads, t.kv_heads, t.layers, t.intermediate, t.head_dim));
  s.config.text.rope_theta = k.rope_theta;  // mrope_section is ignored (plain 1-D RoPE, spec P18)

  // Special flags from tokenizer_config.json's added_tokens_decoder when present.
  json added_dec = meta.contains("tokenizer_config.json") && meta["tokenizer_config.json"].is_object() &&
                           meta["tokenizer_config.json"].contains("added_tokens_decoder")
                       ? meta["tokenizer_config.json"]["added_tokens_decoder"]
                       : json::object();
  std::vector<std::string> vocab;
  std::vector<AddedToken> added;
  for (size_t i = 0; i < c.tokens.size(); ++i) {
    const std::string key = std::to_string(i);
    const bool in_added = added_dec.is_object() && added_dec.contains(key);
    if (c.token_types[i] == 1 && !in_added) {
      if (vocab.size() <= i) vocab.resize(i + 1);
      vocab[i] = c.tokens[i];
      continue;
    }
    bool special;
    if (in_added && added_dec[key].is_object() && added_dec[key].contains("special") &&
        added_dec[key]["special"].is_boolean())
      special = added_dec[key]["special"].get<bool>();
    else  // no flag in the file: control tokens look like <|...|>
      special = c.tokens[i].size() > 4 && c.tokens[i].rfind("<|", 0) == 0 &&
                c.tokens[i].substr(c.tokens[i].size() - 2) == "|>";
    added.push_back({static_cast<int32_t>(i), c.tokens[i], special});
  }
  auto tok = Tokenizer::from_tables(std::move(vocab), c.merges, std::move(added));
  if (!tok.ok()) return tok.status().annotate("'" + path + "'");
  s.tokenizer = std::make_unique<Tokenizer>(std::move(tok).value());
  std::string gen = meta.contains("generation_config.json") ? dump_json(meta["generation_config.json"]) : "";
  QASR_RETURN_IF_ERROR(finish_tokens(s, cfg_text, gen));
  if (meta.contains("preprocessor_config.json") && meta["preprocessor_config.json"].is_object()) {
    const json& pp = meta["preprocessor_config.json"];
    if (pp.contains("feature_size") && pp["feature_size"].is_number_integer() &&
        pp["feature_size"].get<int>() != s.config.audio.num_mel_bins)
      return InvalidFormat(fmt::format("'{}': preprocessor feature_size {} differs from num_mel_bins {}", path,
                                       pp["feature_size"].get<int>(), s.config.audio.num_mel_bins));
  }
  QASR_RETURN_IF_ERROR(add_canonical(s, c.tensors, canonical_from_chatllm));
  s.separate_lm_head = true;  // chatllm's converter stores lm_head untied and the runtime uses it
  s.files.push_back(std::make_unique<MappedFile>(std::move(f.file)));
  return s;
}

}  // namespace

Expected<ModelSource> open_model_source(const std::string& path, const SourceOptions& opts) {
  if (Status st = check_input_path(path, /*allow_dir=*/true); !st.ok()) return st.annotate("model");
  struct stat st {};
  ::stat(path.c_str(), &st);
  Expected<ModelSource> s = Internal("unreachable");
  if (S_ISDIR(st.st_mode)) {
    s = open_hf(path, opts);
  } else {
    char magic[4] = {0};
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return errno_status(errno, fmt::format("cannot open model '{}'", path));
    const ssize_t n = ::read(fd, magic, 4);
    ::close(fd);
    if (n == 4 && std::memcmp(magic, "GGUF", 4) == 0)
      s = open_gguf_source(path, opts);
    else if (n == 4 && std::memcmp(magic, "ggmm", 4) == 0)
      s = open_chatllm_source(path, opts);
    else
      return InvalidFormat(
          fmt::format("model '{}' is neither a Hugging Face folder, a GGUF file nor a chatllm .bin "
                      "(first bytes are not 'GGUF' or 'ggmm')",
                      path));
  }
  if (s.ok() && opts.mlock)
    for (const auto& f : s->files)
      if (f->size() && ::mlock(f->data(), f->size()) != 0)
        return ResourceExhausted(fmt::format("cannot mlock '{}' ({} MiB): {} (raise `ulimit -l`?)", f->path(),
                                             f->size() >> 20, std::strerror(errno)));
  return s;
}

}  // namespace qasr
