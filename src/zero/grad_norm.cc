#include "zero/grad_norm.h"

#include <array>
#include <cmath>

#include "optim/grad_norm.h"

namespace symphony {

Result<double> sharded_grad_norm(DataParallel& dp) {
  const ParamStore& store = dp.store();
  std::array<double, kNumReplicaGroups> sum_sq{};
  for (int u = 0; u < store.num_units(); ++u) {
    const double norm = grad_norm_local(dp.owned_grads(u));
    sum_sq[size_t(store.unit(u).replicas)] += norm * norm;
  }
  DeviceMesh& mesh = dp.mesh();
  double total = 0;
  for (int g = 0; g < kNumReplicaGroups; ++g) {
    double s = sum_sq[size_t(g)];
    SYM_TRY(mesh.replicas(ReplicaGroup(g)).all_reduce(std::span(&s, 1)));
    for (Axis axis : block_axes(ReplicaGroup(g))) SYM_TRY(mesh.group(axis).all_reduce(std::span(&s, 1)));
    total += s;
  }
  return std::sqrt(total);
}

}  // namespace symphony
