#include "kernels/fast_exp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/simd.h"

namespace symphony {
namespace {

constexpr double kMaxRelativeError = 1e-7;

// The kernels call exp_nonpositive inside `omp simd` loops of SYM_VECTORIZED functions; this
// evaluates it the same way, so the AVX2 clone (FMA-contracted) is tested where the CPU has it.
SYM_VECTORIZED void exp_nonpositive_many(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = cpu::exp_nonpositive(x[i]);
}

// Every `stride`-th float from `from` towards 0, both included; from and 0 share a sign.
std::vector<float> floats_towards_zero(float from, uint32_t stride) {
  std::vector<float> xs;
  const uint32_t magnitude = std::bit_cast<uint32_t>(from) & 0x7fffffffu;
  const uint32_t sign = std::bit_cast<uint32_t>(from) & 0x80000000u;
  for (uint32_t m = magnitude;; m -= std::min(m, stride)) {
    xs.push_back(std::bit_cast<float>(sign | m));
    if (m == 0) break;
  }
  return xs;
}

void expect_close_to_std_exp(const std::vector<float>& xs) {
  std::vector<float> vectorised(xs.size());
  exp_nonpositive_many(xs.data(), vectorised.data(), static_cast<int64_t>(xs.size()));
  double worst = 0;
  float worst_x = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double want = std::exp(double(xs[i]));
    for (float got : {cpu::exp_nonpositive(xs[i]), vectorised[i]}) {
      const double relative = std::fabs(double(got) - want) / want;
      if (!(relative <= worst)) {  // also catches NaN
        worst = relative;
        worst_x = xs[i];
      }
    }
  }
  EXPECT_LE(worst, kMaxRelativeError) << "at x = " << worst_x;
}

TEST(FastExp, MatchesStdExpOnNonPositiveRange) {
  // A prime stride over the bit patterns reaches every binade, from -87 down to denormal x.
  const std::vector<float> xs = floats_towards_zero(-87.f, 101);
  ASSERT_GT(xs.size(), size_t{10'000'000});
  expect_close_to_std_exp(xs);
  EXPECT_EQ(cpu::exp_nonpositive(0.f), 1.f);
  EXPECT_EQ(cpu::exp_nonpositive(-0.f), 1.f);
}

TEST(FastExp, SlightlyPositiveArgumentsStayAccurate) {
  expect_close_to_std_exp(floats_towards_zero(88.f, 1009));
}

TEST(FastExp, BelowRangeGivesTinyNonNegativeValue) {
  const float smallest_normal = std::numeric_limits<float>::min();
  for (float x : {-87.34f, -87.5f, -88.f, -100.f, -1e4f, -std::numeric_limits<float>::max(),
                  -std::numeric_limits<float>::infinity()}) {
    SCOPED_TRACE(x);
    float vectorised = 0;
    exp_nonpositive_many(&x, &vectorised, 1);
    for (float y : {cpu::exp_nonpositive(x), vectorised}) {
      EXPECT_FALSE(std::isnan(y));
      EXPECT_GE(y, 0.f);
      EXPECT_LE(y, 1.01f * smallest_normal);
    }
  }
  EXPECT_TRUE(std::isnan(cpu::exp_nonpositive(std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace
}  // namespace symphony
