// One fixed pool of worker threads, made by the tool and passed down. No threads
// are created per call. parallel_for splits [0, n) into contiguous chunks, a few per
// thread, which the threads (the caller among them) claim one at a time from an atomic
// word, so a thread that runs late (descheduled on a shared machine, or slow to wake)
// leaves its share to the others instead of holding the call up; it returns when
// every chunk is done.
// Hand-off: a decode step makes ~250 parallel_for calls of ~20-100 µs each, so a
// futex sleep/wake per call (10-50 µs in a VM) would cost as much as the work.
// Workers therefore spin on an atomic generation counter for a short while
// (kSpinMicros) after each job before sleeping on the condition variable; the
// caller likewise spins on the done count before waiting.
// Lifetime: the claim word carries the job's generation, so a worker that wakes after
// its job is over claims nothing from it (its compare-exchange fails) and never reads
// the job's fields; a successful claim keeps the job (and the caller) alive until that
// chunk is counted done.
// Thread-safety: one parallel_for at a time per pool (calls are serialised).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace qasr {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Per-thread scratch memory for kernels, grown on demand and reused (no allocation
  // per call once warm). The pool is its one owner (no thread-locals): release_scratch()
  // frees all of it, e.g. when a model is unloaded. Each slot has one use, so buffers
  // live at the same time never share one:
  enum class Scratch : int {
    kWeightRows,         // per thread: weight rows converted / repacked for a GEMM or row-dot block
    kPackedActivations,  // thread 0 only: activations quantized or packed once per matmul, shared by all
    kScores,             // per thread: attention scores
    kKvRows,             // per thread: f16 KV rows converted to f32 for block attention
    kCount
  };
  static constexpr int kScratchSlots = static_cast<int>(Scratch::kCount);
  // Which thread runs which chunk varies from call to call, so after a call the pool
  // grows every thread's per-thread slots to the largest any thread asked for: once
  // warm, no kernel allocates, whoever runs it (kPackedActivations stays thread 0's).
  void* scratch(int thread, Scratch slot, size_t bytes);
  void release_scratch();
  size_t scratch_bytes() const;
  // fn(begin, end, thread_index). Ranges are multiples of `grain` (except the last);
  // a thread may run several ranges, one after another. Takes any callable by
  // reference without allocating (no std::function).
  template <typename Fn>
  void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
    RangeFn ref{&fn, [](void* obj, int64_t b, int64_t e, int t) {
                  (*static_cast<std::remove_reference_t<Fn>*>(obj))(b, e, t);
                }};
    run(n, grain, ref, false);
  }
  // fn(thread_index) once on every thread at the same time (measurements of what the
  // threads reach together); waits for all of them, late ones included.
  template <typename Fn>
  void for_each_thread(Fn&& fn) {
    RangeFn ref{&fn, [](void* obj, int64_t, int64_t, int t) { (*static_cast<std::remove_reference_t<Fn>*>(obj))(t); }};
    run(n_threads_, 1, ref, true);
  }

 private:
  struct RangeFn {
    void* obj;
    void (*call)(void*, int64_t, int64_t, int);
    void operator()(int64_t b, int64_t e, int t) const { call(obj, b, e, t); }
  };
  void run(int64_t n, int64_t grain, const RangeFn& fn, bool per_thread);
  void worker(int index);
  // Claims and runs chunks of job `gen` until none is left.
  void work_on(uint32_t gen, int index);
  void finish_chunk();
  void even_out_scratch();                                // between calls only (no chunk running)
  std::vector<std::vector<char>> scratch_;                // [thread · kScratchSlots + slot]
  std::atomic<size_t> scratch_high_[kScratchSlots] = {};  // largest size asked per slot
  std::atomic<bool> scratch_grew_{false};
  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex run_mutex_;  // serialises parallel_for calls
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  // Job description, written by run() before claim_ is published (release) and read
  // by a thread only after a successful claim (acquire).
  const RangeFn* job_ = nullptr;
  int64_t n_ = 0, chunk_ = 0;
  // Claim word: generation (bits 63..32) | per-thread flag (bit 31) | chunk count
  // (bits 30..16) | next chunk (bits 15..0).
  std::atomic<uint64_t> claim_{0};
  std::atomic<uint64_t> generation_{0};  // bumped per job: wakes the workers
  std::atomic<int64_t> done_{0};         // chunks finished in the current job
  std::atomic<bool> stop_{false};
};

// Default thread count: QASR_THREADS, else INFERENCE_THREADS, else the number of cores
// (at most 1024).
int default_thread_count();

}  // namespace qasr
