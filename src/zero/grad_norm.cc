#include "zero/grad_norm.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "optim/grad_norm.h"

namespace symphony {

Result<double> sharded_grad_norm(DataParallel& dp) {
  const ParamStore& store = dp.store();
  std::array<double, kNumReplicaGroups> sum_sq{};
  const ShardLayout& shards = dp.shards();
  for (int u = 0; u < store.num_units(); ++u) {
    // The owned part of the unit, tensor by tensor: copies of a block along the block axes are
    // counted on their primary holder only.
    const ParamUnit& unit = store.unit(u);
    const int64_t begin = shards.owned_begin(u), end = shards.owned_end(u);
    ConstView owned = dp.owned_grads(u);
    bool all_primary = true;
    for (ParamId id = unit.first; id < unit.end; ++id)
      all_primary = all_primary && store.placement().is_primary(store.info(id).shard);
    if (all_primary) {
      const double norm = grad_norm_local(owned);
      sum_sq[size_t(unit.replicas)] += norm * norm;
      continue;
    }
    double sq = 0;
    for (ParamId id = unit.first; id < unit.end; ++id) {
      const ParamInfo& info = store.info(id);
      if (!store.placement().is_primary(info.shard)) continue;
      const int64_t a = std::max(begin, info.offset);
      const int64_t b = std::min(end, info.offset + info.shape.numel());
      if (a >= b) continue;
      const double norm = grad_norm_local(owned.rows(a - begin, b - begin));
      sq += norm * norm;
    }
    sum_sq[size_t(unit.replicas)] += sq;
  }
  DeviceMesh& mesh = dp.mesh();
  double total = 0;
  for (int g = 0; g < kNumReplicaGroups; ++g) {
    double s = sum_sq[size_t(g)];
    SYM_TRY(mesh.replicas(ReplicaGroup(g)).all_reduce(std::span(&s, 1)));
    for (Axis axis : block_axes(ReplicaGroup(g))) SYM_TRY(mesh.group(axis).all_reduce(std::span(&s, 1)));
    total += s;
  }
  // Each pipeline stage holds its own layers.
  if (mesh.size(Axis::kPipeline) > 1)
    SYM_TRY(mesh.group(Axis::kPipeline).all_reduce(std::span(&total, 1)));
  return std::sqrt(total);
}

}  // namespace symphony
