#pragma once
// Alpha-beta costs of collectives on a cluster: time = steps * alpha + bytes / bandwidth, with
// bandwidths scaled by the efficiency factors (plan/efficiency.h). Each collective is costed
// with every algorithm that applies and the cheapest is used, as NCCL's tuner does.
//
// Notation: p ranks; S the buffer size in bytes on each rank (the full buffer for all-reduce,
// the gathered output for all-gather and the input for reduce-scatter, everything a rank sends
// for all-to-all); B a per-rank bandwidth; a a per-step latency.
//   ring all-reduce           2 (p-1) a + 2 (p-1)/p S/B
//   double binary tree        2 ceil(log2 p) a + 2 S/B
//   hierarchical (g per node, n nodes): reduce-scatter in the node, ring all-reduce of S/g
//     across nodes (every GPU on its own NIC), all-gather in the node:
//                             2 [(g-1) a_i + (g-1)/g S/B_i] + 2 (n-1) a_e + 2 (n-1)/n (S/g)/B_e
//   ring reduce-scatter / all-gather   (p-1) a + (p-1)/p S/B
//   pairwise all-to-all       (p-1) a + max((g-1)/p S/B_i, (p-g)/p S/B_e)
//     (the intra-node and inter-node parts travel on different links at the same time)
//   node-deduplicated all-to-all (n nodes; a share s of S crosses the network, every byte
//     forwarded inside its destination node, plan/expert_dispatch.h):
//                             (n-1) a_e + (g-1) a_i + max((g-1)/g S/B_i, s S/B_e)
// Sources: Thakur, Rabenseifner & Gropp 2005 (ring, recursive algorithms); NCCL's tuning model
// (double binary trees); docs/plan.md.

#include <cstdint>
#include <string_view>

#include "plan/cluster.h"
#include "plan/efficiency.h"

namespace symphony::plan {

// Where the ranks of one group sit: `size` ranks with consecutive members `stride` ranks apart.
struct CommGroup {
  int64_t size = 1;
  int64_t local = 1;    // members per node
  int64_t nodes = 1;    // nodes the group spans
  double inter_bw = 0;  // achieved per-GPU bandwidth between the group's nodes
  double inter_latency_s = 0;
  double intra_bw = 0;  // achieved per-GPU bandwidth inside a node
  double intra_latency_s = 0;
  double a2a_inter_bw = 0;  // per-GPU inter-node bandwidth for all-to-all traffic
};

CommGroup make_group(const Cluster& cluster, const Efficiency& eff, int64_t size, int64_t stride);

enum class Algorithm : uint8_t { kNone, kRing, kTree, kHierarchical, kPairwise, kNodeDedup };
std::string_view algorithm_name(Algorithm a);

struct CollectiveCost {
  double time_s = 0;
  Algorithm algorithm = Algorithm::kNone;
};

CollectiveCost all_reduce(const CommGroup& g, double bytes);
CollectiveCost reduce_scatter(const CommGroup& g, double bytes);
CollectiveCost all_gather(const CommGroup& g, double bytes);
CollectiveCost all_to_all(const CommGroup& g, double bytes);
// A dispatch or combine that sends each token once per destination node (DeepEP): `inter_share`
// of `bytes` crosses the inter-node network. The pairwise all-to-all within one node.
CollectiveCost node_dedup_all_to_all(const CommGroup& g, double bytes, double inter_share);
// One point-to-point transfer of `bytes` between neighbouring pipeline stages.
double send_recv_s(const CommGroup& g, double bytes);

// The individual algorithms, exposed for tests and --explain.
double ring_all_reduce_s(int64_t p, double bytes, double bw, double latency_s);
double tree_all_reduce_s(int64_t p, double bytes, double bw, double latency_s);
double ring_reduce_scatter_s(int64_t p, double bytes, double bw, double latency_s);

}  // namespace symphony::plan
