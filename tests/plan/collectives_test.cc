#include "plan/collectives.h"

#include <gtest/gtest.h>

#include <cmath>

namespace symphony::plan {
namespace {

Cluster test_cluster() {
  Result<Cluster> c = load_cluster("h100");
  EXPECT_TRUE(c.has_value());
  return *c;
}

Efficiency unit_efficiency() {
  Efficiency e;
  e.intra_link = 1.0;
  e.inter_link = 1.0;
  return e;
}

TEST(Collectives, RingAndTreeFormulas) {
  // 2 (p-1) a + 2 (p-1)/p S/B
  EXPECT_DOUBLE_EQ(ring_all_reduce_s(4, 1e9, 1e11, 1e-5), 6e-5 + 2.0 * 0.75 * 1e-2);
  // 2 ceil(log2 p) a + 2 S/B
  EXPECT_DOUBLE_EQ(tree_all_reduce_s(5, 1e9, 1e11, 1e-5), 2 * 3 * 1e-5 + 2e-2);
  // (p-1) a + (p-1)/p S/B
  EXPECT_DOUBLE_EQ(ring_reduce_scatter_s(8, 8e8, 1e11, 1e-6), 7e-6 + 7.0 / 8.0 * 8e-3);
  EXPECT_EQ(ring_all_reduce_s(1, 1e9, 1e11, 1e-5), 0.0);
}

TEST(Collectives, GroupPlacement) {
  const Cluster c = test_cluster();
  const Efficiency e = unit_efficiency();
  CommGroup tp = make_group(c, e, 8, 1);
  EXPECT_EQ(tp.local, 8);
  EXPECT_EQ(tp.nodes, 1);
  CommGroup dp = make_group(c, e, 64, 8);  // one rank per node
  EXPECT_EQ(dp.local, 1);
  EXPECT_EQ(dp.nodes, 64);
  CommGroup mixed = make_group(c, e, 32, 2);  // 4 per node over 8 nodes
  EXPECT_EQ(mixed.local, 4);
  EXPECT_EQ(mixed.nodes, 8);
}

TEST(Collectives, SmallMessagesAvoidRingLargeMultiNodePreferHierarchy) {
  const Cluster c = test_cluster();
  const Efficiency e = unit_efficiency();
  CommGroup g = make_group(c, e, 1024, 1);  // 128 nodes x 8
  // Latency-bound: a flat ring's 2 (p-1) steps lose to log-depth trees.
  EXPECT_NE(all_reduce(g, 1e3).algorithm, Algorithm::kRing);
  CollectiveCost big = all_reduce(g, 4e9);
  EXPECT_EQ(big.algorithm, Algorithm::kHierarchical);
  EXPECT_LT(big.time_s, ring_all_reduce_s(1024, 4e9, g.inter_bw, g.inter_latency_s));
  // Inside one node: the NVLink ring.
  CommGroup node = make_group(c, e, 8, 1);
  EXPECT_NEAR(all_reduce(node, 1e9).time_s, ring_all_reduce_s(8, 1e9, 450e9, 2.5e-6), 1e-12);
}

TEST(Collectives, AllToAllSplitsIntraAndInterNode) {
  const Cluster c = test_cluster();
  const Efficiency e = unit_efficiency();
  const double bytes = 1e9;
  CommGroup node = make_group(c, e, 8, 1);
  // 7/8 of the bytes leave the GPU over NVLink.
  EXPECT_NEAR(all_to_all(node, bytes).time_s, 7 * 2.5e-6 + 7.0 / 8.0 * bytes / 450e9, 1e-12);
  CommGroup two = make_group(c, e, 16, 1);
  // 8/16 of the bytes cross the network, 7/16 NVLink, at the same time.
  const double inter = 8.0 / 16.0 * bytes / 50e9;
  EXPECT_NEAR(all_to_all(two, bytes).time_s, 15 * 6e-6 + inter, 1e-12);
}

// DeepEP-style dispatch: a share s of the bytes crosses the network, every byte but the receiving
// GPU's own moves inside its destination node; within one node it is the pairwise all-to-all.
TEST(Collectives, NodeDedupAllToAll) {
  const Cluster c = test_cluster();
  const Efficiency e = unit_efficiency();
  const double bytes = 1e9;
  CommGroup node = make_group(c, e, 8, 1);
  EXPECT_DOUBLE_EQ(node_dedup_all_to_all(node, bytes, 0.3).time_s, all_to_all(node, bytes).time_s);
  CommGroup four = make_group(c, e, 32, 1);
  const CollectiveCost d = node_dedup_all_to_all(four, bytes, 0.3);
  EXPECT_EQ(d.algorithm, Algorithm::kNodeDedup);
  EXPECT_NEAR(d.time_s, 3 * 6e-6 + 7 * 2.5e-6 + 0.3 * bytes / 50e9, 1e-12);
  // Less on the network than the pairwise exchange's 24/32.
  EXPECT_LT(d.time_s, all_to_all(four, bytes).time_s);
}

TEST(Collectives, OversubscribedSpineSlowsGroupsThatLeaveTheLeaf) {
  Cluster c = test_cluster();
  c.topology.group_gpus = 256;
  c.topology.oversubscription = 4;
  const Efficiency e = unit_efficiency();
  CommGroup inside = make_group(c, e, 32, 8);   // spans 256 GPUs
  CommGroup outside = make_group(c, e, 64, 8);  // spans 512 GPUs
  EXPECT_DOUBLE_EQ(inside.inter_bw, 50e9);
  EXPECT_DOUBLE_EQ(outside.inter_bw, 50e9 / 4);
  // Half of an all-to-all spanning 512 GPUs leaves the 256-GPU leaf: 2x slower, not 4x.
  EXPECT_DOUBLE_EQ(outside.a2a_inter_bw, 50e9 / 2);
}

TEST(Collectives, TorusAllToAllIsBisectionBound) {
  Cluster c = test_cluster();
  c.topology.kind = TopologyKind::kTorus3d;
  c.topology.link_bw = 100e9;
  const Efficiency e = unit_efficiency();
  CommGroup small = make_group(c, e, 8, 8);    // 8 nodes: cube of side 2
  CommGroup large = make_group(c, e, 512, 8);  // 512 nodes: cube of side 8
  EXPECT_DOUBLE_EQ(small.inter_bw, 200e9);
  EXPECT_DOUBLE_EQ(small.a2a_inter_bw, 200e9);  // min(2 link, 8 link / 2)
  EXPECT_DOUBLE_EQ(large.a2a_inter_bw, 8 * 100e9 / 8);
}

}  // namespace
}  // namespace symphony::plan
