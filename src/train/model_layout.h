#pragma once
// The model's part of a run's layout on this rank: ModelParallel::of(mesh) plus its pipeline
// stage, with the layer split of model/pipeline_split.h and as many activation slots as the
// schedule keeps micro-batches in flight on this stage (parallel/pipeline_schedule.h).

#include <cstdint>

#include "config/run_config.h"
#include "core/status.h"
#include "model/model_parallel.h"
#include "parallel/mesh.h"

namespace symphony {

// The pipeline stages of `stage` for this run (parallel/pipeline_stages.h).
// Errors (kInvalidArgument naming the keys): the schedule cannot run `micro_batches` per step
// over these stages (check_pipeline_schedule: for example interleaving with micro-batches not a
// multiple of parallel.pp).
Result<PipelineStages> pipeline_stages_for(const RunConfig& config, int stage,
                                           int64_t micro_batches);
Result<ModelParallel> model_parallel_for(const RunConfig& config, DeviceMesh& mesh,
                                         int64_t micro_batches);

}  // namespace symphony
