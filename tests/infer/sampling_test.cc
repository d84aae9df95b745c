#include "infer/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace symphony {
namespace {

TEST(Sampling, GreedyPicksArgmax) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f};
  Rng rng(1);
  SamplingScratch scratch;
  EXPECT_EQ(sample_token(logits, {0.0, 0, 1.0}, rng, scratch), 1);
}

TEST(Sampling, TopKOneIsGreedy) {
  std::vector<float> logits = {0.1f, 0.3f, 5.0f, 0.2f};
  Rng rng(2);
  SamplingScratch scratch;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sample_token(logits, {1.5, 1, 1.0}, rng, scratch), 2);
}

TEST(Sampling, FrequenciesFollowSoftmaxAndTopPCuts) {
  // probs at temperature 1: ln(4), ln(2), ln(1), ln(1) -> 0.5, 0.25, 0.125, 0.125
  std::vector<float> logits = {std::log(4.f), std::log(2.f), 0.f, 0.f};
  Rng rng(3);
  SamplingScratch scratch;
  std::map<int32_t, int> counts;
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) ++counts[sample_token(logits, {1.0, 0, 1.0}, rng, scratch)];
  EXPECT_NEAR(counts[0] / double(draws), 0.5, 0.015);
  EXPECT_NEAR(counts[1] / double(draws), 0.25, 0.015);
  EXPECT_NEAR(counts[3] / double(draws), 0.125, 0.015);
  counts.clear();
  // top_p 0.7 keeps {0, 1} (cumulative 0.75), renormalised to 2/3, 1/3.
  for (int i = 0; i < draws; ++i) ++counts[sample_token(logits, {1.0, 0, 0.7}, rng, scratch)];
  EXPECT_EQ(counts[2] + counts[3], 0);
  EXPECT_NEAR(counts[0] / double(draws), 2.0 / 3.0, 0.015);
}

}  // namespace
}  // namespace symphony
