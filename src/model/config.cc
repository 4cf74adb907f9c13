#include "model/config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace qasr {
namespace {

using nlohmann::json;

Status get_int(const json& obj, const char* section, const char* key, int& out, bool required) {
  if (!obj.contains(key)) {
    if (required) return InvalidFormat(fmt::format("config.json: {}.{} is missing", section, key));
    return Status::Ok();
  }
  const json& v = obj[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (int64_t{1} << 30))
    return InvalidFormat(fmt::format("config.json: {}.{} must be a non-negative integer, found {}", section, key, v.dump()));
  out = v.get<int>();
  return Status::Ok();
}

}  // namespace

Expected<ModelConfig> parse_model_config(const std::string& text) {
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return InvalidFormat("config.json is not a JSON object");
  const json& th = root.contains("thinker_config") && root["thinker_config"].is_object() ? root["thinker_config"] : root;
  if (!th.contains("audio_config") || !th["audio_config"].is_object() || !th.contains("text_config") ||
      !th["text_config"].is_object())
    return InvalidFormat("config.json has no thinker_config.audio_config / text_config: not a Qwen3-ASR config");
  const json& a = th["audio_config"];
  const json& t = th["text_config"];
  ModelConfig c;
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "num_mel_bins", c.audio.num_mel_bins, false));
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "downsample_hidden_size", c.audio.conv_channels, false));
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "d_model", c.audio.d_model, true));
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "encoder_layers", c.audio.layers, true));
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "encoder_attention_heads", c.audio.heads, true));
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "encoder_ffn_dim", c.audio.ffn, true));
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "output_dim", c.audio.output_dim, true));
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "n_window", c.audio.n_window, false));
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "n_window_infer", c.audio.n_window_infer, false));
  QASR_RETURN_IF_ERROR(get_int(a, "audio_config", "max_source_positions", c.audio.max_source_positions, false));
  QASR_RETURN_IF_ERROR(get_int(t, "text_config", "hidden_size", c.text.hidden, true));
  QASR_RETURN_IF_ERROR(get_int(t, "text_config", "num_hidden_layers", c.text.layers, true));
  QASR_RETURN_IF_ERROR(get_int(t, "text_config", "num_attention_heads", c.text.heads, true));
  QASR_RETURN_IF_ERROR(get_int(t, "text_config", "num_key_value_heads", c.text.kv_heads, true));
  QASR_RETURN_IF_ERROR(get_int(t, "text_config", "intermediate_size", c.text.intermediate, true));
  QASR_RETURN_IF_ERROR(get_int(t, "text_config", "vocab_size", c.text.vocab, true));
  QASR_RETURN_IF_ERROR(get_int(t, "text_config", "max_position_embeddings", c.text.max_position, false));
  c.text.head_dim = c.text.heads ? c.text.hidden / c.text.heads : 0;
  QASR_RETURN_IF_ERROR(get_int(t, "text_config", "head_dim", c.text.head_dim, false));
  if (t.contains("rms_norm_eps") && t["rms_norm_eps"].is_number()) c.text.rms_eps = t["rms_norm_eps"].get<float>();
  if (t.contains("rope_theta") && t["rope_theta"].is_number()) c.text.rope_theta = t["rope_theta"].get<double>();
  if (t.contains("tie_word_embeddings") && t["tie_word_embeddings"].is_boolean())
    c.text.tie_word_embeddings = t["tie_word_embeddings"].get<bool>();
  QASR_RETURN_IF_ERROR(get_int(th, "thinker_config", "audio_token_id", c.audio_token_id, false));

  // Consistency: every division the model does must be exact.
  auto bad = [](const std::string& m) { return InvalidFormat("config.json: " + m); };
  if (c.audio.d_model == 0 || c.audio.heads == 0 || c.audio.d_model % c.audio.heads != 0 || c.audio.d_model % 2 != 0)
    return bad(fmt::format("audio d_model {} is not divisible by its {} heads (or is odd)", c.audio.d_model, c.audio.heads));
  if (c.audio.n_window == 0 || c.audio.n_window_infer < 2 * c.audio.n_window)
    return bad(fmt::format("n_window {} / n_window_infer {} are inconsistent", c.audio.n_window, c.audio.n_window_infer));
  if (c.text.heads == 0 || c.text.kv_heads == 0 || c.text.heads % c.text.kv_heads != 0)
    return bad(fmt::format("{} attention heads are not a multiple of {} KV heads", c.text.heads, c.text.kv_heads));
  if (c.text.head_dim == 0 || c.text.head_dim % 2 != 0) return bad(fmt::format("head_dim {} must be even", c.text.head_dim));
  if (c.audio.output_dim != c.text.hidden)
    return bad(fmt::format("audio output_dim {} differs from text hidden_size {}", c.audio.output_dim, c.text.hidden));
  if (c.text.vocab == 0 || c.text.layers == 0 || c.audio.layers == 0) return bad("zero vocab or layer count");
  return c;
}

int64_t audio_token_count(const AudioConfig& a, int64_t frames) {
  auto g = [](int64_t r) { return r <= 0 ? 0 : ((((r + 1) / 2) + 1) / 2 + 1) / 2; };
  const int64_t chunk = a.chunk_frames();
  return g(chunk) * (frames / chunk) + g(frames % chunk);
}

}  // namespace qasr
