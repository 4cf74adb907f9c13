#include "features/mel.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

namespace qasr {
namespace {

double hz_to_mel_slaney(double f) {
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return f < min_log_hz ? f / f_sp : min_log_mel + std::log(f / min_log_hz) / logstep;
}

double mel_to_hz_slaney(double m) {
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  return m < min_log_mel ? m * f_sp : min_log_hz * std::exp(logstep * (m - min_log_mel));
}

constexpr int kCols = 8;           // basis columns per block (one cache line of doubles)
constexpr int kRows = 4;           // frames per register block: 4 × 8 accumulators
constexpr int kChunkFrames = 256;  // frames whose spectra are held at once

// out[f][jb·8 + c] = Σ_n x_f[n] · basis[jb][n][c] for `nf` frames starting at
// padded + f·hop. The basis block (n_fft × 8 doubles = 25.6 KB) stays in L1 while
// every frame of the chunk streams past; 4 × 8 accumulators stay in registers.
// Cloned for AVX-512/AVX2 and picked at run time. (Not under ThreadSanitizer: the clone
// resolver runs during relocation, before the TSan runtime exists, and its
// instrumentation crashes there.)
#if defined(__SANITIZE_THREAD__)
#define QASR_MEL_CLONES
#else
#define QASR_MEL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
QASR_MEL_CLONES
void dft_chunk(const double* padded, int hop, int nf, int n_fft, const double* basis, int n_blocks, double* out) {
  const int width = n_blocks * kCols;
  for (int jb = 0; jb < n_blocks; ++jb) {
    const double* b = basis + static_cast<size_t>(jb) * n_fft * kCols;
    int f = 0;
    for (; f + kRows <= nf; f += kRows) {
      // GCC vector types pin the register layout: 4 frames × 2 × 4 doubles.
      typedef double v4d __attribute__((vector_size(32), aligned(8)));
      v4d acc[kRows][2] = {};
      const double* x = padded + static_cast<size_t>(f) * hop;
      for (int n = 0; n < n_fft; ++n) {
        const v4d b0 = *reinterpret_cast<const v4d*>(b + static_cast<size_t>(n) * kCols);
        const v4d b1 = *reinterpret_cast<const v4d*>(b + static_cast<size_t>(n) * kCols + 4);
        for (int r = 0; r < kRows; ++r) {
          const double xv = x[static_cast<size_t>(r) * hop + n];
          acc[r][0] += xv * b0;
          acc[r][1] += xv * b1;
        }
      }
      for (int r = 0; r < kRows; ++r)
        for (int c = 0; c < kCols; ++c) out[static_cast<size_t>(f + r) * width + jb * kCols + c] = acc[r][c / 4][c % 4];
    }
    for (; f < nf; ++f) {  // tail frames
      double acc[kCols] = {};
      const double* x = padded + static_cast<size_t>(f) * hop;
      for (int n = 0; n < n_fft; ++n)
        for (int c = 0; c < kCols; ++c) acc[c] += x[n] * b[static_cast<size_t>(n) * kCols + c];
      for (int c = 0; c < kCols; ++c) out[static_cast<size_t>(f) * width + jb * kCols + c] = acc[c];
    }
  }
}

}  // namespace

std::vector<double> slaney_mel_filters(int n_bins, int n_mels, double f_min, double f_max, int sample_rate) {
  const double mel_lo = hz_to_mel_slaney(f_min), mel_hi = hz_to_mel_slaney(f_max);
  std::vector<double> hz(n_mels + 2);
  for (int i = 0; i < n_mels + 2; ++i) hz[i] = mel_to_hz_slaney(mel_lo + (mel_hi - mel_lo) * i / (n_mels + 1));
  std::vector<double> fb(static_cast<size_t>(n_bins) * n_mels, 0.0);
  for (int k = 0; k < n_bins; ++k) {
    const double f = static_cast<double>(sample_rate) / 2.0 * k / (n_bins - 1);
    for (int m = 0; m < n_mels; ++m) {
      double down = (f - hz[m]) / (hz[m + 1] - hz[m]);
      double up = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
      double w = std::max(0.0, std::min(down, up));
      fb[static_cast<size_t>(k) * n_mels + m] = w * 2.0 / (hz[m + 2] - hz[m]);
    }
  }
  return fb;
}

MelExtractor::MelExtractor(const MelConfig& config) : config_(config) {
  const int n_fft = config_.n_fft, bins = n_bins();
  const int n_blocks = (2 * bins + kCols - 1) / kCols;
  // Column j = 2k (re) or 2k+1 (im) lives in block j/8, slot j%8; padding columns are 0.
  basis_.assign(static_cast<size_t>(n_blocks) * n_fft * kCols, 0.0);
  auto at = [&](int n, int j) -> double& {
    return basis_[(static_cast<size_t>(j / kCols) * n_fft + n) * kCols + j % kCols];
  };
  for (int n = 0; n < n_fft; ++n) {
    // Periodic Hann (torch.hann_window default).
    const double w = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * n / n_fft);
    for (int k = 0; k < bins; ++k) {
      // Reduce k·n mod n_fft first so the angle stays exact.
      const double ang = 2.0 * std::numbers::pi * static_cast<double>((static_cast<long>(k) * n) % n_fft) / n_fft;
      at(n, 2 * k) = w * std::cos(ang);
      at(n, 2 * k + 1) = -w * std::sin(ang);
    }
  }
  filters_ = slaney_mel_filters(bins, config_.n_mels, config_.f_min, config_.f_max, config_.sample_rate);
}

