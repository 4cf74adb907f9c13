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

constexpr uint64_t kPerThread = uint64_t{1} << 31;
constexpr int64_t kMaxChunks = 0x7FFF;   // the claim word's 15-bit chunk count
constexpr int64_t kChunksPerThread = 4;  // balance against late threads vs per-chunk cost

inline uint32_t claim_gen(uint64_t w) {
  return static_cast<uint32_t>(w >> 32);
}
inline int64_t claim_count(uint64_t w) {
  return static_cast<int64_t>((w >> 16) & kMaxChunks);
}
inline int64_t claim_next(uint64_t w) {
  return static_cast<int64_t>(w & 0xFFFF);
}

}  // namespace

void ThreadPool::finish_chunk() {
  const int64_t total = claim_count(claim_.load(std::memory_order_relaxed));
  if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == total) {
    // Last chunk done: wake the caller if it went to sleep (under the mutex, so the
    // caller cannot miss it between its check and its wait).
    std::lock_guard<std::mutex> lk(mutex_);
    done_cv_.notify_one();
  }
}

void ThreadPool::work_on(uint32_t gen, int index) {
  uint64_t w = claim_.load(std::memory_order_acquire);
  if (claim_gen(w) != gen) return;  // that job is over (and maybe the next begun)
  if (w & kPerThread) {
    // One chunk per thread: the caller waits for every thread, so the job is live.
    const RangeFn* job = job_;
    (*job)(index, index + 1, index);
    finish_chunk();
    return;
  }
  for (;;) {
    if (claim_gen(w) != gen || claim_next(w) >= claim_count(w)) return;
    if (!claim_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // Chunk claim_next(w) of job `gen` is ours: its fields stay put until we finish it.
    const RangeFn* job = job_;
    const int64_t b = claim_next(w) * chunk_, e = std::min(n_, b + chunk_);
    (*job)(b, e, index);
    finish_chunk();
    w = claim_.load(std::memory_order_acquire);
  }
}

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
    work_on(static_cast<uint32_t>(seen), index);
  }
}

void ThreadPool::run(int64_t n, int64_t grain, const RangeFn& fn, bool per_thread) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  if (n_threads_ == 1 || (units == 1 && !per_thread)) {
    fn(0, per_thread ? 1 : n, 0);
    even_out_scratch();
    return;
  }
  std::lock_guard<std::mutex> run(run_mutex_);
  const int64_t want = std::min({units, kChunksPerThread * n_threads_, kMaxChunks});
  const int64_t chunk = per_thread ? 1 : ((units + want - 1) / want) * grain;
  const int64_t chunks = per_thread ? n_threads_ : (n + chunk - 1) / chunk;
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;  // only run() writes it
  {
    std::lock_guard<std::mutex> lk(mutex_);
    job_ = &fn;
    n_ = n;
    chunk_ = chunk;
    done_.store(0, std::memory_order_relaxed);
    claim_.store((gen << 32) | (per_thread ? kPerThread : 0) | (static_cast<uint64_t>(chunks) << 16),
                 std::memory_order_release);
    generation_.store(gen, std::memory_order_release);
  }
  start_cv_.notify_all();
  work_on(static_cast<uint32_t>(gen), 0);
  auto done = [&] { return done_.load(std::memory_order_acquire) == chunks; };
  if (!spin_until(done)) {
    std::unique_lock<std::mutex> lk(mutex_);
    done_cv_.wait(lk, done);
  }
  // Every chunk is done (acquire above), so no thread is in its scratch now.
  even_out_scratch();
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
  if (v.size() < bytes) {
    v.resize(bytes);
    std::atomic<size_t>& high = scratch_high_[static_cast<int>(slot)];
    size_t h = high.load(std::memory_order_relaxed);
    while (h < bytes && !high.compare_exchange_weak(h, bytes, std::memory_order_relaxed)) {
    }
    scratch_grew_.store(true, std::memory_order_relaxed);
  }
  return v.data();
}

void ThreadPool::even_out_scratch() {
  if (!scratch_grew_.exchange(false, std::memory_order_relaxed)) return;
  for (int slot = 0; slot < kScratchSlots; ++slot) {
    if (slot == static_cast<int>(Scratch::kPackedActivations)) continue;  // thread 0's alone
    const size_t high = scratch_high_[slot].load(std::memory_order_relaxed);
    for (int t = 0; t < n_threads_; ++t) {
      std::vector<char>& v = scratch_[static_cast<size_t>(t) * kScratchSlots + slot];
      if (v.size() < high) v.resize(high);
    }
  }
}

void ThreadPool::release_scratch() {
  for (auto& v : scratch_) std::vector<char>().swap(v);
  for (auto& h : scratch_high_) h.store(0, std::memory_order_relaxed);
  scratch_grew_.store(false, std::memory_order_relaxed);
}

size_t ThreadPool::scratch_bytes() const {
  size_t n = 0;
  for (const auto& v : scratch_) n += v.capacity();
  return n;
}

}  // namespace qasr
