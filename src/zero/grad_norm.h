#pragma once
// The global L2 norm of a step's gradients under any layout: each rank sums the squares of the
// slice it owns of every unit (zero/shard_layout.h), so a replica group covers each of its blocks
// once; the sums are added over the replica group and then over the axes the blocks differ on
// (parallel/shard_spec.h block_axes: ep for experts), which covers every parameter once. The
// result is identical on every rank.

#include "core/status.h"
#include "zero/data_parallel.h"

namespace symphony {

// REQUIRES: dp.end_backward() has returned for this step. Collective over the mesh's replica
// groups and expert axes. Failure: a communication error.
Result<double> sharded_grad_norm(DataParallel& dp);

}  // namespace symphony
