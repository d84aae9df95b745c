#include "parallel/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace symphony {
namespace {

using testing::HasSubstr;

TEST(ParallelLayout, DpTakesWhatTheOtherAxesLeave) {
  ParallelConfig c;
  c.tp = 2;
  c.pp = 2;
  auto l = ParallelLayout::create(c, 16);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->size(Axis::kData), 4);
  EXPECT_EQ(l->describe(), "pp=2 dp=4 tp=2");
}

TEST(ParallelLayout, DefaultOrderPutsTensorInnermost) {
  ParallelConfig c;
  c.tp = 2;
  c.pp = 2;
  auto l = ParallelLayout::create(c, 8);
  ASSERT_TRUE(l);
  // rank = tp + 2 * (dp + 2 * pp)
  for (int rank = 0; rank < 8; ++rank) {
    auto co = l->coords(rank);
    EXPECT_EQ(co[int(Axis::kTensor)], rank % 2);
    EXPECT_EQ(co[int(Axis::kData)], (rank / 2) % 2);
    EXPECT_EQ(co[int(Axis::kPipeline)], rank / 4);
    EXPECT_EQ(l->rank_of_dense(co), rank);
  }
  const Axis tp[] = {Axis::kTensor};
  EXPECT_EQ(l->group_ranks(tp, 5), (std::vector<int>{4, 5}));
  const Axis dp[] = {Axis::kData};
  EXPECT_EQ(l->group_ranks(dp, 5), (std::vector<int>{5, 7}));
  EXPECT_EQ(l->group_rank(dp, 7), 1);
}

TEST(ParallelLayout, GroupsOverAnAxisPartitionTheWorld) {
  ParallelConfig c;
  c.tp = 2;
  c.cp = 2;
  c.order = "dp,tp,cp,pp";
  auto l = ParallelLayout::create(c, 12);
  ASSERT_TRUE(l) << l.error().message();
  const Axis axes[] = {Axis::kData, Axis::kTensor};
  std::set<int> seen;
  for (int rank = 0; rank < 12; ++rank) {
    auto group = l->group_ranks(axes, rank);
    ASSERT_EQ(group.size(), 6u);
    EXPECT_EQ(group[size_t(l->group_rank(axes, rank))], rank);
    if (group[0] == rank || seen.count(rank) == 0)
      for (int r : group) seen.insert(r);
  }
  EXPECT_EQ(seen.size(), 12u);
}

// Parallel folding: ep is carved out of dp*cp*tp of each stage, edp is what is left.
TEST(ParallelLayout, ExpertAxesFoldOverTheDenseRanksOfAStage) {
  ParallelConfig c;
  c.pp = 2;
  c.tp = 2;
  c.ep = 4;  // dp = 4: each stage has dp*tp = 8 ranks, ep 4, edp 2
  auto l = ParallelLayout::create(c, 16);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->size(Axis::kData), 4);
  EXPECT_EQ(l->size(Axis::kExpert), 4);
  EXPECT_EQ(l->size(Axis::kExpertData), 2);
  EXPECT_EQ(l->describe(), "pp=2 dp=4 tp=2 ep=4");
  const Axis ep[] = {Axis::kExpert}, edp[] = {Axis::kExpertData};
  // Within a stage (8 consecutive ranks, tp innermost): ep runs over the first 4, edp strides 4.
  EXPECT_EQ(l->group_ranks(ep, 5), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(l->group_ranks(edp, 5), (std::vector<int>{1, 5}));
  EXPECT_EQ(l->group_ranks(ep, 9), (std::vector<int>{8, 9, 10, 11}));
  EXPECT_EQ(l->coords(13)[int(Axis::kExpert)], 1);
  EXPECT_EQ(l->coords(13)[int(Axis::kExpertData)], 1);
  EXPECT_EQ(l->coords(13)[int(Axis::kPipeline)], 1);
  // Every rank is in exactly one ep group and one edp group, and ep x edp covers the stage.
  for (int rank = 0; rank < 16; ++rank) {
    const auto co = l->coords(rank);
    for (int other : l->group_ranks(ep, rank))
      EXPECT_EQ(l->coords(other)[int(Axis::kExpertData)], co[int(Axis::kExpertData)]);
    EXPECT_EQ(l->group_ranks(ep, rank)[size_t(l->group_rank(ep, rank))], rank);
    EXPECT_EQ(l->group_ranks(edp, rank)[size_t(l->group_rank(edp, rank))], rank);
  }
}

TEST(ParallelLayout, BadConfigsNameTheKey) {
  ParallelConfig c;
  c.tp = 3;
  auto l = ParallelLayout::create(c, 4);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("multiple of pp*cp*tp = 3"));
  c.tp = 2;
  c.dp = 3;
  l = ParallelLayout::create(c, 4);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("but the world has 4 ranks"));
  c = ParallelConfig{};
  c.order = "tp,cp,dp,dp";
  l = ParallelLayout::create(c, 1);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("twice"));
  c.order = "tp,cp,dp,xx";
  l = ParallelLayout::create(c, 1);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("unknown axis 'xx'"));
  c.order = "tp,cp,ep,dp,pp";
  l = ParallelLayout::create(c, 1);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("names ep: expert parallelism is not a separate"));
  c = ParallelConfig{};
  c.ep = 3;
  l = ParallelLayout::create(c, 4);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("parallel.ep = 3"));
  c.ep = 8;
  l = ParallelLayout::create(c, 4);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("dp*cp*tp = 4 ranks"));
  c.ep = 1;
  c.etp = int64_t(1) << 62;  // bounded before ep * etp is formed
  l = ParallelLayout::create(c, 4);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("parallel.etp = 4611686018427387904"));
  c = ParallelConfig{};
  c.tp = 8;
  l = ParallelLayout::create(c, 4);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("parallel.tp = 8 exceeds the world of 4 ranks"));
  c.tp = c.pp = c.cp = int64_t(1) << 40;  // each beyond the world, and their product beyond int64
  l = ParallelLayout::create(c, 1 << 30);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("exceeds the world"));
  c.tp = c.pp = c.cp = int64_t(1) << 15;  // each within the world, their product beyond it
  l = ParallelLayout::create(c, 1 << 30);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("pp*cp*tp = 32768*32768*32768 is more than"));
  c = ParallelConfig{};
  c.pp = 0;
  l = ParallelLayout::create(c, 1);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("parallel.pp = 0"));
}

}  // namespace
}  // namespace symphony
