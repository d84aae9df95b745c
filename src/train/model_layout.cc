#include "train/model_layout.h"

#include "model/pipeline_split.h"
#include "parallel/pipeline_schedule.h"

namespace symphony {

Result<PipelineStages> pipeline_stages_for(const RunConfig& config, int stage,
                                           int64_t micro_batches) {
  const ParallelConfig& pc = config.parallel;
  PipelineStages stages;
  stages.stages = int(pc.pp);
  stages.stage = stage;
  if (pc.pp <= 1) return stages;
  stages.virtual_stages = int(pc.vpp);
  stages.head_share = pc.pp_head_share;
  SYM_TRY(check_pipeline_schedule(pc.pp_schedule, int(pc.pp), int(micro_batches), int(pc.vpp),
                                  stages.split_head()));
  stages.sublayers = pipeline_layer_split(config.model, pc, config.train.seq_len);
  SYM_TRY_ASSIGN(const std::vector<PipelineOp> ops,
                 pipeline_ops(pc.pp_schedule, int(pc.pp), stage, int(micro_batches),
                              int(pc.vpp), stages.split_head()));
  stages.in_flight = pipeline_in_flight(ops);
  stages.deferred = pipeline_deferred_passes(ops);
  // The last stage's H passes defer the head's weight gradient to W too, one pass each.
  if (stages.split_head() && stages.holds_head()) stages.deferred *= 2;
  stages.loss_in_forward =
      stages.holds_head() && pc.tp == 1 && pipeline_loss_in_forward(pc.pp_schedule);
  return stages;
}

Result<ModelParallel> model_parallel_for(const RunConfig& config, DeviceMesh& mesh,
                                         int64_t micro_batches) {
  ModelParallel parallel = ModelParallel::of(mesh, config.parallel.sequence_parallel);
  SYM_TRY_ASSIGN(parallel.placement.pipeline,
                 pipeline_stages_for(config, mesh.rank(Axis::kPipeline), micro_batches));
  return parallel;
}

}  // namespace symphony
