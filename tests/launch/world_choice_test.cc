#include "launch/world_choice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace symphony {
namespace {

using ::testing::HasSubstr;

RunConfig tiny(std::vector<std::string> overrides) {
  overrides.push_back("train.seq_len=32");
  overrides.push_back("train.micro_batch_size=2");  // 64-token micro-batches
  Result<RunConfig> config = load_run_config("tiny", overrides);
  EXPECT_TRUE(config.has_value()) << config.error().message();
  return *config;
}

TEST(WorldChoice, ThreeOfFourRanksCannotKeepFourMicroBatches) {
  const RunConfig config = tiny({});
  Result<int64_t> batch = global_batch_tokens_on(config, 4);
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(*batch, 4 * 64);  // one micro-batch per rank when train.global_batch_tokens is 0
  Result<WorldChoice> c = choose_world(config, 3, *batch);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->world_size, 2);
  EXPECT_EQ(c->dp, 2);
  EXPECT_EQ(c->micro_batches, 2);
  c = choose_world(config, 4, *batch);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->world_size, 4);
  EXPECT_EQ(c->micro_batches, 1);
}

TEST(WorldChoice, ThreeRanksServeABatchOfSixMicroBatches) {
  const RunConfig config = tiny({"train.global_batch_tokens=384"});
  Result<WorldChoice> c = choose_world(config, 3, *global_batch_tokens_on(config, 4));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->world_size, 3);
  EXPECT_EQ(c->micro_batches, 2);
}

TEST(WorldChoice, OtherAxesAreKeptAndDpRecomputed) {
  // tp = 2 on 4 ranks is dp = 2; with 3 ranks left only tp = 2, dp = 1 fits.
  const RunConfig config = tiny({"parallel.tp=2", "parallel.dp=2"});
  Result<WorldChoice> c = choose_world(config, 3, *global_batch_tokens_on(config, 4));
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->world_size, 2);
  EXPECT_EQ(c->dp, 1);
  EXPECT_EQ(c->micro_batches, 2);
}

TEST(WorldChoice, NoWorldFitsIsAnErrorNamingTheAxes) {
  // Four-way expert parallelism needs four ranks.
  const RunConfig config = tiny({"parallel.ep=4"});
  Result<WorldChoice> c = choose_world(config, 3, *global_batch_tokens_on(config, 4));
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message(), HasSubstr("ep = 4"));
  EXPECT_THAT(c.error().message(), HasSubstr("256 tokens"));
}

}  // namespace
}  // namespace symphony
