// The immutable Qwen3-ASR model: config, tokenizer, special ids, mel front end and
// weight views into the mapped files. Load once, share across threads
// (std::shared_ptr<const Model>); unload = last reference dropped → munmap.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "features/mel.h"
#include "kernels/tensor.h"
#include "model/config.h"
#include "model/source.h"
#include "text/special_tokens.h"
#include "text/tokenizer.h"

namespace qasr {

// Audio encoder weights (spec §10, prefix thinker.audio_tower.). Mats are views
// into the mapping; `const float*` vectors (norms, biases) are small f32 copies
// owned by the Model.
struct EncoderLayerWeights {
  const float *ln1_g, *ln1_b;  // self_attn_layer_norm [d]
  Mat q, k, v, o;              // [d][d]
  const float *q_b, *k_b, *v_b, *o_b;
  const float *ln2_g, *ln2_b;  // final_layer_norm [d]
  Mat fc1;                     // [ffn][d]
  const float* fc1_b;
  Mat fc2;  // [d][ffn]
  const float* fc2_b;
};

struct EncoderWeights {
  Mat conv1, conv2, conv3;  // [C][Cin·3·3] (PyTorch [C][Cin][3][3] flattened)
  const float *conv1_b, *conv2_b, *conv3_b;
  Mat conv_out;  // [d][C·F] no bias, feature index c·F + f
  std::vector<EncoderLayerWeights> layers;
  const float *ln_post_g, *ln_post_b;
  Mat proj1;  // [d][d]
  const float* proj1_b;
  Mat proj2;  // [out][d]
  const float* proj2_b;
  std::vector<float> pos_emb;  // [chunk tokens][d] sinusoids (spec §3.4), computed at load
};

struct DecoderLayerWeights {
  const float *in_norm, *post_norm;  // [hidden]
  Mat q, k, v, o;                    // q [H·hd][h], k/v [KV·hd][h], o [h][H·hd]
  const float *q_norm, *k_norm;      // [hd]
  Mat gate, up, down;                // [I][h], [I][h], [h][I]
};

struct DecoderWeights {
  Mat embed;    // [vocab][h]
  Mat lm_head;  // logits weight: the tied embedding for HF checkpoints
  std::vector<DecoderLayerWeights> layers;
  const float* norm;            // [h]
  std::vector<float> inv_freq;  // [hd/2] RoPE inverse frequencies
};

struct LoadOptions {
  bool populate = false;  // pre-fault the mapping at load (pay page-in up front)
  bool mlock = false;     // lock the mapped weights in RAM
};

class Model {
 public:
  // `path`: a Hugging Face folder (config.json, generation_config.json, tokenizer
  // files, model.safetensors or shards + index), a GGUF file or a chatllm.cpp .bin.
  // Every tensor is validated (known name, dtype, shape against the config, data
  // inside the file) before the model is returned; on error nothing stays mapped.
  static Expected<std::shared_ptr<const Model>> load(const std::string& path, const LoadOptions& opts = {});

  const ModelConfig& config() const { return src_.config; }
  const Tokenizer& tokenizer() const { return *src_.tokenizer; }
  const SpecialTokens& special() const { return src_.special; }
  const ModelSource& source() const { return src_; }
  const MelExtractor& mel() const { return *mel_; }
  const EncoderWeights& encoder() const { return enc_; }
  const DecoderWeights& decoder() const { return dec_; }
  const std::string& path() const { return src_.path; }
  const char* format() const { return model_format_name(src_.format); }

  // What the model holds: bytes of mapped files and of memory it owns.
  size_t mapped_bytes() const { return src_.mapped_bytes(); }
  size_t owned_bytes() const;
  // Bytes of the mapped files resident right now (mincore), plus owned_bytes().
  int64_t resident_bytes() const;

 private:
  Model() = default;
  ModelSource src_;
  std::unique_ptr<MelExtractor> mel_;
  std::vector<std::unique_ptr<std::vector<float>>> small_;  // f32 copies of 1-D tensors
  EncoderWeights enc_;
  DecoderWeights dec_;
};

}  // namespace qasr
