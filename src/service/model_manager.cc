#include "service/model_manager.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/memory.h"

namespace qasr {
namespace {

constexpr int64_t kDefaultWorkingBytes = int64_t{64} << 20;  // per worker, until measured

int64_t file_bytes(const std::string& path) {
  std::error_code ec;
  namespace fs = std::filesystem;
  if (fs::is_directory(path, ec)) {
    int64_t n = 0;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file(ec)) n += static_cast<int64_t>(e.file_size(ec));
    return n;
  }
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

int64_t rss_now() {
  const MemoryProbe m = read_memory();
  return m.rss_anon + m.rss_file;
}

}  // namespace

const char* model_state_name(ModelState s) {
  switch (s) {
    case ModelState::kUnloaded:
      return "unloaded";
    case ModelState::kLoading:
      return "loading";
    case ModelState::kLoaded:
      return "loaded";
    case ModelState::kFailed:
      return "failed";
  }
  return "unloaded";
}

struct ModelManager::Entry {
  ModelSpec spec;
  ModelState state = ModelState::kUnloaded;
  std::shared_ptr<const Model> model;
  std::string error;
  Status error_status;
  uint64_t generation = 0;  // of the latest load, so waiters know which load failed
  int in_flight = 0, loads = 0;
  double last_used = 0;
  int64_t estimate = 0, anon_delta = 0, file_resident = 0, working = 0;
  bool measured = false;
  int64_t resident() const { return measured ? file_resident + anon_delta : estimate + anon_delta; }
};

// ---- ModelHandle ----

ModelHandle::ModelHandle(ModelHandle&& o) noexcept
    : manager_(std::exchange(o.manager_, nullptr)),
      name_(std::move(o.name_)),
      model_(std::move(o.model_)),
      working_(o.working_) {}

ModelHandle& ModelHandle::operator=(ModelHandle&& o) noexcept {
  if (this != &o) {
    if (manager_) manager_->release(*this);
    manager_ = std::exchange(o.manager_, nullptr);
    name_ = std::move(o.name_);
    model_ = std::move(o.model_);
    working_ = o.working_;
  }
  return *this;
}

ModelHandle::~ModelHandle() {
  if (manager_) manager_->release(*this);
}

// ---- ModelManager ----

ModelManager::ModelManager(std::vector<ModelSpec> specs, const ManagerConfig& config, ManagerHooks hooks)
    : cfg_(config), hooks_(std::move(hooks)) {
  if (!hooks_.load) hooks_.load = [](const ModelSpec& s) { return Model::load(s.path); };
  if (!hooks_.resident)
    hooks_.resident = [](const Model& m) { return m.resident_bytes() - static_cast<int64_t>(m.owned_bytes()); };
  if (!hooks_.estimate) hooks_.estimate = [](const ModelSpec& s) { return file_bytes(s.path); };
  if (!hooks_.now) hooks_.now = [] { return now_ms() / 1000.0; };
  for (ModelSpec& s : specs) {
    auto e = std::make_unique<Entry>();
    e->spec = std::move(s);
    e->estimate = hooks_.estimate(e->spec);
    const std::string name = e->spec.name;
    entries_.emplace(name, std::move(e));
  }
  // One loader thread, fed in order: loads are short (mapping + tables), and one thread
  // cannot accumulate across months of switching as a thread per load could.
  loader_ = std::thread([this] {
    for (;;) {
      Entry* e = nullptr;
      {
        std::unique_lock<std::mutex> lk(mu_);
        load_cv_.wait(lk, [&] { return stopping_ || !load_queue_.empty(); });
        if (stopping_) return;
        e = load_queue_.front();
        load_queue_.pop_front();
      }
      run_load(e);
    }
  });
}

ModelManager::~ModelManager() {
  std::vector<std::shared_ptr<const Model>> dropped;
  std::vector<ManagerEvent> events;
  {
    std::unique_lock<std::mutex> lk(mu_);
    stopping_ = true;
    cv_.notify_all();
    load_cv_.notify_all();
  }
  if (loader_.joinable()) loader_.join();
  {
    std::unique_lock<std::mutex> lk(mu_);
    for (auto& [name, e] : entries_)
      if (e->state == ModelState::kLoaded) drop(*e, "shutdown", dropped, events);
  }
  finish_drops(dropped, events);
}

bool ModelManager::has(const std::string& name) const {
  std::lock_guard<std::mutex> lk(mu_);
  return entries_.count(name) > 0;
}

std::vector<std::string> ModelManager::names() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::string> n;
  for (const auto& [name, e] : entries_) n.push_back(name);
  return n;
}

