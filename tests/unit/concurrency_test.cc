// Several transcriptions at once on one Model (each with its own Session and ThreadPool),
// and stopping a transcription: cancel flag from another thread, deadline, and the text
// callback; the ThreadPool's hand-offs themselves. Also built and run under ThreadSanitizer (scripts/test.sh, label
// "concurrency").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "audio/audio.h"
#include "base/cancel.h"
#include "base/clock.h"
#include "base/thread_pool.h"
#include "model/model.h"
#include "model_fixture.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"

namespace qasr {
namespace {

using testing::tiny_model_dir;

Pcm16k clip(const std::string& rel) {
  auto p = load_audio_file(testing::data_path(rel));
  if (!p.ok()) std::abort();
  return std::move(p).value();
}

std::shared_ptr<const Model> tiny() {
  auto m = Model::load(tiny_model_dir());
  if (!m.ok()) std::abort();
  return *m;
}

std::vector<int32_t> run(const std::shared_ptr<const Model>& m, const Pcm16k& pcm, int threads) {
  auto s = Session::create(m, SessionLimits{30.0, 24, 16});
  if (!s.ok()) return {};
  ThreadPool pool(threads);
  TranscribeOptions o;
  o.max_new_tokens = 24;
  o.ignore_eos = true;
  auto r = transcribe(**s, pool, pcm, o);
  return r.ok() ? r->token_ids : std::vector<int32_t>{};
}

// Every index exactly once, in ranges that are multiples of the grain, over many
// back-to-back jobs (the generation-tagged claims across job boundaries).
TEST(ThreadPoolTest, ParallelForCoversEveryIndexOnceInGrainRanges) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 7, 64, 1000, 100003}) {
      for (int64_t grain : {1, 16, 48}) {
        for (int rep = 0; rep < 20; ++rep) {
          auto seen = std::make_unique<std::atomic<int>[]>(static_cast<size_t>(n) + 1);
          std::atomic<int> bad_range{0}, bad_thread{0};
          pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int t) {
            if (b % grain != 0 || (e != n && (e - b) % grain != 0) || b >= e || e > n) bad_range.fetch_add(1);
            if (t < 0 || t >= pool.size()) bad_thread.fetch_add(1);
            for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
          });
          ASSERT_EQ(bad_range.load(), 0) << "threads=" << threads << " n=" << n << " grain=" << grain;
          ASSERT_EQ(bad_thread.load(), 0);
          for (int64_t i = 0; i < n; ++i)
            ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1)
                << "index " << i << " threads=" << threads << " n=" << n << " grain=" << grain;
        }
      }
    }
  }
}

// A thread held up inside its chunk does not hold the call up: the others take the
// remaining chunks. The chunk holding index 0 waits (bounded) until every other index
// is done; it is less than an even share (n / threads, what a split of one range per
// thread would leave the held-up thread), so the others did more than theirs.
TEST(ThreadPoolTest, AHeldUpThreadLeavesItsShareToTheOthers) {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    const int64_t n = 64;
    std::atomic<int64_t> done{0};
    std::atomic<bool> timed_out{false};
    std::atomic<int64_t> held{0};
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
      if (b == 0) {
        held.store(e - b);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (done.load() < n - (e - b))
          if (std::chrono::steady_clock::now() > deadline) {
            timed_out.store(true);
            break;
          }
      }
      done.fetch_add(e - b);
    });
    EXPECT_FALSE(timed_out.load()) << "threads=" << threads;
    EXPECT_LT(held.load(), n / threads) << "threads=" << threads;
    EXPECT_EQ(done.load(), n);
  }
}

// for_each_thread runs fn once on every thread, all at the same time: each call waits
// (bounded) until all have arrived.
TEST(ThreadPoolTest, ForEachThreadRunsOnEveryThreadAtOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (int rep = 0; rep < 10; ++rep) {
      std::atomic<int> arrived{0}, timed_out{0};
      std::vector<std::atomic<int>> per(static_cast<size_t>(threads));
      pool.for_each_thread([&](int t) {
        per[static_cast<size_t>(t)].fetch_add(1);
        arrived.fetch_add(1);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (arrived.load() < threads)
          if (std::chrono::steady_clock::now() > deadline) {
            timed_out.fetch_add(1);
            break;
          }
      });
      EXPECT_EQ(timed_out.load(), 0);
      for (int t = 0; t < threads; ++t) EXPECT_EQ(per[static_cast<size_t>(t)].load(), 1) << "thread " << t;
    }
  }
}

