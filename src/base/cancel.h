// Stopping work from outside: a cancel flag any thread may set, and a deadline. Long
// work (transcribe, align) checks a RunControl between stages, per encoder chunk and
// layer, per prefill layer and per decode step; unused, a check is one relaxed atomic
// load and a null test (no clock read without a deadline).
#pragma once

#include <atomic>
#include <cstdint>

#include "base/clock.h"
#include "base/status.h"

namespace qasr {

class CancelToken {
 public:
  void request() { requested_.store(true, std::memory_order_relaxed); }
  void reset() { requested_.store(false, std::memory_order_relaxed); }
  bool requested() const { return requested_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> requested_{false};
};

struct RunControl {
  const CancelToken* cancel = nullptr;
  double deadline_ms = 0;  // on now_ms()'s clock; 0 = none
  // Progress of long work (may be null): stage name, units done, units in all.
  void (*progress)(void* user, const char* stage, int64_t done, int64_t total) = nullptr;
  void* progress_user = nullptr;
  void report(const char* stage, int64_t done, int64_t total) const {
    if (progress) progress(progress_user, stage, done, total);
  }
  // Ok, or Cancelled / DeadlineExceeded.
  Status check() const {
    if (cancel && cancel->requested()) return Cancelled("cancelled");
    if (deadline_ms > 0 && now_ms() > deadline_ms) return DeadlineExceeded("deadline exceeded");
    return Status::Ok();
  }
};

}  // namespace qasr
