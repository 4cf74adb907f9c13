// Damaged model files: every reader must answer with a clear error, never a crash,
// never an allocation sized by an unchecked number. Runs under ASan/UBSan in CI.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "formats/chatllm_bin.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "model/model.h"
#include "test_util.h"

namespace qasr {
namespace {

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), {});
}

void put_u32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  std::memcpy(b.data() + off, &v, 4);
}
void put_u64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
  std::memcpy(b.data() + off, &v, 8);
}

template <typename Parse>
void expect_error(Parse parse, const std::vector<uint8_t>& b, const std::string& needle) {
  auto r = parse(b.data(), b.size(), "damaged");
  ASSERT_FALSE(r.ok()) << "accepted a damaged file (expected: " << needle << ")";
  EXPECT_NE(r.error().find(needle), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find('\n'), std::string::npos) << "multi-line error: " << r.error();
}

// ---- chatllm .bin ----

class ChatllmCorrupt : public ::testing::Test {
 protected:
  void SetUp() override { good_ = slurp(testing::data_path("chatllm/tiny-q8_0.bin")); }
  std::vector<uint8_t> good_;
  static constexpr auto parse = parse_chatllm;
};

TEST_F(ChatllmCorrupt, GoodFileParses) {
  EXPECT_TRUE(parse(good_.data(), good_.size(), "good").ok());
}

TEST_F(ChatllmCorrupt, BadMagicAndVersion) {
  auto b = good_;
  b[0] = 'x';
  expect_error(parse, b, "bad magic");
  b = good_;
  put_u32(b, 4, 2);
  expect_error(parse, b, "version 2");
}

TEST_F(ChatllmCorrupt, OffsetsThatDisagree) {
  auto b = good_;
  uint32_t tok;
  std::memcpy(&tok, b.data() + 12, 4);
  put_u32(b, 12, tok + 4);
  expect_error(parse, b, "tokenizer starts at");
  b = good_;
  uint32_t ten;
  std::memcpy(&ten, b.data() + 16, 4);
  put_u32(b, 16, ten - 16);
  expect_error(parse, b, "tensors start at");
  b = good_;
  put_u32(b, 8, 0x7fffffff);
  expect_error(parse, b, "outside the file");
}

TEST_F(ChatllmCorrupt, WrongModelType) {
  auto b = good_;
  uint32_t oc;
  std::memcpy(&oc, b.data() + 8, 4);
  put_u32(b, oc, 0x10000100);
  expect_error(parse, b, "not Qwen3-ASR");
}

TEST_F(ChatllmCorrupt, HugeVocabularyEntryLength) {
  auto b = good_;
  uint32_t tok;
  std::memcpy(&tok, b.data() + 12, 4);
  put_u32(b, tok, 0x7ffffff0);  // first vocab entry claims 2 GB
  expect_error(parse, b, "bad length");
}

TEST_F(ChatllmCorrupt, TruncatedEverywhere) {
  // Cut inside the header, meta, config, tokenizer, a tensor record and tensor data.
  for (size_t cut : {3u, 19u, 500u, 3000u, 4000u, 5600u, 6000u, 300000u}) {
    std::vector<uint8_t> b(good_.begin(), good_.begin() + std::min(cut, good_.size() - 1));
    auto r = parse(b.data(), b.size(), "cut");
    EXPECT_FALSE(r.ok()) << "accepted a file cut at " << cut;
  }
}

TEST_F(ChatllmCorrupt, TensorDimensionOverflowAndBadType) {
  auto b = good_;
  uint32_t ten;
  std::memcpy(&ten, b.data() + 16, 4);
  int32_t nlen;
  std::memcpy(&nlen, b.data() + ten, 4);
  const size_t dims = ten + 4 + nlen + 4;  // first tensor: [272, 128]
  put_u32(b, dims, 0x7fffffff);
  expect_error(parse, b, "past the end");
  b = good_;
  put_u32(b, dims + 8, 12);  // Q4_K: not supported
  expect_error(parse, b, "not supported");
  b = good_;
  put_u32(b, dims - 4, 9);  // 9 dimensions
  expect_error(parse, b, "dimension count");
}

TEST_F(ChatllmCorrupt, DuplicateTensorName) {
  // Rename the second tensor to the first one's name (same length keeps offsets).
  auto b = good_;
  std::string s(b.begin(), b.end());
  size_t a = s.find("model.layers.0.input_layernorm.weight");
  size_t c = s.find("model.layers.1.input_layernorm.weight");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  b[c + 13] = '0';
  expect_error(parse, b, "duplicate tensor");
}

// ---- GGUF ----

class GgufCorrupt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A small valid GGUF: two tensors and a few keys.
    GgufWriter w;
    w.set_string("general.architecture", "qwen3-asr");
    w.set_strings("tokenizer.ggml.tokens", {"a", "b", "c"});
    w.set_i32s("some.ints", {1, 2, 3});
    w.add_tensor("t.one", {4, 32}, DType::Q8_0);
    w.add_tensor("t.two", {3}, DType::F32);
    const std::string path = testing::scratch_dir("gguf_corrupt") + "/small.gguf";
    ASSERT_TRUE(w.open(path).ok());
    std::vector<uint8_t> q(4 * 34, 0), f(12, 0);
    ASSERT_TRUE(w.write_tensor(q.data(), q.size()).ok());
    ASSERT_TRUE(w.write_tensor(f.data(), f.size()).ok());
    ASSERT_TRUE(w.close().ok());
    good_ = new std::vector<uint8_t>(slurp(path));
  }
  static std::vector<uint8_t>* good_;
  static constexpr auto parse = parse_gguf;
  size_t find(const std::string& s) const {
    std::string all(good_->begin(), good_->end());
    return all.find(s);
  }
};
std::vector<uint8_t>* GgufCorrupt::good_ = nullptr;

