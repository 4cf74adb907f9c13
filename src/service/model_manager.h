// The model manager of `qasr serve` (no HTTP in it, so benchmarks and tests drive the
// very same path): a registry of names → model sources, and which of them are loaded.
//
//  - acquire(name) returns a ModelHandle that keeps the model alive while a request uses it
//    (in flight); a model in flight or still loading is never evicted.
//  - Loads are single-flight (many waiting requests, one load), run on a loader thread of
//    their own, and never block requests for other loaded models; a waiter gives up after
//    `load_wait` (Unavailable, code "model_loading") while the load goes on.
//  - A load that would exceed `max_loaded` or the memory budget first unloads idle models,
//    least recently used first (never pinned, in-flight or loading ones). If none can go,
//    the load waits for one to become idle, within the waiter's load_wait.
//  - The budget compares what each model really holds: resident pages of its mappings
//    (mincore) plus the anonymous memory its load added (RssAnon delta), measured after
//    each use; an estimate from the file size only before the first measurement. The
//    sessions' working memory (measured per request by the workers, an estimate before)
//    is reserved on top for every worker.
//  - Idle TTL: tick() unloads models idle longer than `idle_ttl_s` (0: right after use,
//    -1: never). Pinned models are never unloaded; preload loads at start.
//  - Unload = the manager's reference dropped; the model is unmapped when the last handle
//    goes, then the heap is trimmed. A failed load leaves every other model serving and
//    returns its error to the requests that waited for it.
// Thread-safe: every method may be called from any thread. The clock and the loader are
// injected (tests use a fake clock and fake models).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/cancel.h"
#include "base/status.h"
#include "model/model.h"

namespace qasr {

struct ModelSpec {
  std::string name, path;
  bool pinned = false, preload = false;
};

struct ManagerConfig {
  int max_loaded = 0;         // 0: no limit
  int64_t memory_budget = 0;  // bytes; 0: no budget
  double idle_ttl_s = -1;     // -1: never, 0: unload right after use
  double load_wait_s = 60;    // how long acquire() waits for a load
  int workers = 1;            // sessions that may run at once (their working memory is reserved)
};

enum class ModelState { kUnloaded, kLoading, kLoaded, kFailed };
const char* model_state_name(ModelState s);

struct ModelStatus {
  std::string name, path, error;
  ModelState state = ModelState::kUnloaded;
  bool pinned = false, measured = false;
  int64_t resident_bytes = 0;  // measured, or the estimate before the first measurement
  int64_t working_bytes = 0;   // the largest session working set seen for this model
  double last_used_s = 0;      // on the manager's clock; 0: never
  int in_flight = 0, loads = 0;
};

// What happened, for logs and metrics.
struct ManagerEvent {
  enum Kind { kLoaded, kLoadFailed, kUnloaded } kind = kLoaded;
  std::string name;
  double seconds = 0;          // load time
  std::string reason;          // unload reason: "lru", "budget", "ttl", "manual", "shutdown"
  int64_t released_bytes = 0;  // process RSS given back by the unload (and trim)
  // RssAnon of the process just before a load started / just after an unload and trim:
  // a model that gives all back leaves RssAnon where it was before its load.
  int64_t rss_anon_bytes = 0;
  std::string error;
};

struct ManagerHooks {
  // Loads a model (default: Model::load). Called on a loader thread.
  std::function<Expected<std::shared_ptr<const Model>>(const ModelSpec&)> load;
  // Bytes the loaded model holds resident now (default: Model::resident_bytes()).
  std::function<int64_t(const Model&)> resident;
  // Bytes the model will hold before it was measured (default: the file sizes).
  std::function<int64_t(const ModelSpec&)> estimate;
  // Seconds on a monotonic clock (default: steady_clock).
  std::function<double()> now;
  // Called (outside the manager's lock) for every event. May be empty.
  std::function<void(const ManagerEvent&)> on_event;
};

class ModelManager;

// Keeps one model in use. Movable; releasing it (destruction) marks the model idle.
class ModelHandle {
 public:
  ModelHandle() = default;
  ModelHandle(ModelHandle&& o) noexcept;
  ModelHandle& operator=(ModelHandle&& o) noexcept;
  ModelHandle(const ModelHandle&) = delete;
  ModelHandle& operator=(const ModelHandle&) = delete;
  ~ModelHandle();
  const std::shared_ptr<const Model>& model() const { return model_; }
  const std::string& name() const { return name_; }
  // The worker's measured working set of the request (session pages touched), for the budget.
  void report_working_bytes(int64_t bytes) { working_ = std::max(working_, bytes); }

 private:
  friend class ModelManager;
  ModelManager* manager_ = nullptr;
  std::string name_;
  std::shared_ptr<const Model> model_;
  int64_t working_ = 0;
};

class ModelManager {
 public:
  ModelManager(std::vector<ModelSpec> specs, const ManagerConfig& config, ManagerHooks hooks = {});
  ~ModelManager();  // waits for loads in progress, then unloads every model ("shutdown")
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  bool has(const std::string& name) const;
  std::vector<std::string> names() const;
  // Waits (up to load_wait, or until `cancel` is set) for the model, loading it if needed.
  // NotFound for an unknown name; Unavailable "model_loading" after load_wait; the load's
  // own error if it failed.
  Expected<ModelHandle> acquire(const std::string& name, const CancelToken* cancel = nullptr);
  // Admin: load (waits like acquire, then releases) and unload. Unloading a model in flight
  // is Unavailable ("model_busy"); unloading one that is not loaded succeeds.
  Status load(const std::string& name);
  Status unload(const std::string& name);
  // Starts the loads of every preload model and waits for them; their errors are returned.
  Status preload();
  // Unloads models idle past their TTL. The server calls it every second.
  void tick();

  std::vector<ModelStatus> status() const;
  int64_t resident_total() const;  // of loaded models (measured or estimated)
  int loading_count() const;

 private:
  friend class ModelHandle;
  struct Entry;
  void release(ModelHandle& h);
  // With the lock held: makes room for `target` (unloading idle victims) or returns false.
  bool make_room(std::unique_lock<std::mutex>& lk, Entry& target, std::vector<std::shared_ptr<const Model>>& dropped,
                 std::vector<ManagerEvent>& events);
  void start_load(Entry& e);
  void run_load(Entry* e);
  void drop(Entry& e, const char* reason, std::vector<std::shared_ptr<const Model>>& dropped,
            std::vector<ManagerEvent>& events);
  void finish_drops(std::vector<std::shared_ptr<const Model>>& dropped, std::vector<ManagerEvent>& events);
  int64_t reserve_for_sessions() const;

  ManagerConfig cfg_;
  ManagerHooks hooks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // a load ended or a model became idle
  std::condition_variable load_cv_;  // the loader has work
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  std::deque<Entry*> load_queue_;
  std::thread loader_;
  bool stopping_ = false;
};

}  // namespace qasr
