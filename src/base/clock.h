// Monotonic wall-clock milliseconds, for stage timings and benchmarks.
#pragma once

#include <chrono>

namespace qasr {

inline double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace qasr
