// Qwen3-ASR forward passes (reference path, f32 activations). Each function reads
// top to bottom like the official forward(); buffers come from the Session.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "features/mel.h"
#include "model/model.h"
#include "pipeline/session.h"

namespace qasr {

// Audio encoder (spec §3): per-100-frame-chunk conv stem, per-chunk sinusoids,
// windowed bidirectional attention layers, ln_post → proj1 → GELU → proj2.
// Writes [N_audio][output_dim] to s.enc.out and returns N_audio.
int64_t encode_audio(const Model& m, Session& s, ThreadPool& pool, const LogMel& mel);

// Decoder layers (spec §4.2) over s.dec.x rows [0, L) at positions pos0.. : appends
// K/V to the cache and leaves the final hidden states (before the final norm) in s.dec.x.
void decoder_forward(const Model& m, Session& s, ThreadPool& pool, int64_t pos0, int64_t L);

// Final RMSNorm of one hidden row, then logits over the whole vocabulary into s.dec.logits.
void decoder_logits(const Model& m, Session& s, ThreadPool& pool, const float* hidden);

// Embedding row of `id` as f32.
void embed_token(const Model& m, int32_t id, float* out);

}  // namespace qasr
