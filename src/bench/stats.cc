#include "bench/stats.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace qasr {

Summary summarize(const std::vector<double>& v) {
  Summary s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / s.n;
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.stddev = s.n > 1 ? std::sqrt(ss / (s.n - 1)) : 0.0;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  s.range = s.max - s.min;
  std::vector<double> c = v;
  std::sort(c.begin(), c.end());
  s.median = c.size() % 2 ? c[c.size() / 2] : 0.5 * (c[c.size() / 2 - 1] + c[c.size() / 2]);
  return s;
}

double t_quantile_975(int dof) {
  static const double kT[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                              2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
                              2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof <= 0) return INFINITY;
  if (dof <= 30) return kT[dof];
  // Beyond 30: the normal quantile with a first-order correction.
  return 1.959964 + 2.37 / dof;
}

Slope fit_slope(const std::vector<double>& y) {
  Slope s;
  s.n = static_cast<int>(y.size());
  if (s.n < 2) return s;
  double mx = (s.n - 1) / 2.0, my = 0;
  for (double v : y) my += v;
  my /= s.n;
  double sxx = 0, sxy = 0;
  for (int i = 0; i < s.n; ++i) {
    sxx += (i - mx) * (i - mx);
    sxy += (i - mx) * (y[i] - my);
  }
  s.slope = sxy / sxx;
  s.intercept = my - s.slope * mx;
  double sse = 0, sst = 0;
  for (int i = 0; i < s.n; ++i) {
    const double e = y[i] - (s.intercept + s.slope * i);
    sse += e * e;
    sst += (y[i] - my) * (y[i] - my);
  }
  s.r2 = sst > 0 ? 1.0 - sse / sst : 1.0;
  if (s.n > 2) {
    const double se = std::sqrt(sse / (s.n - 2) / sxx);
    const double t = t_quantile_975(s.n - 2);
    s.ci_low = s.slope - t * se;
    s.ci_high = s.slope + t * se;
  } else {
    s.ci_low = -INFINITY;
    s.ci_high = INFINITY;
  }
  return s;
}

int detect_warmup(const std::vector<double>& y, double tol, int max_warmup) {
  const int n = static_cast<int>(y.size());
  for (int k = 0; k < std::min(n - 1, max_warmup); ++k) {
    bool steady = true;
    for (int i = k + 1; i < n && steady; ++i) steady = std::fabs(y[i] - y[i - 1]) <= tol;
    if (steady) return k;
  }
  return std::min(std::max(0, n - 1), max_warmup);
}

std::vector<Block> blocks_of(const std::vector<double>& y, int size, double tol) {
  std::vector<Block> out;
  for (int b = 0; b * size < static_cast<int>(y.size()); ++b) {
    Block bl;
    bl.first = b * size + 1;
    bl.last = std::min(static_cast<int>(y.size()), (b + 1) * size);
    double sum = 0;
    for (int i = bl.first - 1; i < bl.last; ++i) sum += y[i];
    bl.mean = sum / (bl.last - bl.first + 1);
    if (out.empty()) {
      bl.trend = "first block";
    } else {
      bl.delta = bl.mean - out.back().mean;
      bl.trend = std::fabs(bl.delta) <= tol ? "stable"
                 : bl.delta > 0             ? fmt::format("+{:.2f} MB", bl.delta)
                                            : fmt::format("{:.2f} MB (down)", bl.delta);
    }
    out.push_back(bl);
  }
  return out;
}

Verdict judge(const Slope& s, double final_vs_baseline_mb, double slope_tol, double base_tol) {
  Verdict v;
  if (s.n < 10) {
    v.verdict = "inconclusive";
    v.evidence = fmt::format("only {} iterations after warm-up; at least 10 are needed for a slope", s.n);
    return v;
  }
  const std::string ci = fmt::format("slope {:+.4f} MiB/iteration, 95% CI [{:+.4f}, {:+.4f}] over {} iterations",
                                     s.slope, s.ci_low, s.ci_high, s.n);
  if (s.ci_low >= -slope_tol && s.ci_high <= slope_tol && std::fabs(final_vs_baseline_mb) <= base_tol) {
    v.verdict = "no leak";
    v.evidence = fmt::format(
        "{} (within ±{} MiB/iteration); final anonymous memory {:+.2f} MiB from the baseline "
        "(within {} MiB)",
        ci, slope_tol, final_vs_baseline_mb, base_tol);
  } else if (s.ci_low > 0 && s.slope > slope_tol) {
    v.verdict = "leak";
    v.evidence = fmt::format("{}: anonymous memory grows by {:.3f} MiB per iteration", ci, s.slope);
  } else {
    v.verdict = "inconclusive";
    v.evidence = fmt::format(
        "{}; final anonymous memory {:+.2f} MiB from the baseline: the interval is wider than "
        "±{} MiB/iteration or the memory did not return to the baseline",
        ci, final_vs_baseline_mb, slope_tol);
  }
  return v;
}

}  // namespace qasr
