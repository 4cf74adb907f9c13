#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include "audio/audio.h"
#include "formats/chatllm_bin.h"
#include "formats/tensor_names.h"
#include "kernels/tensor.h"
#include "model/model.h"
#include "test_util.h"

namespace qasr {
namespace {

struct Expected_ {
  std::string name, shape, type;
  size_t offset, bytes;
  double sum;
  std::vector<double> first4;
};

std::vector<Expected_> read_expected(const std::string& path) {
  std::ifstream f(path);
  std::vector<Expected_> out;
  std::string line;
  std::regex re(R"(^(\S+)\t(\[[^\]]*\])\t(\S+)\toffset=(\d+)\tbytes=(\d+)\tsum=(\S+)\tfirst4=\[([^\]]*)\])");
  while (std::getline(f, line)) {
    std::smatch m;
    if (line.empty() || line[0] == '#' || !std::regex_search(line, m, re)) continue;
    Expected_ e{m[1], m[2], m[3], std::stoul(m[4]), std::stoul(m[5]), std::stod(m[6]), {}};
    std::stringstream ss(m[7]);
    std::string v;
    while (std::getline(ss, v, ',')) e.first4.push_back(std::stod(v));
    out.push_back(e);
  }
  return out;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

class ChatllmFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(ChatllmFixture, DequantizedTensorsMatchExpected) {
  const std::string base = testing::data_path(std::string("chatllm/tiny-") + GetParam());
  auto f = open_chatllm(base + ".bin");
  ASSERT_TRUE(f.ok()) << f.error();
  auto exp = read_expected(base + ".expected.txt");
  ASSERT_EQ(exp.size(), 70u);
  ASSERT_EQ(f->content.tensors.size(), exp.size());
  for (const Expected_& e : exp) {
    const TensorView* t = nullptr;
    for (const TensorView& v : f->content.tensors)
      if (v.name == e.name) t = &v;
    ASSERT_NE(t, nullptr) << e.name;
    EXPECT_EQ(shape_str(t->shape), e.shape) << e.name;
    EXPECT_EQ(dtype_name(t->dtype), e.type) << e.name;
    EXPECT_EQ(static_cast<size_t>(static_cast<const uint8_t*>(t->data) - f->file.data()), e.offset) << e.name;
    EXPECT_EQ(t->nbytes, e.bytes) << e.name;
    std::vector<float> x(t->numel());
    to_f32(t->dtype, t->data, 0, x.size(), x.data());
    double sum = 0;
    for (float v : x) sum += v;
    EXPECT_NEAR(sum, e.sum, 1e-6 * std::fabs(e.sum) + 1e-6) << e.name;
    for (size_t i = 0; i < e.first4.size(); ++i)
      EXPECT_NEAR(x[i], e.first4[i], 1e-6 * std::fabs(e.first4[i]) + 1e-7) << e.name;
    EXPECT_TRUE(canonical_from_chatllm(e.name).has_value()) << e.name;
  }
}

TEST_P(ChatllmFixture, LoadsAsAModelAndTranscribes) {
  auto m = Model::load(testing::data_path(std::string("chatllm/tiny-") + GetParam() + ".bin"));
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_STREQ((*m)->format(), "chatllm");
  EXPECT_EQ((*m)->config().text.vocab, 272);
  EXPECT_EQ((*m)->special().audio_pad, 265);
  // lm_head is the file's own (it differs from the embedding in these fixtures).
  EXPECT_NE((*m)->decoder().lm_head.data, (*m)->decoder().embed.data);
}

INSTANTIATE_TEST_SUITE_P(Types, ChatllmFixture, ::testing::Values("q4_0", "q8_0", "f16"));

TEST(TensorNames, TableRoundTrips) {
  int n = 0;
  const TensorNameRow* rows = tensor_name_table(&n);
  for (int i = 0; i < n; ++i) {
    std::string c = rows[i].canonical;
    size_t p = c.find("{i}");
    if (p != std::string::npos) c.replace(p, 3, "17");
    auto g = gguf_from_canonical(c);
    auto k = chatllm_from_canonical(c);
    ASSERT_TRUE(g && k) << c;
    EXPECT_EQ(canonical_from_gguf(*g), c);
    EXPECT_EQ(canonical_from_chatllm(*k), c);
  }
  EXPECT_FALSE(canonical_from_gguf("blk.x.attn_q.weight").has_value());
  EXPECT_FALSE(canonical_from_chatllm("audio.layers.1.mlp.fc2.weight").has_value());
  EXPECT_EQ(canonical_from_chatllm("audio.layers.1.mlp.fc0.weight"), "thinker.audio_tower.layers.1.fc1.weight");
}

}  // namespace
}  // namespace qasr

// ---- round trips through `qasr convert` ----
#include "convert/convert.h"
#include "convert/synth.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"

namespace qasr {
namespace {

struct RunResult {
  std::vector<int32_t> ids;
  std::vector<float> logits0;
};

RunResult run(const std::string& model_path, int n_tokens) {
  auto m = Model::load(model_path);
  EXPECT_TRUE(m.ok()) << m.error();
  if (!m.ok()) return {};
  auto s = Session::create(*m, SessionLimits{20.0, 16, 16});
  EXPECT_TRUE(s.ok());
  auto pcm = load_audio_file(testing::data_path("audio/whisper.cpp_jfk.wav"));
  ThreadPool pool(2);
  TranscribeOptions o;
  o.ignore_eos = true;
  o.max_new_tokens = 1;  // step-0 logits stay in the session's buffer
  auto r0 = transcribe(**s, pool, *pcm, o);
  EXPECT_TRUE(r0.ok());
  RunResult rr;
  rr.logits0.assign((*s)->dec.logits, (*s)->dec.logits + (*m)->config().text.vocab);
  o.max_new_tokens = n_tokens;
  auto r = transcribe(**s, pool, *pcm, o);
  EXPECT_TRUE(r.ok());
  rr.ids = r->token_ids;
  return rr;
}

float rel_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0, m = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i])), m = std::max(m, std::fabs(b[i]));
  return d / m;
}