Expected<LogMel> MelExtractor::compute(std::span<const float> pcm) const {
  const int n_fft = config_.n_fft, hop = config_.hop, pad = n_fft / 2, bins = n_bins(), width = 2 * bins;
  const int n_mels = config_.n_mels;
  const size_t n = pcm.size();
  if (n <= static_cast<size_t>(pad))
    return InvalidArgument(fmt::format("audio too short: {} samples ({:.1f} ms at 16 kHz); at least {} are needed", n,
                                       n * 1000.0 / config_.sample_rate, pad + 1));
  // Frames of the centred STFT are 1 + n/hop; the last one is dropped.
  const size_t n_frames = n / hop;
  if (n_frames > (size_t{1} << 26)) return TooLarge("audio too long for the mel front end");

  // Reflect-padded signal (numpy "reflect": the edge sample is not repeated).
  std::vector<double> padded(n + 2 * pad);
  for (int i = 0; i < pad; ++i) {
    padded[i] = pcm[pad - i];
    padded[n + pad + i] = pcm[n - 2 - i];
  }
  for (size_t i = 0; i < n; ++i) padded[pad + i] = pcm[i];

  LogMel mel;
  mel.n_mels = n_mels;
  mel.n_frames = static_cast<int>(n_frames);
  mel.data.resize(n_frames * n_mels);
  const int n_blocks = (width + kCols - 1) / kCols, padded_width = n_blocks * kCols;
  std::vector<double> spec(static_cast<size_t>(kChunkFrames) * padded_width);
  std::vector<double> mel_power(n_mels);
  double mx = -1e300;
  for (size_t f0 = 0; f0 < n_frames; f0 += kChunkFrames) {
    const int nf = static_cast<int>(std::min<size_t>(kChunkFrames, n_frames - f0));
    dft_chunk(padded.data() + f0 * hop, hop, nf, n_fft, basis_.data(), n_blocks, spec.data());
    for (int f = 0; f < nf; ++f) {
      const double* a = spec.data() + static_cast<size_t>(f) * padded_width;
      std::fill(mel_power.begin(), mel_power.end(), 0.0);
      for (int k = 0; k < bins; ++k) {
        const double p = a[2 * k] * a[2 * k] + a[2 * k + 1] * a[2 * k + 1];
        const double* fr = filters_.data() + static_cast<size_t>(k) * n_mels;
        for (int m = 0; m < n_mels; ++m) mel_power[m] += fr[m] * p;
      }
      for (int m = 0; m < n_mels; ++m) {
        const double l = std::log10(std::max(mel_power[m], 1e-10));
        mx = std::max(mx, l);
        mel.data[static_cast<size_t>(m) * n_frames + f0 + f] = static_cast<float>(l);
      }
    }
  }
  // Global max over the kept frames, clamp at max − 8, then (x + 4) / 4.
  const float floor_v = static_cast<float>(mx - 8.0);
  for (float& v : mel.data) v = (std::max(v, floor_v) + 4.0f) / 4.0f;
  return mel;
}

}  // namespace qasr
