// Audio encoder ("AuT"), following the official Qwen3ASRAudioEncoder.forward
// (spec §3; OFF-MOD) with the trained windowed attention (§3.7, pitfall P1).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/ops.h"
#include "model/forward.h"

namespace qasr {
namespace {

// 3×3, stride 2, padding 1 convolution as im2col + matmul, in HWC layout.
// in [H][W][Cin] → out [Ho][Wo][Cout] = GELU(conv + bias). col: [Ho·Wo][Cin·9]
// with K index ci·9 + kh·3 + kw, matching PyTorch's [Cout][Cin][3][3] weights.
void conv3x3s2_gelu(ThreadPool& pool, const float* in, int64_t H, int64_t W, int64_t Cin, const Mat& w,
                    const float* bias, float* col, float* out, int64_t* Ho_out, int64_t* Wo_out) {
  const int64_t Ho = conv_out_len(H), Wo = conv_out_len(W), K = Cin * 9;
  pool.parallel_for(Ho, 1, [&](int64_t h0, int64_t h1, int) {
    for (int64_t ho = h0; ho < h1; ++ho)
      for (int64_t wo = 0; wo < Wo; ++wo) {
        float* c = col + (ho * Wo + wo) * K;
        // The 9 taps' input pixels; a tap outside the image reads pixel 0, then is zeroed.
        const float* src[9];
        bool inside[9];
        for (int k = 0; k < 9; ++k) {
          const int64_t hi = 2 * ho - 1 + k / 3, wi = 2 * wo - 1 + k % 3;
          inside[k] = hi >= 0 && hi < H && wi >= 0 && wi < W;
          src[k] = in + (inside[k] ? (hi * W + wi) * Cin : 0);
        }
        // Written in order (ci outer), read as 9 sequential streams (0.6B, 11 s: 21 -> 16 ms
        // a run, against a pass per tap writing every 9th value; col outgrows L2 either way).
        for (int64_t ci = 0; ci < Cin; ++ci)
          for (int k = 0; k < 9; ++k) c[ci * 9 + k] = src[k][ci];
        for (int k = 0; k < 9; ++k)
          if (!inside[k])
            for (int64_t ci = 0; ci < Cin; ++ci) c[ci * 9 + k] = 0.0f;
      }
  });
  ops::matmul(pool, col, Ho * Wo, w, bias, out);
  ops::gelu_erf(pool, out, Ho * Wo * w.rows);
  *Ho_out = Ho;
  *Wo_out = Wo;
}

// Bidirectional multi-head attention inside each window of `win` tokens.
// q/k/v/out: [N][d] with heads of hd side by side.
void windowed_attention(ThreadPool& pool, const float* q, const float* k, const float* v, int64_t N, int64_t d,
                        int64_t heads, int64_t win, float* out) {
  const int64_t hd = d / heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t s0 = 0; s0 < N; s0 += win) {
    const int64_t n = std::min(N, s0 + win) - s0;
    ops::attention(pool, q + s0 * d, d, n, k + s0 * d, v + s0 * d, d, hd, n, heads, heads, hd, scale, -1, out + s0 * d,
                   d);
  }
}

}  // namespace

