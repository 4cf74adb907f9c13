// Qwen3-ASR forward passes (f32 activations). Each function reads top to bottom like the
// official forward(); buffers come from the caller's run state (model/state.h), work is
// split over the caller's pool, and a RunControl is checked per encoder chunk and layer
// and per decoder layer (Cancelled / DeadlineExceeded; the state is then to be reset).
#pragma once

#include <cstdint>

#include "base/cancel.h"
#include "base/thread_pool.h"
#include "features/mel.h"
#include "model/model.h"
#include "model/state.h"

namespace qasr {

// Audio encoder (spec §3): per-100-frame-chunk conv stem, per-chunk sinusoids,
// windowed bidirectional attention layers, ln_post → proj1 → GELU → proj2.
// Writes [N_audio][output_dim] to s.out and returns N_audio (≤ s.max_tokens).
Expected<int64_t> encode_audio(const Model& m, EncoderScratch& s, ThreadPool& pool, const LogMel& mel,
                               const RunControl& ctl = {});

// Decoder layers (spec §4.2) over s.x rows [0, L) at positions pos0.. : appends K/V to
// the cache and leaves the final hidden states (before the final norm) in s.x.
Status decoder_forward(const Model& m, DecoderState& s, ThreadPool& pool, int64_t pos0, int64_t L,
                       const RunControl& ctl = {});

// Final RMSNorm of one hidden row, then the head (vocabulary logits, or the forced
// aligner's timestamp classes) into s.logits.
void decoder_logits(const Model& m, DecoderState& s, ThreadPool& pool, const float* hidden);

// Embedding row of `id` as f32.
void embed_token(const Model& m, int32_t id, float* out);

}  // namespace qasr
