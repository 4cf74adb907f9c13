#include "text/special_tokens.h"

#include <sys/stat.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "base/json.h"

namespace qasr {

Expected<SpecialTokens> find_special_tokens(const Tokenizer& tok) {
  SpecialTokens sp;
  struct Want {
    const char* content;
    int32_t* id;
  } wants[] = {{"<|im_start|>", &sp.im_start},       {"<|im_end|>", &sp.im_end},       {"<|endoftext|>", &sp.endoftext},
               {"<|audio_start|>", &sp.audio_start}, {"<|audio_end|>", &sp.audio_end}, {"<|audio_pad|>", &sp.audio_pad},
               {"<asr_text>", &sp.asr_text}};
  for (const Want& w : wants) {
    auto id = tok.find(w.content);
    if (!id)
      return InvalidFormat(fmt::format("tokenizer has no '{}' token; is this a Qwen3-ASR tokenizer?", w.content));
    *w.id = *id;
  }
  sp.stop_ids = {sp.im_end, sp.endoftext};
  return sp;
}

Status apply_model_configs(SpecialTokens& sp, const std::string& config_json, const std::string& gen_json) {
  using nlohmann::json;
  if (!config_json.empty()) {
    QASR_ASSIGN_OR_RETURN(json cfg, parse_json(config_json, "config.json"));
    if (!cfg.is_object()) return InvalidFormat("config.json is not a JSON object");
    const json& th = cfg.contains("thinker_config") && cfg["thinker_config"].is_object() ? cfg["thinker_config"] : cfg;
    struct Check {
      const char* key;
      int32_t id;
    } checks[] = {{"audio_token_id", sp.audio_pad},
                  {"audio_start_token_id", sp.audio_start},
                  {"audio_end_token_id", sp.audio_end}};
    for (const Check& c : checks) {
      if (!th.contains(c.key)) continue;
      if (!th[c.key].is_number_integer() || th[c.key].get<int64_t>() != c.id)
        return InvalidFormat(
            fmt::format("config.json: {} is {} but the tokenizer says {}", c.key, dump_json(th[c.key]), c.id));
    }
  }
  if (!gen_json.empty()) {
    QASR_ASSIGN_OR_RETURN(json g, parse_json(gen_json, "generation_config.json"));
    if (!g.is_object()) return InvalidFormat("generation_config.json is not a JSON object");
    if (g.contains("eos_token_id")) {
      const json& e = g["eos_token_id"];
      std::vector<int64_t> ids;
      auto take = [&](const json& v) {
        if (!v.is_number_integer()) return false;
        // A value beyond int64 arrives as unsigned: keep it out of range rather than wrapped.
        ids.push_back(v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX ? -1 : v.get<int64_t>());
        return true;
      };
      if (e.is_array()) {
        for (const json& v : e)
          if (!take(v)) return InvalidFormat("generation_config.json: eos_token_id holds a non-integer");
      } else if (!take(e)) {
        return InvalidFormat("generation_config.json: eos_token_id is neither an integer nor a list");
      }
      if (!ids.empty()) QASR_RETURN_IF_ERROR(set_stop_ids(sp, ids).annotate("generation_config.json"));
    }
  }
  return Status::Ok();
}

Status set_stop_ids(SpecialTokens& sp, const std::vector<int64_t>& ids) {
  std::vector<int32_t> out;
  for (int64_t id : ids) {
    if (id < 0 || id >= (int64_t{1} << 24)) return InvalidFormat(fmt::format("stop token id {} is out of range", id));
    out.push_back(static_cast<int32_t>(id));
  }
  sp.stop_ids = std::move(out);
  return Status::Ok();
}

Status apply_model_config_files(SpecialTokens& sp, const std::string& dir) {
  std::string cfg, gen;
  struct stat st {};
  if (::stat((dir + "/config.json").c_str(), &st) == 0) {
    QASR_ASSIGN_OR_RETURN(cfg, read_file(dir + "/config.json"));
  }
  if (::stat((dir + "/generation_config.json").c_str(), &st) == 0) {
    QASR_ASSIGN_OR_RETURN(gen, read_file(dir + "/generation_config.json"));
  }
  Status s = apply_model_configs(sp, cfg, gen);
  if (!s.ok()) return s.annotate("'" + dir + "'");
  return Status::Ok();
}

}  // namespace qasr
