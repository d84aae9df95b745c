#pragma once
// How the routed tokens of a MoE layer reach the GPUs of their experts when the expert-parallel
// group spans nodes, and what crosses the inter-node network for each (docs/plan.md).
//
// A token of a GPU in one of the group's N nodes goes to its k experts. Spread evenly, the
// experts of the group sit E / N per node. With a pairwise all-to-all every routed copy travels
// to its expert's GPU: (N-1)/N of the k copies cross the network. A node-deduplicated dispatch
// (DeepEP's internode kernels, DeepSeek-V3's own) sends a token once to each remote node that
// holds one of its experts, to the GPU at the sender's position, which forwards it to that node's
// experts over NVLink; the combine sums a node's partial outputs before sending them back once.
// What crosses the network is then the expected number of distinct remote nodes per token.
// Group-limited routing (model.n_group, topk_group: a token uses only the experts of its
// topk_group best groups; DeepSeek-V3 8 groups, 4 per token) caps it when the groups fall on
// nodes (n_group a multiple of N).

#include <cstdint>

#include "model/model_config.h"

namespace symphony::plan {

enum class ExpertDispatch : uint8_t {
  kAllToAll,   // every routed copy to its expert's GPU (NCCL all-to-all; Symphony's engine)
  kNodeDedup,  // once per destination node, forwarded inside it (DeepEP, DeepSeek-V3)
};

// "all-to-all" / "node-dedup"; the inverse returns false for other text.
const char* expert_dispatch_name(ExpertDispatch d);
bool parse_expert_dispatch(const char* name, ExpertDispatch* out);

// How the expert all-to-all meets computation outside DualPipe.
enum class ExpertOverlap : uint8_t {
  kNone,     // every exchange exposed (Megatron-LM without its all-to-all overlap)
  kChunked,  // Symphony's exchange (parallel/expert_exchange.h): two chunks of the local experts,
             // one chunk's transfer hidden behind the other's expert GEMMs, the first dispatch
             // behind the shared experts (forward) or the router and shared backward
  kPaired,   // one micro-batch's forward runs beside another's backward, each direction's
             // exchange behind the other's computation, as in DualPipe (Megatron-Core's
             // overlap_moe_expert_parallel_comm with delay_wgrad_compute)
};

// "none" / "chunked" / "paired"; the inverse returns false for other text.
const char* expert_overlap_name(ExpertOverlap o);
bool parse_expert_overlap(const char* name, ExpertOverlap* out);

// The expected number of remote nodes among the N nodes of the group that hold at least one of a
// token's k routed experts, the experts chosen uniformly (as balanced or force-balanced routing
// does) among all E, or among the experts of topk_group groups of n_group when the model limits
// routing by group and the groups fall on whole nodes:
//   (N - 1) (1 - C(U - U/N, t) / C(U, t)),  (U, t) = (n_group, topk_group) or (E, k).
// 0 for N <= 1 or a dense model. REQUIRES: the model checks passed.
double remote_nodes_per_token(const ModelConfig& c, int64_t nodes);

// The share of the routed copies' bytes (k per token) that crosses the inter-node network when
// deduplicated by node: remote_nodes_per_token / k (the pairwise all-to-all's is (N-1)/N,
// plan/collectives.h).
double node_dedup_inter_share(const ModelConfig& c, int64_t nodes);

}  // namespace symphony::plan