TEST_F(GgufCorrupt, GoodFileParses) {
  auto r = parse(good_->data(), good_->size(), "good");
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->tensors.size(), 2u);
  EXPECT_EQ(r->tensors[0].shape, (std::vector<int64_t>{4, 32}));
  EXPECT_EQ(r->kv.at("tokenizer.ggml.tokens").strs.size(), 3u);
}

TEST_F(GgufCorrupt, MagicVersionCounts) {
  auto b = *good_;
  b[0] = 'g';
  expect_error(parse, b, "bad magic");
  b = *good_;
  put_u32(b, 4, 2);
  expect_error(parse, b, "version 2");
  b = *good_;
  put_u64(b, 8, uint64_t{1} << 60);  // tensor count
  expect_error(parse, b, "tensor count");
  b = *good_;
  put_u64(b, 16, uint64_t{1} << 62);  // kv count
  expect_error(parse, b, "metadata count");
}

TEST_F(GgufCorrupt, HugeArrayAndStringLengths) {
  auto b = *good_;
  size_t k = find("tokenizer.ggml.tokens");
  ASSERT_NE(k, std::string::npos);
  const size_t count_at = k + 21 + 4 + 4;  // key, value type, element type
  put_u64(b, count_at, uint64_t{1} << 61);
  expect_error(parse, b, "array count");
  b = *good_;
  put_u64(b, count_at + 8, uint64_t{1} << 40);  // first string's length
  expect_error(parse, b, "truncated string");
}

TEST_F(GgufCorrupt, TensorInfoProblems) {
  size_t t = find("t.one");
  ASSERT_NE(t, std::string::npos);
  const size_t nd = t + 5, dim0 = nd + 4, type = dim0 + 16, off = type + 4;
  auto b = *good_;
  put_u64(b, dim0, uint64_t{1} << 39);
  put_u64(b, dim0 + 8, uint64_t{1} << 39);
  expect_error(parse, b, "overflowing");
  b = *good_;
  put_u32(b, type, 14);  // Q6_K
  expect_error(parse, b, "not supported");
  b = *good_;
  put_u64(b, off, 1 << 20);
  expect_error(parse, b, "past the end");
  b = *good_;
  put_u64(b, off, 3);
  expect_error(parse, b, "not aligned");
  b = *good_;
  put_u64(b, dim0, 33);  // q8_0 rows of 33
  expect_error(parse, b, "multiple of 32");
  b = *good_;
  size_t t2 = find("t.two");
  b[t2 + 2] = 'o', b[t2 + 3] = 'n', b[t2 + 4] = 'e';
  expect_error(parse, b, "duplicate tensor");
}

TEST_F(GgufCorrupt, TruncatedEverywhere) {
  for (size_t cut = 0; cut + 1 < good_->size(); cut += 7) {
    auto r = parse(good_->data(), cut, "cut");
    EXPECT_FALSE(r.ok()) << "accepted a file cut at " << cut;
  }
}

// ---- safetensors ----

TEST(SafetensorsCorrupt, HeaderProblems) {
  auto mk = [](std::string json, size_t data) {
    json.append((8 - json.size() % 8) % 8, ' ');  // data 8-aligned, as writers pad
    std::vector<uint8_t> b(8 + json.size() + data, 0);
    uint64_t n = json.size();
    std::memcpy(b.data(), &n, 8);
    std::memcpy(b.data() + 8, json.data(), json.size());
    return b;
  };
  auto parse = parse_safetensors;
  auto ok = mk(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
  EXPECT_TRUE(parse(ok.data(), ok.size(), "ok").ok());
  expect_error(parse, mk(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "outside the file");
  expect_error(parse, mk(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "does not match");
  expect_error(parse, mk(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8), "not supported");
  expect_error(parse, mk(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})", 8),
               "overflows");
  expect_error(parse, mk(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "outside the file");
  expect_error(parse, mk(R"({"a": 5})", 8), "malformed");
  expect_error(parse, mk(R"([1,2])", 8), "not a JSON object");
  std::vector<uint8_t> tiny = {1, 2, 3};
  expect_error(parse, tiny, "too short");
  auto big = mk("{}", 0);
  uint64_t huge = uint64_t{1} << 50;
  std::memcpy(big.data(), &huge, 8);
  expect_error(parse, big, "header length");
}

// ---- whole-file loads: damaged copies never give a model ----

TEST(ModelFileCorrupt, DamagedChatllmAndGgufDoNotLoad) {
  std::string dir = testing::scratch_dir("damaged");
  auto good = slurp(testing::data_path("chatllm/tiny-q4_0.bin"));
  std::vector<uint8_t> cut(good.begin(), good.begin() + good.size() / 2);
  std::ofstream(dir + "/cut.bin", std::ios::binary).write(reinterpret_cast<const char*>(cut.data()), cut.size());
  auto m = Model::load(dir + "/cut.bin");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("cut.bin"), std::string::npos) << m.error();
  std::ofstream(dir + "/text.gguf") << "GGUF but not really";
  EXPECT_FALSE(Model::load(dir + "/text.gguf").ok());
  std::ofstream(dir + "/other.bin") << "PK\x03\x04 a zip file";
  auto o = Model::load(dir + "/other.bin");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.error().find("neither"), std::string::npos) << o.error();
}

}  // namespace
}  // namespace qasr
