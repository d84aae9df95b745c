#include "monitor/rank_times.h"

#include <gtest/gtest.h>

#include <array>

namespace symphony {
namespace {

TEST(RankTimes, ComputeIsTheStepLessItsWaits) {
  std::array<double, kNumWaitKinds> waits{};
  waits[size_t(WaitKind::kDataParallel)] = 0.002;
  waits[size_t(WaitKind::kExpert)] = 0.001;
  const RankTimes t = step_times(0.010, 0.0005, 0.0015, waits);
  EXPECT_DOUBLE_EQ(t.comm_wait_total_s(), 0.003);
  EXPECT_NEAR(t.compute_s, 0.005, 1e-15);
  EXPECT_NEAR(t.busy_s(), 0.0055, 1e-15);
  // Clock skew between the step timer and the waits never makes compute negative.
  EXPECT_EQ(step_times(0.001, 0.0, 0.0, waits).compute_s, 0.0);
}

TEST(RankTimes, SumsPerStepMeansAndPacksLosslessly) {
  std::array<double, kNumWaitKinds> waits{};
  for (int k = 0; k < kNumWaitKinds; ++k) waits[size_t(k)] = 0.001 * (k + 1);
  RankTimes sum;
  sum.add(step_times(0.1, 0.01, 0.0, waits));
  sum.add(step_times(0.3, 0.03, 0.02, waits));
  EXPECT_EQ(sum.steps, 2);
  const RankTimes mean = sum.per_step();
  EXPECT_DOUBLE_EQ(mean.step_s, 0.2);
  EXPECT_DOUBLE_EQ(mean.data_wait_s, 0.02);
  EXPECT_DOUBLE_EQ(mean.checkpoint_stall_s, 0.01);
  EXPECT_DOUBLE_EQ(mean.comm_wait_s[size_t(WaitKind::kOther)], 0.006);
  std::array<double, RankTimes::kPackedSize> packed{};
  sum.pack(packed);
  const RankTimes back = RankTimes::unpack(packed);
  EXPECT_EQ(back.steps, sum.steps);
  EXPECT_EQ(back.step_s, sum.step_s);
  EXPECT_EQ(back.compute_s, sum.compute_s);
  EXPECT_EQ(back.data_wait_s, sum.data_wait_s);
  EXPECT_EQ(back.checkpoint_stall_s, sum.checkpoint_stall_s);
  EXPECT_EQ(back.comm_wait_s, sum.comm_wait_s);
  EXPECT_EQ(RankTimes{}.per_step().step_s, 0.0);
  EXPECT_EQ(wait_kind_name(WaitKind::kPipeline), "pipeline");
}

}  // namespace
}  // namespace symphony
