#include "checkpoint/hf_shards.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "testkit/temp_dir.h"

namespace symphony {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Tensors of 100, 100, 300 and 50 floats, each filled with its index.
struct Tensors {
  std::vector<std::vector<float>> data;
  std::vector<TensorRecord> records;
  Tensors() {
    const int64_t sizes[] = {100, 100, 300, 50};
    for (int i = 0; i < 4; ++i) data.emplace_back(size_t(sizes[i]), float(i));
    for (int i = 0; i < 4; ++i)
      records.push_back(
          {fmt::format("t{}", i), "F32", {sizes[i]}, data[size_t(i)].data(), sizes[i] * 4});
  }
};

void expect_readable(const std::filesystem::path& dir, const Tensors& t) {
  Result<HfWeights> w = HfWeights::open(dir);
  ASSERT_TRUE(w.has_value()) << w.error().message();
  EXPECT_THAT(w->names(), ElementsAre("t0", "t1", "t2", "t3"));
  for (int i = 0; i < 4; ++i) {
    Result<SafetensorsTensor> got = w->get(fmt::format("t{}", i));
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(got->bytes, t.records[size_t(i)].bytes);
    EXPECT_EQ(std::memcmp(got->data, t.data[size_t(i)].data(), size_t(got->bytes)), 0);
  }
  Result<SafetensorsTensor> missing = w->get("t9");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("no tensor named \"t9\""));
}

TEST(HfShards, BelowTheLimitOneFileWithPtMetadata) {
  testkit::TempDir dir("hf_shards");
  Tensors t;
  Result<std::vector<std::string>> files = write_hf_weights(dir.path(), t.records, 2200);
  ASSERT_TRUE(files.has_value()) << files.error().message();
  EXPECT_THAT(*files, ElementsAre("model.safetensors"));
  Result<SafetensorsFile> f = SafetensorsFile::open(dir / "model.safetensors");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->metadata().at("format"), "pt");
  expect_readable(dir.path(), t);
}

TEST(HfShards, AboveTheLimitShardsInOrderWithAnIndex) {
  testkit::TempDir dir("hf_shards");
  Tensors t;
  // 1000-byte shards: t0+t1 (800), t2 alone (1200, larger than a shard), t3.
  Result<std::vector<std::string>> files = write_hf_weights(dir.path(), t.records, 1000);
  ASSERT_TRUE(files.has_value()) << files.error().message();
  EXPECT_THAT(*files,
              ElementsAre("model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                          "model-00003-of-00003.safetensors", "model.safetensors.index.json"));
  const nlohmann::json index =
      nlohmann::json::parse(testkit::read_file_bytes(dir / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 2200);
  EXPECT_EQ(index["weight_map"]["t1"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["t2"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["t3"], "model-00003-of-00003.safetensors");
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  expect_readable(dir.path(), t);
}

TEST(HfShards, ReaderErrorsNameTheFile) {
  testkit::TempDir dir("hf_shards");
  Result<HfWeights> none = HfWeights::open(dir.path());
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(none.error().message(), HasSubstr("model.safetensors.index.json"));

  Tensors t;
  ASSERT_TRUE(write_hf_weights(dir.path(), t.records, 1000).has_value());
  // The index sends t0 to a shard that does not hold it.
  nlohmann::json index =
      nlohmann::json::parse(testkit::read_file_bytes(dir / "model.safetensors.index.json"));
  index["weight_map"]["t0"] = "model-00003-of-00003.safetensors";
  dir.write("model.safetensors.index.json", index.dump());
  Result<HfWeights> w = HfWeights::open(dir.path());
  ASSERT_TRUE(w.has_value());
  Result<SafetensorsTensor> t0 = w->get("t0");
  ASSERT_FALSE(t0.has_value());
  EXPECT_EQ(t0.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(t0.error().message(), HasSubstr("model-00003-of-00003.safetensors, which does not"));

  index["weight_map"]["t0"] = "model-00009-of-00009.safetensors";
  dir.write("model.safetensors.index.json", index.dump());
  w = HfWeights::open(dir.path());
  ASSERT_FALSE(w.has_value());
  EXPECT_THAT(w.error().message(), HasSubstr("model-00009-of-00009.safetensors"));

  dir.write("model.safetensors.index.json", "{\"weight_map\": 3}");
  w = HfWeights::open(dir.path());
  ASSERT_FALSE(w.has_value());
  EXPECT_THAT(w.error().message(), HasSubstr("index.json: no \"weight_map\" object"));
}

TEST(HfShards, ShardSizesParseLikeTransformers) {
  EXPECT_EQ(*parse_shard_size("5GB"), 5'000'000'000);
  EXPECT_EQ(*parse_shard_size("500MB"), 500'000'000);
  EXPECT_EQ(*parse_shard_size("100kb"), 100'000);
  EXPECT_EQ(*parse_shard_size("2GiB"), int64_t(2) << 30);
  EXPECT_EQ(*parse_shard_size("1.5MiB"), 1572864);
  EXPECT_EQ(*parse_shard_size("4096"), 4096);
  for (const char* bad : {"", "GB", "-5GB", "5XB", "0", "abc", "1e3"}) {
    SCOPED_TRACE(bad);
    Result<int64_t> r = parse_shard_size(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_THAT(r.error().message(), HasSubstr("shard size"));
  }
}

}  // namespace
}  // namespace symphony
