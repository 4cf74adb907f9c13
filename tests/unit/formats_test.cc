#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "kernels/tensor.h"
#include "model/model.h"
#include "test_util.h"
#include "weights/chatllm_bin.h"
#include "weights/tensor_names.h"

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
    for (size_t i = 0; i < e.first4.size(); ++i) EXPECT_NEAR(x[i], e.first4[i], 1e-6 * std::fabs(e.first4[i]) + 1e-7) << e.name;
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
