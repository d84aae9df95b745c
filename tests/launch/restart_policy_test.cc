#include "launch/restart_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace symphony {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RestartPolicy, BackoffDoublesWithoutProgressAndResetsWithIt) {
  RestartPolicy p({10, 1.0, 5.0, ShrinkMode::kOff, 2}, 2);
  const int rank1[] = {1};
  p.record_failure(rank1, FailureProgress::kNone);
  EXPECT_DOUBLE_EQ(p.backoff_s(), 1.0);
  p.record_failure(rank1, FailureProgress::kNone);
  EXPECT_DOUBLE_EQ(p.backoff_s(), 2.0);
  p.record_failure(rank1, FailureProgress::kNone);
  EXPECT_DOUBLE_EQ(p.backoff_s(), 4.0);
  p.record_failure(rank1, FailureProgress::kNone);
  EXPECT_DOUBLE_EQ(p.backoff_s(), 5.0);  // the cap
  p.record_failure(rank1, FailureProgress::kNewCheckpoint);
  EXPECT_DOUBLE_EQ(p.backoff_s(), 1.0);
}

TEST(RestartPolicy, RestartsAreLimited) {
  RestartPolicy p({2, 0, 0, ShrinkMode::kOff, 2}, 2);
  EXPECT_TRUE(p.may_restart());
  p.record_restart();
  p.record_restart();
  EXPECT_FALSE(p.may_restart());
  EXPECT_EQ(p.restarts(), 2);
}

TEST(RestartPolicy, WithoutShrinkNoSlotIsLeftOut) {
  RestartPolicy p({10, 0, 0, ShrinkMode::kOff, 2}, 4);
  const int rank2[] = {2};
  for (int i = 0; i < 3; ++i)
    EXPECT_THAT(p.record_failure(rank2, FailureProgress::kNone), IsEmpty());
  EXPECT_EQ(p.failures_of(2), 3);
  EXPECT_EQ(p.healthy_slots().size(), 4u);
}

TEST(RestartPolicy, ShrinkLeavesOutASlotThatFailedTwice) {
  RestartPolicy p({10, 0, 0, ShrinkMode::kOn, 2}, 4);
  const int rank1[] = {1};
  EXPECT_THAT(p.record_failure(rank1, FailureProgress::kNone), IsEmpty());
  EXPECT_THAT(p.record_failure(rank1, FailureProgress::kNone), ElementsAre(1));
  EXPECT_THAT(p.healthy_slots(), ElementsAre(0, 2, 3));
  EXPECT_THAT(p.excluded_slots(), ElementsAre(1));
  // Rank 1 of the next attempt runs on slot 2: a failure there is charged to slot 2.
  EXPECT_THAT(p.slots_for(2), ElementsAre(0, 2));
  p.record_failure(rank1, FailureProgress::kNone);
  EXPECT_EQ(p.failures_of(2), 1);
  EXPECT_EQ(p.failures_of(1), 2);
}

}  // namespace
}  // namespace symphony
