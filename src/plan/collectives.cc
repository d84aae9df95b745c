#include "plan/collectives.h"

#include <algorithm>
#include <cmath>

namespace symphony::plan {

std::string_view algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kNone: return "-";
    case Algorithm::kRing: return "ring";
    case Algorithm::kTree: return "tree";
    case Algorithm::kHierarchical: return "hierarchical";
    case Algorithm::kPairwise: return "pairwise";
    case Algorithm::kNodeDedup: return "node-dedup";
  }
  return "?";
}

CommGroup make_group(const Cluster& c, const Efficiency& eff, int64_t size, int64_t stride) {
  CommGroup g;
  g.size = size;
  const int64_t gpn = c.gpus_per_node;
  g.local = stride >= gpn ? 1 : std::min(size, std::max<int64_t>(1, gpn / stride));
  g.nodes = (size + g.local - 1) / g.local;
  g.intra_bw = c.intra_bw * eff.intra_link;
  g.intra_latency_s = c.intra_latency_s;
  const double base = c.inter_bw * eff.inter_link;
  g.inter_bw = base;
  g.a2a_inter_bw = base;
  g.inter_latency_s = c.inter_latency_s;
  if (g.nodes <= 1) return g;
  const double span = double(size) * double(stride);
  const Topology& t = c.topology;
  switch (t.kind) {
    case TopologyKind::kFatTree:
    case TopologyKind::kDragonfly: {
      // A ring that leaves the leaf (or dragonfly group) pushes all of its bytes through the
      // oversubscribed level; an all-to-all pushes the share addressed outside the group.
      const double slowdown =
          t.kind == TopologyKind::kFatTree ? t.oversubscription : 1.0 / t.global_bw_fraction;
      if (span > double(t.group_gpus)) {
        const double outside = 1.0 - double(t.group_gpus) / span;
        g.inter_bw = base / slowdown;
        g.a2a_inter_bw = base / std::max(1.0, outside * slowdown);
        g.inter_latency_s += t.extra_hop_latency_s;
      }
      break;
    }
    case TopologyKind::kTorus3d: {
      // A bidirectional ring along one torus dimension uses two links; an all-to-all over n
      // GPUs in a cube of side n^(1/3) is limited by its 2 n^(2/3) bisection links.
      const double link = t.link_bw * eff.inter_link;
      g.inter_bw = 2.0 * link;
      g.a2a_inter_bw = std::min(2.0 * link, 8.0 * link / std::cbrt(double(g.nodes)));
      g.inter_latency_s += t.extra_hop_latency_s * std::cbrt(double(g.nodes)) / 2.0;
      break;
    }
  }
  return g;
}

double ring_all_reduce_s(int64_t p, double bytes, double bw, double latency_s) {
  if (p <= 1) return 0;
  return 2.0 * double(p - 1) * latency_s + 2.0 * double(p - 1) / double(p) * bytes / bw;
}

double tree_all_reduce_s(int64_t p, double bytes, double bw, double latency_s) {
  if (p <= 1) return 0;
  return 2.0 * std::ceil(std::log2(double(p))) * latency_s + 2.0 * bytes / bw;
}

double ring_reduce_scatter_s(int64_t p, double bytes, double bw, double latency_s) {
  if (p <= 1) return 0;
  return double(p - 1) * latency_s + double(p - 1) / double(p) * bytes / bw;
}

CollectiveCost all_reduce(const CommGroup& g, double bytes) {
  if (g.size <= 1 || bytes <= 0) return {};
  if (g.nodes <= 1)
    return {std::min(ring_all_reduce_s(g.size, bytes, g.intra_bw, g.intra_latency_s),
                     tree_all_reduce_s(g.size, bytes, g.intra_bw, g.intra_latency_s)),
            Algorithm::kRing};
  // A flat ring or tree over the whole group is bound by its inter-node hops.
  CollectiveCost best{ring_all_reduce_s(g.size, bytes, g.inter_bw, g.inter_latency_s),
                      Algorithm::kRing};
  const double tree = tree_all_reduce_s(g.size, bytes, g.inter_bw, g.inter_latency_s);
  if (tree < best.time_s) best = {tree, Algorithm::kTree};
  if (g.local > 1) {
    const double hier =
        2.0 * ring_reduce_scatter_s(g.local, bytes, g.intra_bw, g.intra_latency_s) +
        std::min(
            ring_all_reduce_s(g.nodes, bytes / double(g.local), g.inter_bw, g.inter_latency_s),
            tree_all_reduce_s(g.nodes, bytes / double(g.local), g.inter_bw, g.inter_latency_s));
    if (hier < best.time_s) best = {hier, Algorithm::kHierarchical};
  }
  return best;
}

CollectiveCost reduce_scatter(const CommGroup& g, double bytes) {
  if (g.size <= 1 || bytes <= 0) return {};
  if (g.nodes <= 1)
    return {ring_reduce_scatter_s(g.size, bytes, g.intra_bw, g.intra_latency_s), Algorithm::kRing};
  CollectiveCost best{ring_reduce_scatter_s(g.size, bytes, g.inter_bw, g.inter_latency_s),
                      Algorithm::kRing};
  if (g.local > 1) {
    // Reduce-scatter inside the node on S, then across nodes on S/g, every GPU on its own rail.
    const double hier =
        ring_reduce_scatter_s(g.local, bytes, g.intra_bw, g.intra_latency_s) +
        ring_reduce_scatter_s(g.nodes, bytes / double(g.local), g.inter_bw, g.inter_latency_s);
    if (hier < best.time_s) best = {hier, Algorithm::kHierarchical};
  }
  return best;
}

CollectiveCost all_gather(const CommGroup& g, double bytes) { return reduce_scatter(g, bytes); }

CollectiveCost all_to_all(const CommGroup& g, double bytes) {
  if (g.size <= 1 || bytes <= 0) return {};
  const double p = double(g.size);
  const double intra = double(g.local - 1) / p * bytes / g.intra_bw;
  const double inter = double(g.size - g.local) / p * bytes / g.a2a_inter_bw;
  const double latency = double(g.size - 1) * (g.nodes > 1 ? g.inter_latency_s : g.intra_latency_s);
  return {latency + std::max(intra, inter), Algorithm::kPairwise};
}

CollectiveCost node_dedup_all_to_all(const CommGroup& g, double bytes, double inter_share) {
  if (g.nodes <= 1) return all_to_all(g, bytes);
  if (bytes <= 0) return {};
  const double local = double(g.local);
  const double intra = (local - 1.0) / local * bytes / g.intra_bw;
  const double inter = inter_share * bytes / g.a2a_inter_bw;
  const double latency =
      double(g.nodes - 1) * g.inter_latency_s + double(g.local - 1) * g.intra_latency_s;
  return {latency + std::max(intra, inter), Algorithm::kNodeDedup};
}

double send_recv_s(const CommGroup& g, double bytes) {
  if (g.size <= 1 || bytes <= 0) return 0;
  if (g.nodes <= 1) return g.intra_latency_s + bytes / g.intra_bw;
  return g.inter_latency_s + bytes / g.inter_bw;
}

}  // namespace symphony::plan