int argmax(const std::vector<float>& v) {
  return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}
float margin(std::vector<float> v) {
  std::partial_sort(v.begin(), v.begin() + 2, v.end(), std::greater<float>());
  return v[0] - v[1];
}

class ConvertRoundTrip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::scratch_dir("convert"));
    auto sp = synth_preset("tiny-plain");
    ASSERT_TRUE(sp.ok());
    ASSERT_TRUE(write_synthetic_hf(*dir_ + "/hf", *sp, 11, QASR_ASSETS).ok());
  }
  static std::string* dir_;
};
std::string* ConvertRoundTrip::dir_ = nullptr;

TEST_F(ConvertRoundTrip, F32AndF16GiveTheSameIdsAndLogits) {
  RunResult ref = run(*dir_ + "/hf", 8);
  for (const char* t : {"f32", "f16"}) {
    ConvertOptions o;
    ASSERT_TRUE(parse_dtype(t, &o.type));
    const std::string out = *dir_ + "/m-" + t + ".gguf";
    auto rep = convert_to_gguf(*dir_ + "/hf", out, o);
    ASSERT_TRUE(rep.ok()) << rep.error();
    RunResult r = run(out, 8);
    EXPECT_EQ(r.ids, ref.ids) << t;
    const float d = rel_max_diff(r.logits0, ref.logits0);
    std::printf("%s: step-0 logits max |Δ| / max|ref| = %.2e\n", t, d);
    // bf16 weights are exact in f32 and in f16 (8-bit mantissa, normal range).
    EXPECT_LE(d, std::string(t) == "f32" ? 0.0f : 1e-5f) << t;
  }
}

