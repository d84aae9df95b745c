#include "plan/expert_dispatch.h"

#include <algorithm>
#include <cstring>

namespace symphony::plan {

const char* expert_dispatch_name(ExpertDispatch d) {
  return d == ExpertDispatch::kNodeDedup ? "node-dedup" : "all-to-all";
}

bool parse_expert_dispatch(const char* name, ExpertDispatch* out) {
  for (ExpertDispatch d : {ExpertDispatch::kAllToAll, ExpertDispatch::kNodeDedup})
    if (std::strcmp(name, expert_dispatch_name(d)) == 0) {
      *out = d;
      return true;
    }
  return false;
}

const char* expert_overlap_name(ExpertOverlap o) {
  switch (o) {
    case ExpertOverlap::kNone: return "none";
    case ExpertOverlap::kChunked: return "chunked";
    case ExpertOverlap::kPaired: return "paired";
  }
  return "none";
}

bool parse_expert_overlap(const char* name, ExpertOverlap* out) {
  for (ExpertOverlap o : {ExpertOverlap::kNone, ExpertOverlap::kChunked, ExpertOverlap::kPaired})
    if (std::strcmp(name, expert_overlap_name(o)) == 0) {
      *out = o;
      return true;
    }
  return false;
}

double remote_nodes_per_token(const ModelConfig& c, int64_t nodes) {
  if (nodes <= 1 || c.num_experts <= 0) return 0.0;
  const bool by_group =
      c.n_group > 1 && c.topk_group < c.n_group && c.n_group % nodes == 0;
  const int64_t units = by_group ? c.n_group : c.num_experts;
  const int64_t picks = by_group ? c.topk_group : c.num_experts_per_tok;
  // P(a given remote node holds none of the picks) = C(U - U/N, t) / C(U, t), as a product.
  const double per_node = double(units) / double(nodes);
  double none = 1.0;
  for (int64_t i = 0; i < picks; ++i)
    none *= std::max(0.0, (double(units) - per_node - double(i)) / (double(units) - double(i)));
  return double(nodes - 1) * (1.0 - none);
}

double node_dedup_inter_share(const ModelConfig& c, int64_t nodes) {
  if (nodes <= 1 || c.num_experts <= 0) return 0.0;
  return remote_nodes_per_token(c, nodes) / double(c.num_experts_per_tok);
}

}  // namespace symphony::plan