int64_t ModelManager::reserve_for_sessions() const {
  int64_t w = 0;
  for (const auto& [name, e] : entries_) w = std::max(w, e->working);
  return static_cast<int64_t>(std::max(1, cfg_.workers)) * (w > 0 ? w : kDefaultWorkingBytes);
}

void ModelManager::drop(Entry& e, const char* reason, std::vector<std::shared_ptr<const Model>>& dropped,
                        std::vector<ManagerEvent>& events) {
  dropped.push_back(std::move(e.model));
  e.model.reset();
  e.state = ModelState::kUnloaded;
  e.measured = false;
  e.file_resident = 0;
  ManagerEvent ev;
  ev.kind = ManagerEvent::kUnloaded;
  ev.name = e.spec.name;
  ev.reason = reason;
  events.push_back(ev);
}

void ModelManager::finish_drops(std::vector<std::shared_ptr<const Model>>& dropped, std::vector<ManagerEvent>& events) {
  if (!dropped.empty()) {
    // Unmapping and trimming happen outside the lock; the released bytes are what the
    // process gave back (shared by all models dropped together).
    const int64_t before = rss_now();
    dropped.clear();
    trim_heap();
    const int64_t released = std::max<int64_t>(0, before - rss_now());
    const int64_t anon = read_memory().rss_anon;
    for (ManagerEvent& ev : events)
      if (ev.kind == ManagerEvent::kUnloaded) ev.released_bytes = released, ev.rss_anon_bytes = anon;
  }
  if (hooks_.on_event)
    for (const ManagerEvent& ev : events) hooks_.on_event(ev);
  events.clear();
}

bool ModelManager::make_room(std::unique_lock<std::mutex>& lk, Entry& target,
                             std::vector<std::shared_ptr<const Model>>& dropped, std::vector<ManagerEvent>& events) {
  (void)lk;
  for (;;) {
    int count = 0;
    int64_t used = reserve_for_sessions();
    for (const auto& [name, e] : entries_) {
      if (e.get() == &target) continue;
      if (e->state == ModelState::kLoaded || e->state == ModelState::kLoading) {
        ++count;
        used += e->resident();
      }
    }
    const bool count_ok = cfg_.max_loaded <= 0 || count + 1 <= cfg_.max_loaded;
    const bool budget_ok = cfg_.memory_budget <= 0 || used + target.resident() <= cfg_.memory_budget;
    if (count_ok && budget_ok) return true;
    // The least recently used idle model (never pinned, in flight or loading).
    Entry* victim = nullptr;
    for (const auto& [name, e] : entries_)
      if (e.get() != &target && e->state == ModelState::kLoaded && e->in_flight == 0 && !e->spec.pinned &&
          (!victim || e->last_used < victim->last_used))
        victim = e.get();
    if (!victim) return false;
    drop(*victim, count_ok ? "budget" : "lru", dropped, events);
  }
}

void ModelManager::start_load(Entry& e) {
  e.state = ModelState::kLoading;
  e.error.clear();
  ++e.generation;
  load_queue_.push_back(&e);
  load_cv_.notify_one();
}

