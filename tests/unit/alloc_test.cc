// No allocation per token: counts heap allocations during a transcription and
// checks the count does not grow with the number of generated tokens.
// Replaces global operator new, so it lives in its own test binary.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "audio/audio.h"
#include "model/model.h"
#include "model_fixture.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"

static std::atomic<long> g_allocs{0};

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace qasr {
namespace {

TEST(Allocations, DoNotGrowWithGeneratedTokens) {
  auto m = Model::load(testing::tiny_model_dir());
  ASSERT_TRUE(m.ok()) << m.error();
  auto s = Session::create(*m, SessionLimits{20.0, 64, 16});
  ASSERT_TRUE(s.ok());
  ThreadPool pool(2);
  auto pcm = load_audio_file(testing::data_path("audio/whisper.cpp_jfk.wav"));
  ASSERT_TRUE(pcm.ok());
  auto count = [&](int n_tokens) {
    TranscribeOptions o;
    o.max_new_tokens = n_tokens;
    o.ignore_eos = true;
    o.language = "English";
    std::string sink;
    sink.reserve(1 << 16);
    long before = g_allocs.load();
    auto r = transcribe(**s, pool, *pcm, o, [&](std::string_view p) {
      sink.append(p);
      return true;
    });
    long after = g_allocs.load();
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(static_cast<int>(r->token_ids.size()), n_tokens);
    (*s)->reset();
    return after - before;
  };
  count(4);  // warm-up: thread-local buffers are created on first use
  long a = count(4), b = count(16), c = count(64);
  std::printf("allocations per transcription: 4 tokens %ld, 16 tokens %ld, 64 tokens %ld\n", a, b, c);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b, c);
}

}  // namespace
}  // namespace qasr
