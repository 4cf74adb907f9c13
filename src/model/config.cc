#include "model/config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json.h"

namespace qasr {
namespace {

using nlohmann::json;

constexpr int64_t kMaxDim = int64_t{1} << 24;  // no real dimension comes near this

Status get_int(const json& obj, const char* section, const char* key, int& out, bool required) {
  if (!obj.contains(key)) {
    if (required) return InvalidFormat(fmt::format("config.json: {}.{} is missing", section, key));
    return Status::Ok();
  }
  const json& v = obj[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxDim)
    return InvalidFormat(
        fmt::format("config.json: {}.{} must be an integer in [0, {}], found {}", section, key, kMaxDim, dump_json(v)));
  out = static_cast<int>(v.get<int64_t>());
  return Status::Ok();
}

}  // namespace

const char* model_kind_name(ModelKind k) {
  return k == ModelKind::kAsr ? "asr" : "forced-aligner";
}

Expected<ModelConfig> parse_model_config(const std::string& text) {
  QASR_ASSIGN_OR_RETURN(json root, parse_json(text, "config.json"));
  if (!root.is_object()) return InvalidFormat("config.json is not a JSON object");
  const json& th =
      root.contains("thinker_config") && root["thinker_config"].is_object() ? root["thinker_config"] : root;
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
  // The forced aligner: the official code switches its head on "forced_aligner" in
  // thinker_config.model_type (spec §8.5); classify_num is in thinker_config, the
  // timestamp token and segment time at the top level.
  const std::string mt =
      th.contains("model_type") && th["model_type"].is_string() ? th["model_type"].get<std::string>() : "";
  if (mt.find("forced_aligner") != std::string::npos) {
    c.kind = ModelKind::kForcedAligner;
    QASR_RETURN_IF_ERROR(get_int(th, "thinker_config", "classify_num", c.classify_num, true));
    QASR_RETURN_IF_ERROR(get_int(root, "config", "timestamp_token_id", c.timestamp_token_id, true));
    if (!root.contains("timestamp_segment_time") || !root["timestamp_segment_time"].is_number())
      return InvalidFormat("config.json: timestamp_segment_time is missing (forced aligner)");
    c.timestamp_segment_ms = root["timestamp_segment_time"].get<double>();
  }
  QASR_RETURN_IF_ERROR(validate_model_config(c));
  return c;
}

Status validate_model_config(const ModelConfig& c) {
  auto bad = [](const std::string& m) { return InvalidFormat("config: " + m); };
  const AudioConfig& a = c.audio;
  const TextConfig& t = c.text;
  for (int v :
       {a.num_mel_bins, a.conv_channels, a.d_model, a.layers, a.heads, a.ffn, a.output_dim, a.n_window,
        a.n_window_infer, t.hidden, t.layers, t.heads, t.kv_heads, t.head_dim, t.intermediate, t.vocab, t.max_position})
    if (v <= 0 || v > kMaxDim)
      return bad(fmt::format("a dimension is {}; every dimension must be in [1, {}]", v, kMaxDim));
  // Bounds far above every real model, so a hostile config cannot imply huge buffers.
  struct Bound {
    const char* what;
    int value, max;
  } bounds[] = {{"encoder_layers", a.layers, 256},
                {"num_hidden_layers", t.layers, 256},
                {"num_mel_bins", a.num_mel_bins, 1024},
                {"downsample_hidden_size", a.conv_channels, 8192},
                {"d_model", a.d_model, 65536},
                {"encoder_attention_heads", a.heads, 1024},
                {"encoder_ffn_dim", a.ffn, 1 << 18},
                {"n_window", a.n_window, 4096},
                {"n_window_infer", a.n_window_infer, 1 << 20},
                {"hidden_size", t.hidden, 65536},
                {"num_attention_heads", t.heads, 1024},
                {"num_key_value_heads", t.kv_heads, 1024},
                {"head_dim", t.head_dim, 4096},
                {"intermediate_size", t.intermediate, 1 << 18},
                {"vocab_size", t.vocab, 1 << 22},
                {"max_position_embeddings", t.max_position, 1 << 22}};
  for (const Bound& b : bounds)
    if (b.value > b.max) return bad(fmt::format("{} = {} is implausible (at most {})", b.what, b.value, b.max));
  if (a.d_model % a.heads != 0 || a.d_model % 2 != 0)
    return bad(fmt::format("audio d_model {} is not divisible by its {} heads (or is odd)", a.d_model, a.heads));
  if (a.n_window_infer < 2 * a.n_window || a.n_window_infer % (2 * a.n_window) != 0)
    return bad(fmt::format("n_window {} / n_window_infer {} are inconsistent", a.n_window, a.n_window_infer));
  if (t.heads % t.kv_heads != 0)
    return bad(fmt::format("{} attention heads are not a multiple of {} KV heads", t.heads, t.kv_heads));
  if (t.head_dim % 2 != 0) return bad(fmt::format("head_dim {} must be even", t.head_dim));
  if (a.output_dim != t.hidden)
    return bad(fmt::format("audio output_dim {} differs from text hidden_size {}", a.output_dim, t.hidden));
  if (!(t.rms_eps > 0 && t.rms_eps < 1) || !(t.rope_theta > 1 && t.rope_theta < 1e12))
    return bad(fmt::format("rms_norm_eps {} / rope_theta {} out of range", t.rms_eps, t.rope_theta));
  if (c.kind == ModelKind::kForcedAligner) {
    if (c.classify_num <= 0 || c.classify_num > kMaxDim)
      return bad(fmt::format("classify_num {} is invalid", c.classify_num));
    if (c.timestamp_token_id < 0 || c.timestamp_token_id >= t.vocab)
      return bad(fmt::format("timestamp_token_id {} is outside the vocabulary of {}", c.timestamp_token_id, t.vocab));
    if (!(c.timestamp_segment_ms > 0 && c.timestamp_segment_ms < 1e6))
      return bad(fmt::format("timestamp_segment_time {} is invalid", c.timestamp_segment_ms));
  }
  return Status::Ok();
}

int64_t audio_token_count(const AudioConfig& a, int64_t frames) {
  const int64_t chunk = a.chunk_frames();
  return conv3_out_len(chunk) * (frames / chunk) + conv3_out_len(frames % chunk);
}

}  // namespace qasr