void ModelManager::run_load(Entry* e) {
  const double t0 = now_ms();
  const int64_t anon0 = read_memory().rss_anon;
  Expected<std::shared_ptr<const Model>> m = hooks_.load(e->spec);
  const int64_t anon1 = read_memory().rss_anon;
  std::vector<ManagerEvent> events;
  {
    std::lock_guard<std::mutex> lk(mu_);
    ManagerEvent ev;
    ev.kind = m.ok() ? ManagerEvent::kLoaded : ManagerEvent::kLoadFailed;
    ev.name = e->spec.name;
    ev.seconds = (now_ms() - t0) / 1000.0;
    ev.rss_anon_bytes = anon0;
    if (m.ok()) {
      e->model = std::move(m).value();
      e->state = ModelState::kLoaded;
      e->anon_delta = std::max<int64_t>(0, anon1 - anon0);
      e->measured = false;
      e->last_used = hooks_.now();
      ++e->loads;
    } else {
      e->state = ModelState::kFailed;
      e->error = m.error();
      e->error_status = m.status();
      ev.error = m.error();
    }
    events.push_back(ev);
    cv_.notify_all();
  }
  if (hooks_.on_event)
    for (const ManagerEvent& ev : events) hooks_.on_event(ev);
}

Expected<ModelHandle> ModelManager::acquire(const std::string& name, const CancelToken* cancel) {
  using namespace std::chrono;
  const auto deadline = steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(cfg_.load_wait_s));
  std::vector<std::shared_ptr<const Model>> dropped;
  std::vector<ManagerEvent> events;
  std::unique_lock<std::mutex> lk(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return NotFound(fmt::format("The model '{}' does not exist", name));
  Entry& e = *it->second;
  uint64_t waited_for = 0;  // the load generation this request waited on
  Status result = Status::Ok();
  for (;;) {
    if (stopping_) {
      result = Unavailable("the server is shutting down");
      break;
    }
    if (cancel && cancel->requested()) {
      result = Cancelled("cancelled while waiting for the model");
      break;
    }
    if (e.state == ModelState::kLoaded) {
      ++e.in_flight;
      e.last_used = hooks_.now();
      ModelHandle h;
      h.manager_ = this;
      h.name_ = name;
      h.model_ = e.model;
      lk.unlock();
      finish_drops(dropped, events);
      return h;
    }
    if (e.state == ModelState::kFailed && waited_for == e.generation) {
      result = e.error_status.annotate(fmt::format("loading model '{}'", name));
      break;
    }
    if (e.state == ModelState::kUnloaded || e.state == ModelState::kFailed) {
      const bool room = make_room(lk, e, dropped, events);
      if (!dropped.empty()) {
        // Give the victims' memory back before this load starts (and measures), then look again.
        lk.unlock();
        finish_drops(dropped, events);
        lk.lock();
        continue;
      }
      if (room) {
        start_load(e);
        waited_for = e.generation;
      } else {
        // Nothing can be unloaded now: if nothing else holds memory either, it never fits.
        bool others = false;
        for (const auto& [n, o] : entries_)
          if (o.get() != &e && (o->state == ModelState::kLoaded || o->state == ModelState::kLoading)) others = true;
        if (!others) {
          result = ResourceExhausted(fmt::format("model '{}' (about {} MiB) does not fit the memory budget of {} MiB",
                                                 name, e.resident() >> 20, cfg_.memory_budget >> 20));
          break;
        }
      }
    } else if (e.state == ModelState::kLoading) {
      waited_for = e.generation;
    }
    if (!dropped.empty() || !events.empty()) {
      lk.unlock();
      finish_drops(dropped, events);
      lk.lock();
      continue;
    }
    if (steady_clock::now() >= deadline) {
      result = Unavailable(fmt::format("model '{}' is loading (or waiting for room); retry later", name));
      break;
    }
    cv_.wait_until(lk, std::min(deadline, steady_clock::now() + milliseconds(100)));
  }
  lk.unlock();
  finish_drops(dropped, events);
  return result;
}

