// The model manager with an injected clock and loader (the tiny chatllm fixture stands in
// for every model): single flight, LRU order, pinned / in-use / loading never evicted, a
// failed load keeps the others, TTL, the memory budget.
#include "service/model_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "test_util.h"

namespace qasr {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

struct Fake {
  double now = 1000;
  std::atomic<int> loads{0};
  std::map<std::string, int> load_count;
  std::mutex mu;
  std::map<std::string, int64_t> size_mb;  // resident and estimate per model
  std::map<std::string, int> delay_ms;
  std::set<std::string> failing;
  std::vector<ManagerEvent> events;
  std::map<const Model*, std::string> name_of;

  ManagerHooks hooks() {
    ManagerHooks h;
    h.load = [this](const ModelSpec& s) -> Expected<std::shared_ptr<const Model>> {
      int delay = 0;
      {
        std::lock_guard<std::mutex> lk(mu);
        ++load_count[s.name];
        delay = delay_ms[s.name];
      }
      ++loads;
      if (delay) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      if (failing.count(s.name)) return InvalidFormat("'" + s.path + "': broken on purpose");
      auto m = Model::load(testing::data_path("chatllm/tiny-q4_0.bin"));
      if (m.ok()) {
        std::lock_guard<std::mutex> lk(mu);
        name_of[m->get()] = s.name;
      }
      return m;
    };
    // What a model "holds": its size from the table (the fixture's real pages are tiny).
    h.resident = [this](const Model& m) {
      std::lock_guard<std::mutex> lk(mu);
      const std::string& n = name_of[&m];
      return (size_mb.count(n) ? size_mb[n] : 10) * kMiB;
    };
    h.estimate = [this](const ModelSpec& s) {
      std::lock_guard<std::mutex> lk(mu);
      return (size_mb.count(s.name) ? size_mb[s.name] : 10) * kMiB;
    };
    h.now = [this] { return now; };
    h.on_event = [this](const ManagerEvent& e) {
      std::lock_guard<std::mutex> lk(mu);
      events.push_back(e);
    };
    return h;
  }
  int count(const std::string& n) {
    std::lock_guard<std::mutex> lk(mu);
    return load_count[n];
  }
};

std::vector<ModelSpec> specs(std::initializer_list<const char*> names) {
  std::vector<ModelSpec> s;
  for (const char* n : names) s.push_back({n, std::string("/models/") + n, false, false});
  return s;
}

ModelState state_of(const ModelManager& m, const std::string& name) {
  for (const ModelStatus& s : m.status())
    if (s.name == name) return s.state;
  return ModelState::kFailed;
}

TEST(ModelManager, UnknownNameIsNotFound) {
  Fake f;
  ModelManager m(specs({"a"}), {}, f.hooks());
  auto h = m.acquire("../../etc/passwd");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(f.loads.load(), 0);
}

TEST(ModelManager, LoadsAreSingleFlight) {
  Fake f;
  f.delay_ms["a"] = 300;
  ModelManager m(specs({"a"}), {}, f.hooks());
  std::vector<std::thread> ts;
  std::vector<const Model*> got(8, nullptr);
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      auto h = m.acquire("a");
      if (h.ok()) got[i] = h->model().get();
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(f.count("a"), 1);
  for (const Model* p : got) EXPECT_EQ(p, got[0]);
  EXPECT_NE(got[0], nullptr);
}

TEST(ModelManager, EvictsTheLeastRecentlyUsedIdleModel) {
  Fake f;
  ManagerConfig c;
  c.max_loaded = 2;
  ModelManager m(specs({"a", "b", "c"}), c, f.hooks());
  { auto h = m.acquire("a"); }
  f.now += 1;
  { auto h = m.acquire("b"); }
  f.now += 1;
  { auto h = m.acquire("a"); }  // a is now more recent than b
  f.now += 1;
  { auto h = m.acquire("c"); }
  EXPECT_EQ(state_of(m, "a"), ModelState::kLoaded);
  EXPECT_EQ(state_of(m, "b"), ModelState::kUnloaded);
  EXPECT_EQ(state_of(m, "c"), ModelState::kLoaded);
  bool lru = false;
  for (const ManagerEvent& e : f.events)
    if (e.kind == ManagerEvent::kUnloaded && e.name == "b" && e.reason == "lru") lru = true;
  EXPECT_TRUE(lru);
}

TEST(ModelManager, PinnedModelsAreNeverEvicted) {
  Fake f;
  ManagerConfig c;
  c.max_loaded = 2;
  auto s = specs({"a", "b", "c"});
  s[0].pinned = true;
  ModelManager m(s, c, f.hooks());
  ASSERT_TRUE(m.preload().ok());
  EXPECT_EQ(state_of(m, "a"), ModelState::kLoaded);
  f.now += 10;  // a is the oldest
  { auto h = m.acquire("b"); }
  f.now += 1;
  { auto h = m.acquire("c"); }
  EXPECT_EQ(state_of(m, "a"), ModelState::kLoaded);
  EXPECT_EQ(state_of(m, "b"), ModelState::kUnloaded);
}

TEST(ModelManager, ModelsInUseAreNeverEvicted) {
  Fake f;
  ManagerConfig c;
  c.max_loaded = 1;
  c.load_wait_s = 0.3;
  ModelManager m(specs({"a", "b"}), c, f.hooks());
  auto ha = m.acquire("a");
  ASSERT_TRUE(ha.ok());
  auto hb = m.acquire("b");  // a is busy and the only slot: b must wait, then give up
  ASSERT_FALSE(hb.ok());
  EXPECT_EQ(hb.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(state_of(m, "a"), ModelState::kLoaded);
  EXPECT_TRUE(ha->model() != nullptr);
  // Released in time: the waiter gets its model and a goes.
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ha = ModelHandle();
  });
  auto hb2 = m.acquire("b");
  releaser.join();
  ASSERT_TRUE(hb2.ok()) << hb2.error();
  EXPECT_EQ(state_of(m, "a"), ModelState::kUnloaded);
}

