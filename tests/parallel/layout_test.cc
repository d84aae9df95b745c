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
    EXPECT_EQ(l->rank_of(co), rank);
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
  c.ep = 2;
  c.order = "dp,ep,tp,cp,pp";
  auto l = ParallelLayout::create(c, 12);
  ASSERT_TRUE(l) << l.error().message();
  const Axis axes[] = {Axis::kData, Axis::kExpert};
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

TEST(ParallelLayout, BadConfigsNameTheKey) {
  ParallelConfig c;
  c.tp = 3;
  auto l = ParallelLayout::create(c, 4);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("multiple of pp*cp*ep*tp = 3"));
  c.tp = 2;
  c.dp = 3;
  l = ParallelLayout::create(c, 4);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("but the world has 4 ranks"));
  c = ParallelConfig{};
  c.zero_stage = 4;
  l = ParallelLayout::create(c, 1);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("parallel.zero_stage = 4"));
  c = ParallelConfig{};
  c.order = "tp,cp,ep,dp,dp";
  l = ParallelLayout::create(c, 1);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("twice"));
  c.order = "tp,cp,ep,dp,xx";
  l = ParallelLayout::create(c, 1);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("unknown axis 'xx'"));
  c = ParallelConfig{};
  c.pp = 0;
  l = ParallelLayout::create(c, 1);
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("parallel.pp = 0"));
}

}  // namespace
}  // namespace symphony
