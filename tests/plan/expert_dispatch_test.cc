#include "plan/expert_dispatch.h"

#include <gtest/gtest.h>

namespace symphony::plan {
namespace {

ModelConfig moe(int64_t experts, int64_t k, int64_t n_group = 1, int64_t topk_group = 1) {
  ModelConfig c;
  c.num_experts = experts;
  c.num_experts_per_tok = k;
  c.n_group = n_group;
  c.topk_group = topk_group;
  return c;
}

TEST(ExpertDispatch, NamesRoundTrip) {
  for (ExpertDispatch d : {ExpertDispatch::kAllToAll, ExpertDispatch::kNodeDedup}) {
    ExpertDispatch back = d == ExpertDispatch::kAllToAll ? ExpertDispatch::kNodeDedup
                                                         : ExpertDispatch::kAllToAll;
    ASSERT_TRUE(parse_expert_dispatch(expert_dispatch_name(d), &back));
    EXPECT_EQ(back, d);
  }
  ExpertDispatch d = ExpertDispatch::kAllToAll;
  EXPECT_FALSE(parse_expert_dispatch("deepep", &d));
}

TEST(ExpertOverlap, NamesRoundTrip) {
  for (ExpertOverlap o : {ExpertOverlap::kNone, ExpertOverlap::kChunked, ExpertOverlap::kPaired}) {
    ExpertOverlap back = o == ExpertOverlap::kNone ? ExpertOverlap::kPaired : ExpertOverlap::kNone;
    ASSERT_TRUE(parse_expert_overlap(expert_overlap_name(o), &back));
    EXPECT_EQ(back, o);
  }
  EXPECT_STREQ(expert_overlap_name(ExpertOverlap::kPaired), "paired");
  ExpertOverlap o = ExpertOverlap::kChunked;
  EXPECT_FALSE(parse_expert_overlap("dualpipe", &o));
  EXPECT_EQ(o, ExpertOverlap::kChunked);  // untouched
}

// 4 experts on 2 nodes, 2 per token: the remote node holds neither only when both picks are the
// local pair, 1 of the 6 pairs.
TEST(ExpertDispatch, RemoteNodesCountedByHand) {
  const ModelConfig c = moe(4, 2);
  EXPECT_NEAR(remote_nodes_per_token(c, 2), 5.0 / 6.0, 1e-12);
  EXPECT_NEAR(node_dedup_inter_share(c, 2), 5.0 / 12.0, 1e-12);  // the pairwise exchange's: 1/2
  // With as many picks as experts every node is reached.
  EXPECT_NEAR(remote_nodes_per_token(moe(4, 4), 2), 1.0, 1e-12);
  EXPECT_NEAR(remote_nodes_per_token(moe(4, 3), 2), 1.0, 1e-12);
}

// DeepSeek-V3: 8 groups of 32 experts on 8 nodes, 4 groups per token: half the other nodes.
TEST(ExpertDispatch, GroupLimitedRoutingCapsTheNodes) {
  const ModelConfig dsv3 = moe(256, 8, 8, 4);
  EXPECT_NEAR(remote_nodes_per_token(dsv3, 8), 3.5, 1e-12);
  EXPECT_NEAR(node_dedup_inter_share(dsv3, 8), 3.5 / 8.0, 1e-12);
  // Unlimited, the 8 picks reach 7 (1 - (224 choose 8) / (256 choose 8)) = 4.6328 remote nodes.
  const double unlimited = remote_nodes_per_token(moe(256, 8), 8);
  EXPECT_NEAR(unlimited, 4.63282, 1e-5);
  // Groups that do not fall on whole nodes (8 groups over 16 nodes) do not cap it.
  EXPECT_DOUBLE_EQ(remote_nodes_per_token(dsv3, 16), remote_nodes_per_token(moe(256, 8), 16));
}

TEST(ExpertDispatch, DedupNeverSendsMoreThanPairwise) {
  for (int64_t experts : {8, 64, 128, 256, 384})
    for (int64_t k : {1, 2, 4, 8})
      for (int64_t nodes : {2, 4, 8}) {
        const ModelConfig c = moe(experts, k);
        const double dedup = node_dedup_inter_share(c, nodes);
        const double pairwise = double(nodes - 1) / double(nodes);
        EXPECT_LE(dedup, pairwise + 1e-12) << experts << " " << k << " " << nodes;
        // One pick: nothing to deduplicate.
        if (k == 1) {
          EXPECT_NEAR(dedup, pairwise, 1e-12);
        }
      }
}

TEST(ExpertDispatch, NothingCrossesWithinOneNodeOrWithoutExperts) {
  EXPECT_EQ(remote_nodes_per_token(moe(128, 8), 1), 0.0);
  EXPECT_EQ(node_dedup_inter_share(moe(128, 8), 1), 0.0);
  EXPECT_EQ(node_dedup_inter_share(ModelConfig{}, 4), 0.0);
}

}  // namespace
}  // namespace symphony::plan
