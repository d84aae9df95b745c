#include "optim/lr_schedule.h"

#include <gtest/gtest.h>

namespace symphony {
namespace {

TEST(LrSchedule, WarmupThenCosineToMinimum) {
  OptimConfig c;
  c.lr = 1.0;
  c.min_lr_ratio = 0.1;
  c.warmup_steps = 10;
  c.decay = LrDecay::kCosine;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0, 110), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 9, 110), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(c, 10, 110), 1.0);
  EXPECT_NEAR(learning_rate(c, 60, 110), 0.55, 1e-12);  // halfway: mean of max and min
  EXPECT_NEAR(learning_rate(c, 110, 110), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(c, 500, 110), 0.1, 1e-12);  // clamps after the end
}

TEST(LrSchedule, LinearAndConstant) {
  OptimConfig c;
  c.lr = 2.0;
  c.min_lr_ratio = 0.0;
  c.warmup_steps = 0;
  c.decay = LrDecay::kLinear;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0, 100), 2.0);
  EXPECT_DOUBLE_EQ(learning_rate(c, 50, 100), 1.0);
  c.decay = LrDecay::kConstant;
  EXPECT_DOUBLE_EQ(learning_rate(c, 77, 100), 2.0);
}

}  // namespace
}  // namespace symphony
