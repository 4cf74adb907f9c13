#include "bench/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace qasr {
namespace {

TEST(Stats, Summary) {
  Summary s = summarize({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.stddev, 1.2909944, 1e-6);
  EXPECT_DOUBLE_EQ(s.range, 3);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
}

TEST(Stats, SlopeRecoversAKnownRateWithCoverage) {
  // y = 5 + 0.3·i + noise(σ = 0.1): the 95% interval must hold the true slope.
  std::mt19937 rng(1);
  std::normal_distribution<double> nd(0, 0.1);
  std::vector<double> y;
  for (int i = 0; i < 40; ++i) y.push_back(5 + 0.3 * i + nd(rng));
  Slope s = fit_slope(y);
  EXPECT_NEAR(s.slope, 0.3, 0.01);
  EXPECT_LT(s.ci_low, 0.3);
  EXPECT_GT(s.ci_high, 0.3);
  EXPECT_GT(s.r2, 0.99);
  // Exact line: zero-width interval.
  Slope e = fit_slope({1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(e.slope, 1.0);
  EXPECT_NEAR(e.ci_high - e.ci_low, 0.0, 1e-12);
}

TEST(Stats, TQuantiles) {
  EXPECT_NEAR(t_quantile_975(1), 12.706, 1e-3);
  EXPECT_NEAR(t_quantile_975(10), 2.228, 1e-3);
  EXPECT_NEAR(t_quantile_975(40), 2.021, 0.005);
  EXPECT_NEAR(t_quantile_975(1000), 1.962, 0.005);
}

TEST(Stats, WarmupDetection) {
  std::vector<double> y = {700, 1800, 2600, 3100, 3150, 3150.2, 3150.1, 3150.3, 3150.2, 3150.1, 3150.2};
  EXPECT_EQ(detect_warmup(y, 0.5, 5), 4);
  EXPECT_EQ(detect_warmup({1, 1, 1, 1}, 0.5, 3), 0);
  std::vector<double> leak;
  for (int i = 0; i < 50; ++i) leak.push_back(10 + i);  // never steady: capped
  EXPECT_EQ(detect_warmup(leak, 0.5, 10), 10);
}

TEST(Stats, Blocks) {
  std::vector<double> y;
  for (int i = 0; i < 25; ++i) y.push_back(i < 10 ? 1.0 : 3.0);
  auto b = blocks_of(y, 10, 0.5);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2].first, 21);
  EXPECT_EQ(b[2].last, 25);
  EXPECT_DOUBLE_EQ(b[1].delta, 2.0);
  EXPECT_EQ(b[2].trend, "stable");
}

TEST(Stats, Verdicts) {
  std::vector<double> flat(40, 6.3), leak;
  for (int i = 0; i < 40; ++i) leak.push_back(6.3 + 0.5 * i);
  EXPECT_EQ(judge(fit_slope(flat), 0.1).verdict, "no leak");
  EXPECT_EQ(judge(fit_slope(flat), 30.0).verdict, "inconclusive");  // flat but far from the baseline
  Verdict v = judge(fit_slope(leak), 20.0);
  EXPECT_EQ(v.verdict, "leak");
  EXPECT_NE(v.evidence.find("0.500"), std::string::npos) << v.evidence;
  EXPECT_EQ(judge(fit_slope({1, 2, 3}), 0).verdict, "inconclusive");  // too few points
  std::mt19937 rng(2);
  std::normal_distribution<double> nd(0, 5.0);
  std::vector<double> noisy;
  for (int i = 0; i < 12; ++i) noisy.push_back(100 + nd(rng));
  EXPECT_EQ(judge(fit_slope(noisy), 0.0).verdict, "inconclusive");  // noise too high for ±0.05
}

}  // namespace
}  // namespace qasr
