// Statistics for the memory benchmark: summary statistics, least-squares slope
// with a 95% confidence interval, warm-up detection, 10-iteration blocks, verdict.
#pragma once

#include <string>
#include <vector>

namespace qasr {

struct Summary {
  int n = 0;
  double mean = 0, stddev = 0, min = 0, max = 0, range = 0, median = 0;
};
Summary summarize(const std::vector<double>& v);

struct Slope {
  int n = 0;
  double slope = 0, intercept = 0;
  double ci_low = 0, ci_high = 0;  // 95% confidence interval of the slope
  double r2 = 0;
};
// y against x = 0, 1, 2, ... (ordinary least squares; Student t for the interval).
Slope fit_slope(const std::vector<double>& y);
// Two-sided 97.5% quantile of Student's t with `dof` degrees of freedom.
double t_quantile_975(int dof);

// Iterations to drop as warm-up: the first index from which consecutive values
// move less than `tol` (but at most max_warmup).
int detect_warmup(const std::vector<double>& y, double tol, int max_warmup);

struct Block {
  int first = 0, last = 0;     // 1-based iteration numbers, inclusive
  double mean = 0, delta = 0;  // delta: mean minus the previous block's mean
  std::string trend;
};
std::vector<Block> blocks_of(const std::vector<double>& y, int size, double tol);

struct Verdict {
  std::string verdict;   // "no leak" | "leak" | "inconclusive"
  std::string evidence;  // one sentence with the numbers behind it
};
// slope: post-warm-up fit of anonymous memory (MiB/iteration); final_vs_baseline:
// the last anonymous reading minus the baseline (MiB).
Verdict judge(const Slope& slope, double final_vs_baseline_mb, double slope_tol_mb = 0.05,
              double baseline_tol_mb = 4.0);

}  // namespace qasr
