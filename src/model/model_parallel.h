#pragma once
// What the model needs of the parallel layout (parallel/layout.h): which blocks of sharded
// parameters this rank holds (parallel/shard_spec.h) and the group it exchanges tokens with in
// MoE layers. The model never sees ZeRO or the data-parallel groups.

#include "parallel/comm.h"
#include "parallel/mesh.h"
#include "parallel/shard_spec.h"

namespace symphony {

struct ModelParallel {
  ShardPlacement placement;  // default: one process holds everything
  Comm* expert = nullptr;    // the ep group; REQUIRED when placement.size[kExpert] > 1

  int expert_size() const { return placement.size[int(Axis::kExpert)]; }
  static ModelParallel of(DeviceMesh& mesh) {
    return {ShardPlacement::of(mesh.layout(), mesh.world().rank()), &mesh.group(Axis::kExpert)};
  }
};

}  // namespace symphony