TEST(ModelManager, ModelsStillLoadingAreNeverEvicted) {
  Fake f;
  f.delay_ms["a"] = 600;
  ManagerConfig c;
  c.max_loaded = 2;
  ModelManager m(specs({"a", "b", "c"}), c, f.hooks());
  { auto h = m.acquire("b"); }
  f.now += 1;
  std::thread slow([&] { auto h = m.acquire("a"); });
  while (state_of(m, "a") != ModelState::kLoading) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  { auto h = m.acquire("c"); }  // room comes from b (idle), never from a (loading)
  slow.join();
  EXPECT_EQ(state_of(m, "b"), ModelState::kUnloaded);
  EXPECT_EQ(state_of(m, "c"), ModelState::kLoaded);
  EXPECT_EQ(f.count("a"), 1);
}

TEST(ModelManager, AFailedLoadKeepsTheOthersServing) {
  Fake f;
  f.failing.insert("bad");
  ModelManager m(specs({"a", "bad"}), {}, f.hooks());
  ASSERT_TRUE(m.acquire("a").ok());
  auto h = m.acquire("bad");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidFormat);
  EXPECT_NE(h.error().find("broken on purpose"), std::string::npos);
  EXPECT_EQ(state_of(m, "bad"), ModelState::kFailed);
  auto ha = m.acquire("a");
  EXPECT_TRUE(ha.ok());
  // A later request tries the load again.
  f.failing.clear();
  EXPECT_TRUE(m.acquire("bad").ok());
}

TEST(ModelManager, IdleModelsExpireAfterTheirTtl) {
  Fake f;
  ManagerConfig c;
  c.idle_ttl_s = 10;
  ModelManager m(specs({"a"}), c, f.hooks());
  { auto h = m.acquire("a"); }
  f.now += 5;
  m.tick();
  EXPECT_EQ(state_of(m, "a"), ModelState::kLoaded);
  f.now += 6;
  m.tick();
  EXPECT_EQ(state_of(m, "a"), ModelState::kUnloaded);
}

TEST(ModelManager, TtlZeroUnloadsRightAfterUseAndNeverMeansNever) {
  Fake f;
  ManagerConfig c;
  c.idle_ttl_s = 0;
  ModelManager m(specs({"a"}), c, f.hooks());
  {
    auto h = m.acquire("a");
    EXPECT_EQ(state_of(m, "a"), ModelState::kLoaded);
  }
  EXPECT_EQ(state_of(m, "a"), ModelState::kUnloaded);
  Fake g;
  ManagerConfig never;
  never.idle_ttl_s = -1;
  ModelManager n(specs({"a"}), never, g.hooks());
  { auto h = n.acquire("a"); }
  g.now += 1e9;
  n.tick();
  EXPECT_EQ(state_of(n, "a"), ModelState::kLoaded);
}

TEST(ModelManager, TheBudgetEvictsAndRefusesWhatNeverFits) {
  Fake f;
  f.size_mb = {{"a", 150}, {"b", 150}, {"c", 150}, {"huge", 500}};
  ManagerConfig c;
  c.memory_budget = 400 * kMiB;  // 64 MiB reserved for the one worker's session
  ModelManager m(specs({"a", "b", "c", "huge"}), c, f.hooks());
  { auto h = m.acquire("a"); }
  f.now += 1;
  { auto h = m.acquire("b"); }
  EXPECT_EQ(state_of(m, "a"), ModelState::kLoaded);
  f.now += 1;
  { auto h = m.acquire("c"); }  // 150 + 150 + 150 + 64 > 400: a (LRU) goes
  EXPECT_EQ(state_of(m, "a"), ModelState::kUnloaded);
  EXPECT_EQ(state_of(m, "b"), ModelState::kLoaded);
  EXPECT_EQ(state_of(m, "c"), ModelState::kLoaded);
  EXPECT_LE(m.resident_total() + 64 * kMiB, c.memory_budget);
  auto h = m.acquire("huge");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(h.error().find("does not fit"), std::string::npos);
}

TEST(ModelManager, UnloadRefusesBusyModelsAndAcceptsUnloadedOnes) {
  Fake f;
  ModelManager m(specs({"a", "b"}), {}, f.hooks());
  EXPECT_TRUE(m.unload("b").ok());  // configured, not loaded
  EXPECT_EQ(m.unload("zzz").code(), StatusCode::kNotFound);
  auto h = m.acquire("a");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(m.unload("a").code(), StatusCode::kUnavailable);
  h = ModelHandle();
  EXPECT_TRUE(m.unload("a").ok());
  EXPECT_EQ(state_of(m, "a"), ModelState::kUnloaded);
}

TEST(ModelManager, CancelStopsAWaitingAcquire) {
  Fake f;
  f.delay_ms["a"] = 800;
  ModelManager m(specs({"a"}), {}, f.hooks());
  CancelToken cancel;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.request();
  });
  auto h = m.acquire("a", &cancel);
  t.join();
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace qasr
