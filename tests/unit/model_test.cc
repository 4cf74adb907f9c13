#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>

#include <fstream>

#include "audio/audio.h"
#include "base/io.h"
#include "base/utf8.h"
#include "formats/safetensors.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "model/model.h"
#include "model_fixture.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"

namespace qasr {
namespace {

using testing::tiny_model_dir;

void expect_load_error(const std::string& dir, const std::string& needle);

// Copies the tiny model into a fresh folder whose files a test may damage.
std::string copy_model(const std::string& name) {
  std::string d = testing::scratch_dir(name);
  std::string cmd = "cp -r '" + tiny_model_dir() + "/.' '" + d + "/'";
  if (std::system(cmd.c_str()) != 0) std::abort();
  return d;
}

Pcm16k clip(const std::string& rel) {
  auto p = load_audio_file(testing::data_path(rel));
  if (!p.ok()) std::abort();
  return std::move(p).value();
}

TEST(Model, LoadsAndDescribesItself) {
  auto m = Model::load(tiny_model_dir());
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ((*m)->config().audio.d_model, 64);
  EXPECT_EQ((*m)->config().text.vocab, 151936);
  EXPECT_GT((*m)->mapped_bytes(), 70u << 20);
  EXPECT_LT((*m)->owned_bytes(), 1u << 20);  // only norms/biases/tables are copied
  EXPECT_EQ((*m)->special().stop_ids, (std::vector<int32_t>{151643, 151645}));
}

TEST(Model, ThreadCountDoesNotChangeResults) {
  auto m = Model::load(tiny_model_dir());
  ASSERT_TRUE(m.ok());
  auto s = Session::create(*m, SessionLimits{60.0, 32, 64});
  ASSERT_TRUE(s.ok()) << s.error();
  Pcm16k a = clip("audio/wenet_aishell-BAC009S0724W0121.wav");
  TranscribeOptions o;
  o.max_new_tokens = 12;
  o.ignore_eos = true;
  ThreadPool p1(1), p2(2);
  auto r1 = transcribe(**s, p1, a, o);
  (*s)->reset();
  auto r2 = transcribe(**s, p2, a, o);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->token_ids, r2->token_ids);
  EXPECT_EQ(r1->token_ids.size(), 12u);
  EXPECT_EQ(r1->n_audio_tokens, 56);
}

TEST(Model, ChunkedPrefillGivesTheSameResult) {
  // The prompt prefilled in one step, in uneven chunks and row by row: the same tokens and
  // (f32 KV cache) the same log-probabilities to rounding.
  auto m = Model::load(tiny_model_dir());
  ASSERT_TRUE(m.ok());
  Pcm16k a = clip("audio/whisper.cpp_jfk.wav");  // 158 prompt rows
  TranscribeOptions o;
  o.max_new_tokens = 12;
  o.ignore_eos = true;
  ThreadPool pool(2);
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<float>> lps;
  for (int64_t rows : {int64_t{4096}, int64_t{37}, int64_t{1}}) {
    SessionLimits lim{30.0, 32, 64};
    lim.kv_f16 = false;
    lim.prefill_rows = rows;
    auto s = Session::create(*m, lim);
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ((*s)->dec.max_rows, std::min<int64_t>(rows, (*s)->max_prompt_tokens()));
    auto r = transcribe(**s, pool, a, o);
    ASSERT_TRUE(r.ok()) << r.error();
    ids.push_back(r->token_ids);
    lps.push_back(r->token_logprobs);
  }
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[0], ids[2]);
  for (size_t k = 1; k < lps.size(); ++k)
    for (size_t i = 0; i < lps[0].size(); ++i) EXPECT_NEAR(lps[k][i], lps[0][i], 1e-3) << k << " " << i;
}

TEST(Model, SilenceIsValidInput) {
  auto m = Model::load(tiny_model_dir());
  ASSERT_TRUE(m.ok());
  auto s = Session::create(*m, SessionLimits{10.0, 8, 16});
  ASSERT_TRUE(s.ok());
  ThreadPool pool(2);
  Pcm16k silence{std::vector<float>(16000, 0.0f)};
  TranscribeOptions o;
  o.max_new_tokens = 8;
  auto r = transcribe(**s, pool, silence, o);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->n_audio_tokens, 13);
}

