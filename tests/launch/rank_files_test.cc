#include "launch/rank_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "testkit/temp_dir.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;

TEST(RankFiles, StartAndExitRecordsRoundTrip) {
  testkit::TempDir dir("rank_files");
  Result<std::optional<RankStart>> none = read_rank_start(dir.path(), 1);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
  const RankStart start = this_rank_start(1, 4);
  EXPECT_EQ(start.process.pid, getpid());
  EXPECT_GT(start.process.start_ticks, 0u);
  ASSERT_TRUE(write_rank_start(dir.path(), start).is_ok());
  Result<std::optional<RankStart>> got = read_rank_start(dir.path(), 1);
  ASSERT_TRUE(got.has_value() && got->has_value());
  EXPECT_EQ((*got)->world_size, 4);
  EXPECT_EQ((*got)->process.pid, start.process.pid);
  EXPECT_EQ((*got)->process.start_ticks, start.process.start_ticks);
  EXPECT_EQ((*got)->host, host_name());

  ASSERT_TRUE(write_rank_exit(dir.path(), {1, 1, RankOutcome::kFailed, "watchdog: \xff"}).is_ok());
  Result<std::optional<RankExit>> exit = read_rank_exit(dir.path(), 1);
  ASSERT_TRUE(exit.has_value() && exit->has_value());
  EXPECT_EQ((*exit)->exit_code, 1);
  EXPECT_EQ((*exit)->outcome, RankOutcome::kFailed);
  EXPECT_THAT((*exit)->message, HasSubstr("watchdog"));
}

TEST(RankFiles, ABrokenRecordNamesItsPath) {
  testkit::TempDir dir("rank_files");
  dir.write("rank-0.json", "{\"rank\": 0}");
  Result<std::optional<RankStart>> got = read_rank_start(dir.path(), 0);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(got.error().message(), HasSubstr("rank-0.json: no \"world_size\""));
  dir.write("rank-2.exit.json", "[1]");
  Result<std::optional<RankExit>> exit = read_rank_exit(dir.path(), 2);
  ASSERT_FALSE(exit.has_value());
  EXPECT_THAT(exit.error().message(), HasSubstr("rank-2.exit.json: not a JSON object"));
}

}  // namespace
}  // namespace symphony
