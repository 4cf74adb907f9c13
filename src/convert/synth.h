// Random-weight checkpoints in the official Hugging Face layout (config.json,
// generation_config.json, preprocessor_config.json, the real tokenizer files, and
// model.safetensors in bf16 with the official tensor names), for tests and
// benchmarks without downloads. Accuracy of such a model is meaningless.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "kernels/tensor.h"
#include "model/config.h"

namespace qasr {

struct SynthSpec {
  ModelConfig config;
  // Make attention far from uniform, so wrong windows or masks show in outputs:
  float qk_norm_scale = 1.0f;       // decoder q_norm/k_norm weights (q/k scales cancel under QK-norm)
  float enc_attn_scale = 1.0f;      // encoder q/k/v/out projections
  float conv_scale = 1.0f;          // encoder conv stem
  float dec_attn_out_scale = 1.0f;  // decoder o_proj (the tiny aligner: context into the <timestamp> rows)
  bool write_lm_head = true;        // the redundant thinker.lm_head.weight copy of real checkpoints
};

// "tiny" | "tiny-plain" | "tiny-aligner" | "0.6b" | "1.7b" | "aligner". "tiny" and
// "tiny-aligner" have sharpened attention (golden tests), "tiny-plain" the plain std-0.02
// weights of the full presets; "aligner" is Qwen3-ForcedAligner-0.6B's shape. Tiny: text 128 hidden / 2 layers / 4
// heads / 2 KV / head_dim 32 / FFN 256; audio d_model 64 / 2 layers / 4 heads / FFN 128 / 32 conv channels; real vocab
// and ids.
Expected<SynthSpec> synth_preset(const std::string& name);

// Writes a Hugging Face folder (safetensors in f32, f16 or bf16). `asset_dir` holds
// qwen3-asr-tokenizer/ and qwen3-asr-0.6b/.
// `progress` (may be empty) is called after each tensor: (tensors done, tensors in all).
using SynthProgress = std::function<void(size_t, size_t)>;
Status write_synthetic_hf(const std::string& dir, const SynthSpec& spec, uint64_t seed, const std::string& asset_dir,
                          DType dtype = DType::BF16, const SynthProgress& progress = {});
// Writes one GGUF file, or a chatllm.cpp .bin (chatllm's own type policy and an
// untied lm_head holding the embedding's values, as its converter writes).
Status write_synthetic_file(const std::string& path, const SynthSpec& spec, uint64_t seed, const std::string& asset_dir,
                            bool chatllm, DType dtype, const SynthProgress& progress = {});

}  // namespace qasr