TEST(Concurrency, TwoSessionsOnOneModelGiveTheSerialResults) {
  const auto m = tiny();
  const Pcm16k a = clip("audio/whisper.cpp_jfk.wav"), b = clip("audio/wenet_aishell-BAC009S0724W0121.wav");
  const std::vector<int32_t> serial_a = run(m, a, 2), serial_b = run(m, b, 2);
  ASSERT_EQ(serial_a.size(), 24u);
  ASSERT_EQ(serial_b.size(), 24u);
  for (int round = 0; round < 2; ++round) {
    std::vector<int32_t> got_a, got_b;
    std::thread ta([&] { got_a = run(m, a, 2); });
    std::thread tb([&] { got_b = run(m, b, 2); });
    ta.join();
    tb.join();
    EXPECT_EQ(got_a, serial_a) << "round " << round;
    EXPECT_EQ(got_b, serial_b) << "round " << round;
  }
}

constexpr int kMany = 3000;  // far more tokens than any check lets run

struct Fixture {
  std::shared_ptr<const Model> model = tiny();
  std::unique_ptr<Session> session;
  ThreadPool pool{2};
  Fixture() {
    auto s = Session::create(model, SessionLimits{30.0, kMany, 16});
    if (!s.ok()) std::abort();
    session = std::move(s).value();
  }
  // After a stopped request, the same session must give what a fresh one gives.
  void expect_reusable() {
    const Pcm16k b = clip("audio/wenet_aishell-BAC009S0724W0121.wav");
    session->reset();
    TranscribeOptions o;
    o.max_new_tokens = 24;
    o.ignore_eos = true;
    auto r = transcribe(*session, pool, b, o);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->token_ids, run(model, b, 2));
  }
};

TEST(Cancellation, CancelFromAnotherThreadStopsSoonAndTheSessionIsReusable) {
  Fixture f;
  CancelToken cancel;
  TranscribeOptions o;
  o.max_new_tokens = kMany;
  o.ignore_eos = true;
  o.language = "English";  // everything generated streams
  o.control.cancel = &cancel;
  std::atomic<int> pieces{0};
  std::thread canceller;
  auto r = transcribe(*f.session, f.pool, clip("audio/whisper.cpp_jfk.wav"), o, [&](std::string_view) {
    if (pieces.fetch_add(1) == 0) canceller = std::thread([&] { cancel.request(); });
    return true;
  });
  if (canceller.joinable()) canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_GE(pieces.load(), 1);
  EXPECT_LT(pieces.load(), kMany / 10) << "generated far too long after the cancel";
  f.expect_reusable();
}

TEST(Cancellation, DeadlineStopsTheRequest) {
  Fixture f;
  TranscribeOptions o;
  o.max_new_tokens = kMany;
  o.ignore_eos = true;
  o.language = "English";
  int pieces = 0;
  o.control.deadline_ms = now_ms() + 1.0;  // expires during the encoder or soon after
  const double t0 = now_ms();
  auto r = transcribe(*f.session, f.pool, clip("audio/whisper.cpp_jfk.wav"), o, [&](std::string_view) {
    ++pieces;
    return true;
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(pieces, kMany / 10);
  EXPECT_LT(now_ms() - t0, 30000.0);
  f.expect_reusable();
}

TEST(Cancellation, TextCallbackCanStop) {
  Fixture f;
  TranscribeOptions o;
  o.max_new_tokens = kMany;
  o.ignore_eos = true;
  o.language = "English";
  int pieces = 0;
  auto r = transcribe(*f.session, f.pool, clip("audio/whisper.cpp_jfk.wav"), o, [&](std::string_view) {
    return ++pieces < 3;  // stop at the third piece
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(pieces, 3);
  f.expect_reusable();
}

TEST(Cancellation, AnAlreadyCancelledTokenStopsBeforeAnyWork) {
  Fixture f;
  CancelToken cancel;
  cancel.request();
  TranscribeOptions o;
  o.max_new_tokens = 8;
  o.control.cancel = &cancel;
  auto r = transcribe(*f.session, f.pool, clip("audio/whisper.cpp_jfk.wav"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace qasr
