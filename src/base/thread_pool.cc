#include "base/thread_pool.h"

#include <algorithm>
#include <cstdlib>

namespace qasr {

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  scratch_.resize(static_cast<size_t>(n_threads_) * kScratchSlots);
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mutex_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    const RangeFn* job;
    int64_t n, chunk;
    {
      std::unique_lock<std::mutex> lk(mutex_);
      start_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      n = n_;
      chunk = chunk_;
    }
    int64_t b = index * chunk, e = std::min(n, b + chunk);
    if (b < e) (*job)(b, e, index);
    {
      std::lock_guard<std::mutex> lk(mutex_);
      if (--pending_ == 0) done_cv_.notify_one();
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
    pending_ = n_threads_ - 1;
    ++generation_;
  }
  start_cv_.notify_all();
  fn(0, std::min(n, chunk), 0);
  std::unique_lock<std::mutex> lk(mutex_);
  done_cv_.wait(lk, [&] { return pending_ == 0; });
}

int default_thread_count() {
  if (const char* env = std::getenv("QASR_THREADS")) {
    int v = std::atoi(env);
    if (v > 0) return v;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

}  // namespace qasr

namespace qasr {

void* ThreadPool::scratch(int thread, int slot, size_t bytes) {
  std::vector<char>& v = scratch_[static_cast<size_t>(thread) * kScratchSlots + slot];
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