TEST(Model, AudioLongerThanTheSessionLimitIsAClearError) {
  auto m = Model::load(tiny_model_dir());
  ASSERT_TRUE(m.ok());
  auto s = Session::create(*m, SessionLimits{5.0, 8, 16});
  ASSERT_TRUE(s.ok());
  ThreadPool pool(1);
  TranscribeOptions o;
  o.max_new_tokens = 4;
  auto r = transcribe(**s, pool, clip("audio/whisper.cpp_jfk.wav"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(r.error().find("limit"), std::string::npos) << r.error();
}

TEST(Model, StreamingPiecesConcatenateToTheText) {
  auto m = Model::load(tiny_model_dir());
  ASSERT_TRUE(m.ok());
  auto s = Session::create(*m, SessionLimits{20.0, 24, 16});
  ASSERT_TRUE(s.ok());
  ThreadPool pool(2);
  TranscribeOptions o;
  o.max_new_tokens = 24;
  o.ignore_eos = true;
  o.language = "English";  // forced: everything generated is transcript
  std::string streamed;
  auto r = transcribe(**s, pool, clip("audio/whisper.cpp_jfk.wav"), o, [&](std::string_view piece) {
    streamed += piece;
    return true;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->language, "English");
  // The parsed text is the stripped, repetition-fixed decode; the stream is the raw decode.
  EXPECT_EQ(utf8::strip(streamed), utf8::strip(r->raw));
}

// Splits model.safetensors into two shards + model.safetensors.index.json (the 1.7B layout).
void shard_model(const std::string& d) {
  auto st = open_safetensors(d + "/model.safetensors");
  ASSERT_TRUE(st.ok()) << st.error();
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  for (int shard = 0; shard < 2; ++shard) {
    std::string name = fmt::format("model-0000{}-of-00002.safetensors", shard + 1);
    nlohmann::json h = nlohmann::json::object();
    std::string data;
    for (size_t i = 0; i < st->tensors.size(); ++i) {
      if (static_cast<int>(i % 2) != shard) continue;
      const TensorView& t = st->tensors[i];
      h[t.name] = {
          {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.nbytes}}};
      data.append(static_cast<const char*>(t.data), t.nbytes);
      index["weight_map"][t.name] = name;
    }
    std::string hs = h.dump();
    hs.append((8 - (8 + hs.size()) % 8) % 8, ' ');
    std::string file(8, '\0');
    for (int b = 0; b < 8; ++b) file[b] = static_cast<char>((static_cast<uint64_t>(hs.size()) >> (8 * b)) & 0xff);
    ASSERT_TRUE(write_file(d + "/" + name, file + hs + data).ok());
  }
  ASSERT_TRUE(write_file(d + "/model.safetensors.index.json", index.dump(2)).ok());
  std::remove((d + "/model.safetensors").c_str());
}

TEST(Model, ShardedCheckpointGivesTheSameResult) {
  std::string d = copy_model("sharded");
  shard_model(d);
  auto a = Model::load(tiny_model_dir());
  auto b = Model::load(d);
  ASSERT_TRUE(a.ok() && b.ok()) << (b.ok() ? "" : b.error());
  ThreadPool pool(2);
  TranscribeOptions o;
  o.max_new_tokens = 6;
  o.ignore_eos = true;
  Pcm16k pcm = clip("audio/wenet_aishell-BAC009S0724W0121.wav");
  auto sa = Session::create(*a, SessionLimits{10.0, 8, 16});
  auto sb = Session::create(*b, SessionLimits{10.0, 8, 16});
  ASSERT_TRUE(sa.ok() && sb.ok());
  auto ra = transcribe(**sa, pool, pcm, o);
  auto rb = transcribe(**sb, pool, pcm, o);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->token_ids, rb->token_ids);
}

TEST(ModelErrors, ShardMissingFromIndex) {
  std::string d = copy_model("shardmissing");
  shard_model(d);
  std::remove((d + "/model-00002-of-00002.safetensors").c_str());
  expect_load_error(d, "model-00002-of-00002.safetensors");
}

// ---- bad model files: clear errors, never a crash or a half-loaded model ----

void expect_load_error_impl(const std::string& dir, const std::string& needle) {
  auto m = Model::load(dir);
  ASSERT_FALSE(m.ok()) << "loaded a damaged model from " << dir;
  EXPECT_NE(m.error().find(needle), std::string::npos) << m.error();
}

void expect_load_error(const std::string& dir, const std::string& needle) {
  expect_load_error_impl(dir, needle);
}

TEST(ModelErrors, MissingFolder) {
  expect_load_error("/nonexistent/model", "does not exist");
}

TEST(ModelErrors, MissingWeights) {
  std::string d = copy_model("noweights");
  std::remove((d + "/model.safetensors").c_str());
  expect_load_error(d, "model.safetensors");
}

TEST(ModelErrors, TruncatedSafetensors) {
  std::string d = copy_model("trunc");
  ASSERT_EQ(::truncate((d + "/model.safetensors").c_str(), 50 << 20), 0);
  expect_load_error(d, "outside the file");
}

TEST(ModelErrors, HeaderLengthBeyondFile) {
  std::string d = copy_model("hdr");
  std::fstream f(d + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
  const unsigned char big[8] = {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0};
  f.write(reinterpret_cast<const char*>(big), 8);
  f.close();
  expect_load_error(d, "header length");
}

TEST(ModelErrors, ConfigContradictsWeights) {
  std::string d = copy_model("cfg");
  auto text = read_file(d + "/config.json");
  ASSERT_TRUE(text.ok());
  std::string s = *text;
  size_t p = s.find("\"encoder_ffn_dim\": 128");
  ASSERT_NE(p, std::string::npos);
  s.replace(p, 22, "\"encoder_ffn_dim\": 256");
  ASSERT_TRUE(write_file(d + "/config.json", s).ok());
  expect_load_error(d, "expected [256, 64]");
}

TEST(ModelErrors, MissingTensor) {
  // Rename one tensor in the header (same length keeps every offset valid).
  std::string d = copy_model("missing");
  auto bytes = read_file(d + "/model.safetensors", size_t{1} << 31);
  ASSERT_TRUE(bytes.ok());
  std::string b = *bytes;
  size_t p = b.find("thinker.model.norm.weight");
  ASSERT_NE(p, std::string::npos);
  b.replace(p, 25, "thinker.model.morm.weight");
  ASSERT_TRUE(write_file(d + "/model.safetensors", b).ok());
  expect_load_error(d, "missing tensor 'thinker.model.norm.weight'");
}

TEST(ModelErrors, BrokenConfigJson) {
  std::string d = copy_model("badjson");
  ASSERT_TRUE(write_file(d + "/config.json", "{\"thinker_config\": ").ok());
  expect_load_error(d, "config.json");
}

}  // namespace
}  // namespace qasr
