#include "base/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <system_error>

namespace qasr {

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::clamp(n_threads, 1, 1024)) {
  scratch_.resize(static_cast<size_t>(n_threads_) * kScratchSlots);
  for (int i = 1; i < n_threads_; ++i) {
    try {
      threads_.emplace_back([this, i] { worker(i); });
    } catch (const std::system_error&) {
      // The system gave fewer threads than asked (limits): run with those.
      n_threads_ = i;
      break;
    }
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mutex_);
    stop_.store(true);
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

namespace {

constexpr int64_t kSpinMicros = 300;  // spin this long before sleeping (see the header)

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until pred() holds or kSpinMicros pass; true if pred() held.
template <typename Pred>
bool spin_until(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() > deadline) return pred();
  }
}

}  // namespace

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto ready = [&] {
      return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
    };
    if (!spin_until(ready)) {
      std::unique_lock<std::mutex> lk(mutex_);
      start_cv_.wait(lk, ready);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    const RangeFn* job = job_;
    const int64_t n = n_, chunk = chunk_;
    const int64_t b = index * chunk, e = std::min(n, b + chunk);
    if (b < e) (*job)(b, e, index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Last one out wakes the caller if it went to sleep (under the mutex, so the
      // caller cannot miss it between its check and its wait).
      std::lock_guard<std::mutex> lk(mutex_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::run(int64_t n, int64_t grain, const RangeFn& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  if (n_threads_ == 1 || units == 1) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> run(run_mutex_);
  const int64_t chunk = ((units + n_threads_ - 1) / n_threads_) * grain;
  {
    std::lock_guard<std::mutex> lk(mutex_);
    job_ = &fn;
    n_ = n;
    chunk_ = chunk;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  fn(0, std::min(n, chunk), 0);
  auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(done)) {
    std::unique_lock<std::mutex> lk(mutex_);
    done_cv_.wait(lk, done);
  }
}

int default_thread_count() {
  // QASR_THREADS, or INFERENCE_THREADS (the earlier study's harness reads that one).
  for (const char* name : {"QASR_THREADS", "INFERENCE_THREADS"})
    if (const char* env = std::getenv(name)) {
      const int v = std::atoi(env);
      if (v > 0) return std::min(v, 1024);
    }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

}  // namespace qasr

namespace qasr {

void* ThreadPool::scratch(int thread, Scratch slot, size_t bytes) {
  std::vector<char>& v = scratch_[static_cast<size_t>(thread) * kScratchSlots + static_cast<int>(slot)];
  if (v.size() < bytes) v.resize(bytes);
  return v.data();
}

void ThreadPool::release_scratch() {
  for (auto& v : scratch_) std::vector<char>().swap(v);
}

size_t ThreadPool::scratch_bytes() const {
  size_t n = 0;
  for (const auto& v : scratch_) n += v.capacity();
  return n;
}

}  // namespace qasr
