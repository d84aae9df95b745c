#pragma once
// The whole of a sharded parameter from its blocks (parallel/shard_spec.h): for model files and
// for comparing a parallel layout's tensors with one process's.

#include "core/status.h"
#include "model/param_store.h"
#include "parallel/mesh.h"

namespace symphony {

// Writes the whole tensor (info.global_shape) into `whole` on every rank: the blocks are
// all-gathered over each axis that cuts the tensor, the second cut first, and placed along the
// dim it cuts (ranks holding copies of one block contribute the same values). A replicated
// tensor is copied. Collective over the groups of the tensor's cut axes.
// Failure: a communication error.
Status gather_param(DeviceMesh& mesh, const ParamInfo& info, ConstView block, View whole);

}  // namespace symphony
