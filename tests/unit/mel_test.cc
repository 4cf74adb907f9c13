#include "features/mel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace qasr {
namespace {

TEST(Mel, FrameCountIsFloorOfSamplesOverHop) {
  MelExtractor m;
  for (size_t n : {201u, 320u, 16000u, 16159u, 16160u}) {
    std::vector<float> x(n, 0.01f);
    auto r = m.compute(x);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->n_frames, static_cast<int>(n / 160)) << n;
    EXPECT_EQ(r->n_mels, 128);
    EXPECT_EQ(r->data.size(), 128 * (n / 160));
  }
}

TEST(Mel, TooShortIsAnError) {
  MelExtractor m;
  for (size_t n : {0u, 100u, 200u}) {
    std::vector<float> x(n, 0.0f);
    auto r = m.compute(x);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("too short"), std::string::npos);
  }
}

TEST(Mel, SilenceIsFlat) {
  // log10(1e-10) everywhere; the max−8 clamp leaves it; (−10 + 4) / 4 = −1.5.
  MelExtractor m;
  std::vector<float> x(16000, 0.0f);
  auto r = m.compute(x);
  ASSERT_TRUE(r.ok());
  for (float v : r->data) ASSERT_FLOAT_EQ(v, -1.5f);
}

TEST(Mel, SineLightsTheRightFilter) {
  // A 1 kHz tone: the loudest mel bin is the filter whose peak is nearest 1 kHz.
  MelExtractor m;
  std::vector<float> x(32000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * std::sin(2 * std::numbers::pi * 1000.0 * i / 16000.0);
  auto r = m.compute(x);
  ASSERT_TRUE(r.ok());
  int t = r->n_frames / 2, best = -1;
  float bestv = -1e9f;
  for (int k = 0; k < 128; ++k)
    if (r->row(k)[t] > bestv) bestv = r->row(k)[t], best = k;
  // Bin 25 (40 Hz spacing) is 1000 Hz; find the filter with the largest weight there.
  const auto& fb = m.filters();
  int expect = 0;
  for (int k = 1; k < 128; ++k)
    if (fb[25 * 128 + k] > fb[25 * 128 + expect]) expect = k;
  EXPECT_EQ(best, expect);
  // Dynamic range: the far bins are clamped to max − 8 (in log10 units → 2 after /4).
  float mn = 1e9f, mx = -1e9f;
  for (float v : r->data) mn = std::min(mn, v), mx = std::max(mx, v);
  EXPECT_NEAR(mx - mn, 2.0f, 1e-5f);
}

TEST(Mel, FiltersAreSlaneyNormalised) {
  // Slaney norm: each triangle has area ≈ 1 in Hz·(1/Hz)... i.e. peak = 2/(f_{i+2} − f_i);
  // all filters non-negative, none empty, and nothing above 8 kHz.
  auto fb = slaney_mel_filters(201, 128, 0.0, 8000.0, 16000);
  for (int m = 0; m < 128; ++m) {
    double sum = 0;
    for (int k = 0; k < 201; ++k) {
      ASSERT_GE(fb[k * 128 + m], 0.0);
      sum += fb[k * 128 + m];
    }
    EXPECT_GT(sum, 0.0) << m;
  }
  // Value from the numpy reference (tests/reference/mel_ref.py, librosa formulation): filter 0, bin 1.
  EXPECT_NEAR(fb[1 * 128 + 0], 0.012373986332636965, 1e-12);
}

}  // namespace
}  // namespace qasr
