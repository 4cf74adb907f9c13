#include "model/source.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "formats/chatllm_bin.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "formats/tensor_names.h"

namespace qasr {

const char* model_format_name(ModelFormat f) {
  switch (f) {
    case ModelFormat::kHfSafetensors: return "hf-safetensors";
    case ModelFormat::kGguf: return "gguf";
    case ModelFormat::kChatllm: return "chatllm";
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

Status finish_tokens(ModelSource& s, const std::string& config_json, const std::string& gen_json) {
  QASR_ASSIGN_OR_RETURN(s.special, find_special_tokens(*s.tokenizer));
  Status st = apply_model_configs(s.special, config_json, gen_json);
  if (!st.ok()) return st.annotate("'" + s.path + "'");
  if (s.config.text.vocab < s.tokenizer->size())
    return InvalidFormat(fmt::format("'{}': vocab_size {} is smaller than the tokenizer's {} ids", s.path,
                                     s.config.text.vocab, s.tokenizer->size()));
  return Status::Ok();
}

Expected<ModelSource> open_hf(const std::string& dir, const SourceOptions& opts) {
  ModelSource s;
  s.format = ModelFormat::kHfSafetensors;
  s.path = dir;
  QASR_ASSIGN_OR_RETURN(std::string cfg_text, read_file(dir + "/config.json"));
  auto cfg = parse_model_config(cfg_text);
  if (!cfg.ok()) return cfg.status().annotate("'" + dir + "'");
  s.config = *cfg;
  s.support_languages = languages_from(json::parse(cfg_text, nullptr, false));
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
  if (arch == g.kv.end() || arch->second.s != "qwen3-asr")
    return InvalidFormat(fmt::format("'{}': GGUF architecture is '{}', not 'qwen3-asr'",
                                     path, arch == g.kv.end() ? "" : arch->second.s));
  const std::string p = "qwen3-asr.";
  struct IntKey {
    const char* key;
    int* out;
  } ints[] = {
      {"context_length", &s.config.text.max_position}, {"embedding_length", &s.config.text.hidden},
      {"block_count", &s.config.text.layers}, {"feed_forward_length", &s.config.text.intermediate},
      {"attention.head_count", &s.config.text.heads}, {"attention.head_count_kv", &s.config.text.kv_heads},
      {"attention.key_length", &s.config.text.head_dim}, {"vocab_size", &s.config.text.vocab},
      {"audio.num_mel_bins", &s.config.audio.num_mel_bins}, {"audio.conv_channels", &s.config.audio.conv_channels},
      {"audio.embedding_length", &s.config.audio.d_model}, {"audio.block_count", &s.config.audio.layers},
      {"audio.attention.head_count", &s.config.audio.heads}, {"audio.feed_forward_length", &s.config.audio.ffn},
      {"audio.output_dim", &s.config.audio.output_dim}, {"audio.n_window", &s.config.audio.n_window},
      {"audio.n_window_infer", &s.config.audio.n_window_infer},
      {"audio.max_source_positions", &s.config.audio.max_source_positions},
      {"audio_token_id", &s.config.audio_token_id},
  };
  for (const IntKey& k : ints) {
    QASR_ASSIGN_OR_RETURN(int64_t v, kv_int(g, p + k.key, path));
    if (v < 0 || v > (int64_t{1} << 30)) return InvalidFormat(fmt::format("'{}': {}{} = {} is out of range", path, p, k.key, v));
    *k.out = static_cast<int>(v);
  }
  QASR_ASSIGN_OR_RETURN(double eps, kv_float(g, p + "attention.layer_norm_rms_epsilon", path));
  QASR_ASSIGN_OR_RETURN(double theta, kv_float(g, p + "rope.freq_base", path));
  s.config.text.rms_eps = static_cast<float>(eps);
  s.config.text.rope_theta = theta;
  // Re-validate through the same rules as config.json.
  json cj = {{"thinker_config",
              {{"audio_token_id", s.config.audio_token_id},
               {"audio_config", {{"num_mel_bins", s.config.audio.num_mel_bins}, {"downsample_hidden_size", s.config.audio.conv_channels},
                                 {"d_model", s.config.audio.d_model}, {"encoder_layers", s.config.audio.layers},
                                 {"encoder_attention_heads", s.config.audio.heads}, {"encoder_ffn_dim", s.config.audio.ffn},
                                 {"output_dim", s.config.audio.output_dim}, {"n_window", s.config.audio.n_window},
                                 {"n_window_infer", s.config.audio.n_window_infer},
                                 {"max_source_positions", s.config.audio.max_source_positions}}},
               {"text_config", {{"hidden_size", s.config.text.hidden}, {"num_hidden_layers", s.config.text.layers},
                                {"num_attention_heads", s.config.text.heads}, {"num_key_value_heads", s.config.text.kv_heads},
                                {"head_dim", s.config.text.head_dim}, {"intermediate_size", s.config.text.intermediate},
                                {"vocab_size", s.config.text.vocab}, {"max_position_embeddings", s.config.text.max_position},
                                {"rms_norm_eps", eps}, {"rope_theta", theta}}}}}};
  auto checked = parse_model_config(cj.dump());
  if (!checked.ok()) return checked.status().annotate("'" + path + "': GGUF metadata");
  s.config = *checked;
  if (auto it = g.kv.find(p + "support_languages"); it != g.kv.end()) s.support_languages = it->second.strs;
  if (auto it = g.kv.find("general.name"); it != g.kv.end()) s.synthetic = it->second.s.find("qasr-synthetic") != std::string::npos;

  // Tokenizer: tokens + token types + merges (llama.cpp keys).
  auto toks = g.kv.find("tokenizer.ggml.tokens");
  auto types = g.kv.find("tokenizer.ggml.token_type");
  auto merges = g.kv.find("tokenizer.ggml.merges");
  if (toks == g.kv.end() || types == g.kv.end() || merges == g.kv.end() || toks->second.elem != GgufType::STRING ||
      merges->second.elem != GgufType::STRING || types->second.ints.size() != toks->second.strs.size())
    return InvalidFormat(fmt::format("'{}': GGUF tokenizer (tokens, token_type, merges) is missing or inconsistent", path));
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
    if (sp == std::string::npos) return InvalidFormat(fmt::format("'{}': GGUF merge '{}' is not 'left right'", path, m));
    mp.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  auto tok = Tokenizer::from_tables(std::move(vocab), mp, std::move(added));
  if (!tok.ok()) return tok.status().annotate("'" + path + "'");
  s.tokenizer = std::make_unique<Tokenizer>(std::move(tok).value());
  json gen = json::object();
  if (auto it = g.kv.find(p + "stop_token_ids"); it != g.kv.end() && !it->second.ints.empty())
    gen["eos_token_id"] = it->second.ints;
  QASR_RETURN_IF_ERROR(finish_tokens(s, cj.dump(), gen.dump()));

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
  json meta = json::parse(c.meta_json, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("config.json"))
    return InvalidFormat(fmt::format("'{}': chatllm meta JSON is missing or has no config.json", path));
  const std::string cfg_text = meta["config.json"].dump();
  auto cfg = parse_model_config(cfg_text);
  if (!cfg.ok()) return cfg.status().annotate("'" + path + "': meta config.json");
  s.config = *cfg;
  s.support_languages = languages_from(meta["config.json"]);
  s.synthetic = c.meta_json.find("qasr-synthetic") != std::string::npos || c.meta_json.find("qasr_synthetic") != std::string::npos;
  // The binary config block must agree with the meta config.
  const ChatllmConfig& k = c.config;
  const TextConfig& t = s.config.text;
  if (k.vocab_size != t.vocab || k.hidden_size != t.hidden || k.num_attention_heads != t.heads ||
      k.num_hidden_layers != t.layers || k.intermediate_size != t.intermediate || k.num_key_value_heads != t.kv_heads ||
      k.head_dim != t.head_dim)
    return InvalidFormat(fmt::format(
        "'{}': the config block (vocab {}, hidden {}, heads {}/{}, layers {}, ffn {}, head_dim {}) contradicts the meta "
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
    if (in_added && added_dec[key].is_object() && added_dec[key].contains("special") && added_dec[key]["special"].is_boolean())
      special = added_dec[key]["special"].get<bool>();
    else  // no flag in the file: control tokens look like <|...|>
      special = c.tokens[i].size() > 4 && c.tokens[i].rfind("<|", 0) == 0 && c.tokens[i].substr(c.tokens[i].size() - 2) == "|>";
    added.push_back({static_cast<int32_t>(i), c.tokens[i], special});
  }
  auto tok = Tokenizer::from_tables(std::move(vocab), c.merges, std::move(added));
  if (!tok.ok()) return tok.status().annotate("'" + path + "'");
  s.tokenizer = std::make_unique<Tokenizer>(std::move(tok).value());
  std::string gen = meta.contains("generation_config.json") ? meta["generation_config.json"].dump() : "";
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
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return NotFound(fmt::format("model '{}' does not exist", path));
  Expected<ModelSource> s = InvalidFormat("unreachable");
  if (S_ISDIR(st.st_mode)) {
    s = open_hf(path, opts);
  } else {
    char magic[4] = {0};
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return errno_status(errno, fmt::format("cannot open model '{}'", path));
    size_t n = std::fread(magic, 1, 4, f);
    std::fclose(f);
    if (n == 4 && std::memcmp(magic, "GGUF", 4) == 0) s = open_gguf_source(path, opts);
    else if (n == 4 && std::memcmp(magic, "ggmm", 4) == 0) s = open_chatllm_source(path, opts);
    else
      return InvalidFormat(fmt::format("model '{}' is neither a Hugging Face folder, a GGUF file nor a chatllm .bin "
                                       "(first bytes are not 'GGUF' or 'ggmm')", path));
  }
  if (s.ok() && opts.mlock)
    for (const auto& f : s->files)
      if (f->size() && ::mlock(f->data(), f->size()) != 0)
        return InvalidFormat(fmt::format("cannot mlock '{}' ({} MiB): {} (raise `ulimit -l`?)", f->path(),
                                         f->size() >> 20, std::strerror(errno)));
  return s;
}

}  // namespace qasr