Expected<int64_t> encode_audio(const Model& m, EncoderScratch& b, ThreadPool& pool, const LogMel& mel,
                               const RunControl& ctl) {
  const AudioConfig& a = m.config().audio;
  const EncoderWeights& w = m.encoder();
  const int64_t T = mel.n_frames, chunk = a.chunk_frames(), d = a.d_model, C = a.conv_channels;
  const int64_t n_chunks = (T + chunk - 1) / chunk;
  // Chunks are zero-padded to the longest one: 100 frames once T ≥ 100 (spec §3.2, P4).
  const int64_t L_max = std::min(T, chunk);
  const int64_t N = audio_token_count(a, T);
  QASR_CHECK(N <= b.max_tokens) << N << " audio tokens, scratch for " << b.max_tokens;

  // 1. Conv stem chunk by chunk, keeping each chunk's valid tokens; conv_out and positions
  //    for up to kConvOutChunks chunks at once.
  int64_t row = 0, batch_row = 0;  // rows of x written; rows of feat pending
  int64_t batch_valid[EncoderScratch::kConvOutChunks];
  int64_t batch_chunks = 0;
  for (int64_t c = 0; c < n_chunks; ++c) {
    QASR_RETURN_IF_ERROR(ctl.check());
    ctl.report("conv stem", c, n_chunks);
    const int64_t f0 = c * chunk, Lc = std::min(chunk, T - f0);
    // conv_in [mel][L_max][1] (HWC with one channel), zeros beyond the chunk.
    for (int64_t f = 0; f < a.num_mel_bins; ++f)
      for (int64_t t = 0; t < L_max; ++t)
        b.conv_in[f * L_max + t] = t < Lc ? mel.row(static_cast<int>(f))[f0 + t] : 0.0f;
    int64_t H1, W1, H2, W2, H3, W3;
    conv3x3s2_gelu(pool, b.conv_in, a.num_mel_bins, L_max, 1, w.conv1, w.conv1_b, b.col, b.a1, &H1, &W1);
    conv3x3s2_gelu(pool, b.a1, H1, W1, C, w.conv2, w.conv2_b, b.col, b.a2, &H2, &W2);
    conv3x3s2_gelu(pool, b.a2, H2, W2, C, w.conv3, w.conv3_b, b.col, b.a3, &H3, &W3);
    // Flatten (N, C, F, t) → (t, C·F): feature index c·F + f, the valid tokens only.
    const int64_t valid = conv3_out_len(Lc);
    for (int64_t t = 0; t < valid; ++t)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t f = 0; f < H3; ++f) b.feat[(batch_row + t) * C * H3 + ch * H3 + f] = b.a3[(f * W3 + t) * C + ch];
    batch_row += valid;
    batch_valid[batch_chunks++] = valid;
    if (batch_chunks == EncoderScratch::kConvOutChunks || c + 1 == n_chunks) {
      ops::matmul(pool, b.feat, batch_row, w.conv_out, nullptr, b.x + row * d);
      for (int64_t i = 0; i < batch_chunks; ++i)
        for (int64_t t = 0; t < batch_valid[i]; ++t, ++row)
          for (int64_t j = 0; j < d; ++j) b.x[row * d + j] += w.pos_emb[t * d + j];
      batch_row = batch_chunks = 0;
    }
  }

  // 2. Transformer layers with block-diagonal windows: tokens of the longest chunk ×
  //    (n_window_infer / chunk) = 13 × 8 = 104 for the real configs (spec §3.7).
  const int64_t win = a.window_tokens(L_max);
  for (const EncoderLayerWeights& l : w.layers) {
    QASR_RETURN_IF_ERROR(ctl.check());
    ctl.report("encoder", &l - w.layers.data(), static_cast<int64_t>(w.layers.size()));
    ops::layer_norm(b.x, N, d, l.ln1_g, l.ln1_b, 1e-5f, b.ln);
    ops::matmul(pool, b.ln, N, l.q, l.q_b, b.q);
    ops::matmul(pool, b.ln, N, l.k, l.k_b, b.k);
    ops::matmul(pool, b.ln, N, l.v, l.v_b, b.v);
    windowed_attention(pool, b.q, b.k, b.v, N, d, a.heads, win, b.attn);
    ops::matmul(pool, b.attn, N, l.o, l.o_b, b.ln);
    ops::add_inplace(b.x, b.ln, N * d);
    ops::layer_norm(b.x, N, d, l.ln2_g, l.ln2_b, 1e-5f, b.ln);
    ops::matmul(pool, b.ln, N, l.fc1, l.fc1_b, b.ffn);
    ops::gelu_erf(pool, b.ffn, N * a.ffn);
    ops::matmul(pool, b.ffn, N, l.fc2, l.fc2_b, b.ln);
    ops::add_inplace(b.x, b.ln, N * d);
  }

  // 3. Output head: ln_post → proj1 → GELU → proj2.
  ops::layer_norm(b.x, N, d, w.ln_post_g, w.ln_post_b, 1e-5f, b.ln);
  ops::matmul(pool, b.ln, N, w.proj1, w.proj1_b, b.q);
  ops::gelu_erf(b.q, N * d);
  ops::matmul(pool, b.q, N, w.proj2, w.proj2_b, b.out);
  return N;
}

}  // namespace qasr
