#include "train/model_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>


#include "checkpoint/export_source.h"
#include "checkpoint/safetensors.h"
#include "tensor/memory_stats.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// A model file holding no tensors, whose embedded config is `toml`: what a damaged or hostile
// file may claim.
std::filesystem::path model_file_claiming(const testkit::TempDir& dir, const std::string& toml) {
  const std::filesystem::path path = dir / "model.safetensors";
  Status s = write_safetensors(path, {}, {{"symphony.config", toml}, {"format", "symphony"}});
  EXPECT_TRUE(s.is_ok()) << s.message();
  return path;
}

TEST(ModelFile, SizesBeyondTheBoundsAreNamedWithTheFile) {
  testkit::TempDir dir("model_file");
  const auto path = model_file_claiming(dir, "[model]\nnum_hidden_layers = 2147483648\n");
  auto expect_refused = [](const Result<LoadedModel>& r) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message(),
                HasSubstr("model.safetensors [symphony.config]: model.num_hidden_layers = "
                          "2147483648 must be at most 65536"));
  };
  expect_refused(load_model_file(path, {1, 1}, Recompute::kFull));  // generate
  expect_refused(load_model_for_export(path));                          // ckpt export-hf
}

TEST(ModelFile, AModelLargerThanTheMachineIsRefusedBeforeAllocating) {
  testkit::TempDir dir("model_file");
  // 2^31 - 1 tokens of 2^20 dimensions: 8 PiB of embedding alone.
  const auto path = model_file_claiming(
      dir, "[model]\nvocab_size = 2147483647\nhidden_size = 1048576\nnum_attention_heads = 16\n"
           "num_key_value_heads = 16\nhead_dim = 64\n");
  const MemorySnapshot before = memory_stats_snapshot();
  auto expect_refused = [](const Result<LoadedModel>& r) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message(),
                MatchesRegex(".*model\\.safetensors: the model needs [0-9.]+ PiB for [0-9]+ "
                             "parameters and a batch of 1 x 1 tokens \\(weights [0-9.]+ PiB the "
                             "largest; the largest tensor is model\\.embed_tokens\\.weight "
                             "\\[2147483647, 1048576\\]\\) but [0-9.]+ [KMGT]iB is available .*"));
  };
  expect_refused(load_model_file(path, {1, 1}, Recompute::kFull));
  expect_refused(load_model_for_export(path));
  EXPECT_EQ(memory_stats_snapshot().total_current_bytes, before.total_current_bytes);
}

}  // namespace
}  // namespace symphony
