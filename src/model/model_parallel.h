#pragma once
// What the model needs of the parallel layout (parallel/layout.h): which blocks of sharded
// parameters this rank holds (parallel/shard_spec.h), its tensor-parallel group
// (model/tensor_parallel.h) and the groups it exchanges tokens with in MoE layers. The model
// never sees ZeRO or the data-parallel groups.

#include "parallel/comm.h"
#include "parallel/mesh.h"
#include "parallel/shard_spec.h"

namespace symphony {

struct ModelParallel {
  ShardPlacement placement;  // default: one process holds everything
  Comm* expert = nullptr;    // the ep group; REQUIRED when placement.size[kExpert] > 1
  Comm* tensor = nullptr;    // the tp group; REQUIRED when placement.size[kTensor] > 1
  Comm* expert_tensor = nullptr;  // the etp group; REQUIRED when placement.size[kExpertTensor] > 1
  bool sequence_parallel = true;  // with tp > 1 (parallel.sequence_parallel)

  int expert_size() const { return placement.size[int(Axis::kExpert)]; }
  int tensor_size() const { return placement.size[int(Axis::kTensor)]; }
  static ModelParallel of(DeviceMesh& mesh, bool sequence_parallel = true) {
    return {ShardPlacement::of(mesh.layout(), mesh.world().rank()), &mesh.group(Axis::kExpert),
            &mesh.group(Axis::kTensor), &mesh.group(Axis::kExpertTensor), sequence_parallel};
  }
};

}  // namespace symphony
