#include "core/checked_math.h"

#include <gtest/gtest.h>

#include <limits>

namespace symphony {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(CheckedMath, MulAndAddAtTheEdges) {
  EXPECT_EQ(checked_mul(3, 4), 12);
  EXPECT_EQ(checked_mul(kMax, 1), kMax);
  EXPECT_EQ(checked_mul(int64_t(1) << 31, int64_t(1) << 31), int64_t(1) << 62);
  EXPECT_EQ(checked_mul(int64_t(1) << 32, int64_t(1) << 31), std::nullopt);  // 2^63
  EXPECT_EQ(checked_mul(kMax, 2), std::nullopt);
  EXPECT_EQ(checked_mul(kMin, -1), std::nullopt);
  EXPECT_EQ(checked_mul(0, kMax), 0);
  EXPECT_EQ(checked_add(kMax - 1, 1), kMax);
  EXPECT_EQ(checked_add(kMax, 1), std::nullopt);
  EXPECT_EQ(checked_sub(kMin, 1), std::nullopt);
  EXPECT_EQ(checked_sub(5, 7), -2);
}

TEST(CheckedMath, ProductOfMany) {
  EXPECT_EQ(checked_product({}), 1);
  EXPECT_EQ(checked_product({2, 3, 7}), 42);
  // The 583T-parameter shape of a config with 2^31 layers still fits; one more factor does not.
  EXPECT_EQ(checked_product({int64_t(1) << 31, 271'581, 1}), (int64_t(1) << 31) * 271'581);
  EXPECT_EQ(checked_product({int64_t(1) << 31, int64_t(1) << 31, 4}), std::nullopt);
  EXPECT_EQ(checked_product({kMax, kMax, 0}), std::nullopt);  // overflow before the zero counts
}

TEST(CheckedMath, CheckedIntRemembersOverflowThroughAFormula) {
  const CheckedInt rows = int64_t(1) << 40;
  const CheckedInt small = rows * 8 + rows;
  EXPECT_EQ(small.value(), (int64_t(1) << 40) * 9);
  EXPECT_FALSE(small.overflowed());

  CheckedInt big = rows * (int64_t(1) << 23);  // 2^63: overflows
  EXPECT_TRUE(big.overflowed());
  big = big - rows * 1000;  // no later step brings it back
  EXPECT_TRUE(big.overflowed());
  EXPECT_EQ(big.value(), std::nullopt);
  EXPECT_EQ(big.value_or(-1), -1);

  CheckedInt acc = 0;
  for (int i = 0; i < 4; ++i) acc += CheckedInt(kMax / 4);
  EXPECT_FALSE(acc.overflowed());
  acc += 4;
  EXPECT_TRUE(acc.overflowed());
  CheckedInt m = 3;
  m *= kMax;
  EXPECT_TRUE(m.overflowed());
  CheckedInt s = kMin;
  s -= 1;
  EXPECT_TRUE(s.overflowed());
}

}  // namespace
}  // namespace symphony