void ModelManager::release(ModelHandle& h) {
  std::vector<std::shared_ptr<const Model>> dropped;
  std::vector<ManagerEvent> events;
  {
    std::unique_lock<std::mutex> lk(mu_);
    auto it = entries_.find(h.name_);
    h.manager_ = nullptr;
    if (it != entries_.end()) {
      Entry& e = *it->second;
      e.in_flight = std::max(0, e.in_flight - 1);
      e.last_used = hooks_.now();
      e.working = std::max(e.working, h.working_);
      if (h.model_ && e.model == h.model_) {
        e.file_resident = hooks_.resident(*h.model_);
        e.measured = true;
      }
      h.model_.reset();
      if (cfg_.idle_ttl_s == 0 && e.in_flight == 0 && !e.spec.pinned && e.state == ModelState::kLoaded)
        drop(e, "ttl", dropped, events);
    }
    h.model_.reset();
    cv_.notify_all();
  }
  finish_drops(dropped, events);
}

Status ModelManager::load(const std::string& name) {
  auto h = acquire(name);
  return h.ok() ? Status::Ok() : h.status();
}

Status ModelManager::unload(const std::string& name) {
  std::vector<std::shared_ptr<const Model>> dropped;
  std::vector<ManagerEvent> events;
  {
    std::unique_lock<std::mutex> lk(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return NotFound(fmt::format("The model '{}' does not exist", name));
    Entry& e = *it->second;
    if (e.state == ModelState::kLoading) return Unavailable(fmt::format("model '{}' is loading", name));
    if (e.in_flight > 0) return Unavailable(fmt::format("model '{}' is in use by {} request(s)", name, e.in_flight));
    if (e.state == ModelState::kLoaded) drop(e, "manual", dropped, events);
    cv_.notify_all();
  }
  finish_drops(dropped, events);
  return Status::Ok();
}

Status ModelManager::preload() {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [name, e] : entries_)
      if (e->spec.preload || e->spec.pinned) names.push_back(name);
  }
  for (const std::string& n : names) QASR_RETURN_IF_ERROR(load(n));
  return Status::Ok();
}

void ModelManager::tick() {
  std::vector<std::shared_ptr<const Model>> dropped;
  std::vector<ManagerEvent> events;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (cfg_.idle_ttl_s < 0) return;
    const double now = hooks_.now();
    for (auto& [name, e] : entries_)
      if (e->state == ModelState::kLoaded && e->in_flight == 0 && !e->spec.pinned &&
          now - e->last_used >= cfg_.idle_ttl_s)
        drop(*e, "ttl", dropped, events);
  }
  finish_drops(dropped, events);
}

std::vector<ModelStatus> ModelManager::status() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<ModelStatus> out;
  for (const auto& [name, e] : entries_) {
    ModelStatus s;
    s.name = name;
    s.path = e->spec.path;
    s.error = e->error;
    s.state = e->state;
    s.pinned = e->spec.pinned;
    s.measured = e->measured;
    s.resident_bytes = e->state == ModelState::kLoaded ? e->resident() : 0;
    s.working_bytes = e->working;
    s.last_used_s = e->last_used;
    s.in_flight = e->in_flight;
    s.loads = e->loads;
    out.push_back(s);
  }
  return out;
}

int64_t ModelManager::resident_total() const {
  std::lock_guard<std::mutex> lk(mu_);
  int64_t n = 0;
  for (const auto& [name, e] : entries_)
    if (e->state == ModelState::kLoaded) n += e->resident();
  return n;
}

int ModelManager::loading_count() const {
  std::lock_guard<std::mutex> lk(mu_);
  int n = 0;
  for (const auto& [name, e] : entries_) n += e->state == ModelState::kLoading;
  return n;
}

}  // namespace qasr