TEST_F(ConvertRoundTrip, QuantizedStayWithinTheirBounds) {
  RunResult ref = run(*dir_ + "/hf", 1);
  struct Case {
    const char* type;
    float bound;  // measured ≈ 0.013 (q8_0) and ≈ 0.15 (q4_0) on tiny-plain checkpoints
  } cases[] = {{"q8_0", 0.03f}, {"q4_0", 0.25f}};
  for (const Case& c : cases) {
    ConvertOptions o;
    ASSERT_TRUE(parse_dtype(c.type, &o.type));
    const std::string out = *dir_ + "/m-" + c.type + ".gguf";
    ASSERT_TRUE(convert_to_gguf(*dir_ + "/hf", out, o).ok());
    RunResult r = run(out, 1);
    const float d = rel_max_diff(r.logits0, ref.logits0);
    float mx = 0;
    for (float v : ref.logits0) mx = std::max(mx, std::fabs(v));
    std::printf("%s: step-0 logits max |Δ| / max|ref| = %.3f, f32 top-1/top-2 margin %.4f (= %.3f of max)\n", c.type, d,
                margin(ref.logits0), margin(ref.logits0) / mx);
    EXPECT_LE(d, c.bound) << c.type;
    // Top-1 must agree whenever the f32 margin exceeds twice the measured error.
    if (margin(ref.logits0) > 2 * d * mx) {
      EXPECT_EQ(argmax(r.logits0), argmax(ref.logits0)) << c.type;
    }
  }
  // The embedding stays q8_0 under --type q4_0 (pitfall P16).
  auto m = Model::load(*dir_ + "/m-q4_0.gguf");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->decoder().embed.dtype, DType::Q8_0);
  EXPECT_EQ((*m)->decoder().layers[0].q.dtype, DType::Q4_0);
  EXPECT_EQ((*m)->encoder().conv2.dtype, DType::F16);
}

TEST_F(ConvertRoundTrip, TensorTypeOverride) {
  ConvertOptions o;
  o.type = DType::Q8_0;
  o.tensor_types = {"ffn_down=q4_0", "token_embd=f16"};
  const std::string out = *dir_ + "/m-override.gguf";
  ASSERT_TRUE(convert_to_gguf(*dir_ + "/hf", out, o).ok());
  auto m = Model::load(out);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ((*m)->decoder().layers[1].down.dtype, DType::Q4_0);
  EXPECT_EQ((*m)->decoder().layers[1].up.dtype, DType::Q8_0);
  EXPECT_EQ((*m)->decoder().embed.dtype, DType::F16);
  o.tensor_types = {"conv2d2=q4_0"};  // rows of 3 cannot be q4_0
  EXPECT_FALSE(convert_to_gguf(*dir_ + "/hf", *dir_ + "/bad.gguf", o).ok());
  o.tensor_types = {"([=q4_0"};
  EXPECT_FALSE(convert_to_gguf(*dir_ + "/hf", *dir_ + "/bad.gguf", o).ok());
}

TEST(ConvertChatllm, GgufFromChatllmGivesIdenticalOutputs) {
  std::string dir = testing::scratch_dir("convert_chatllm");
  for (const char* t : {"q4_0", "q8_0", "f16"}) {
    const std::string bin = testing::data_path(std::string("chatllm/tiny-") + t + ".bin");
    ConvertOptions o;
    auto rep = convert_to_gguf(bin, dir + "/x.gguf", o);
    ASSERT_TRUE(rep.ok()) << rep.error();
    RunResult a = run(bin, 6), b = run(dir + "/x.gguf", 6);
    EXPECT_EQ(a.ids, b.ids) << t;
    EXPECT_EQ(a.logits0, b.logits0) << t;  // same bytes, same kernels: bit-identical
    auto m = Model::load(dir + "/x.gguf");
    ASSERT_TRUE(m.ok());
    EXPECT_NE((*m)->decoder().lm_head.data, (*m)->decoder().embed.data);  // lm_head carried over
  }
}

}  // namespace
}  // namespace qasr
