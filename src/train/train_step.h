#pragma once
// One optimizer step over a global batch of micro-batches: zero grads -> forward + backward of
// each micro-batch (gradients summed) -> global grad norm and clip factor -> AdamW at the
// scheduled learning rate -> aux-loss-free bias update. Shared by the trainer and the benchmark.
// Under data parallelism (zero/data_parallel.h) each rank runs this on its own micro-batches: the
// global batch is dp * micro_batches() micro-batches (dp x cp ranks, expert-parallel ones
// included), gradients are summed over each parameter's replicas, router statistics over the data
// ranks, and every rank returns the same StepResult (but its own exchange times).
// Under pipeline parallelism (the model built with its stage's layers, train/model_layout.h) the
// micro-batches run through the stages in the order of the schedule (train/pipeline_step.h);
// every stage reads the same micro-batches (the first uses the tokens, the last the targets);
// the loss, router statistics and gradient norm are summed over the stages, and the embedding's
// gradient over the first and last stage when the last holds a copy (tied LM head, MTP).

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "model/transformer.h"
#include "optim/adamw.h"
#include "optim/optim_config.h"
#include "zero/data_parallel.h"
#include "train/pipeline_step.h"
#include "train/train_config.h"

namespace symphony {

// Fills one micro-batch of inputs and next-token targets (micro_batch_size * seq_len each).
using BatchSource = std::function<void(std::span<int32_t> inputs, std::span<int32_t> targets)>;

struct StepResult {
  double loss = 0;       // mean cross-entropy of the main LM head over the global batch
  // Multi-token prediction: [depth - 1] mean cross-entropy of depth k over the positions with a
  // target k + 1 ahead (empty without MTP). The objective trained is
  // loss + model.mtp_loss_weight * mean(mtp_losses) (+ the router losses).
  std::vector<double> mtp_losses;
  double grad_norm = 0;  // before clipping
  double lr = 0;
  int64_t tokens = 0;    // tokens processed by all ranks
  double exposed_comm_s = 0;  // gradient communication not hidden behind backward
  // Pipeline parallel: the step's passes and waits on this rank (train/pipeline_step.h).
  const std::vector<StageEvent>* pipeline_events = nullptr;
  ExchangeTimes exchange;     // expert-parallel all-to-all of this rank, every MoE layer
  ExchangeTimes tensor_comm;  // tensor-parallel collectives of this rank
};

class TrainStep {
 public:
  // REQUIRES: train.global_batch_tokens (when set) is a multiple of dp.comm().size() micro-batches
  // (validated with the config).
  TrainStep(const TrainConfig& train, const OptimConfig& optim, Transformer& model,
            DataParallel& dp, PipelineSchedule schedule = PipelineSchedule::k1F1B);
  ~TrainStep();

  // Micro-batches a data-parallel rank runs per step, for dp_size replicas: those of
  // train.global_batch_tokens, or 1 when it is 0.
  static int64_t micro_batches_for(const TrainConfig& train, int64_t dp_size);
  // Micro-batches this rank runs per step.
  int64_t micro_batches() const { return micro_batches_; }
  // The pipeline runner, or null without pipeline parallelism.
  PipelineStep* pipeline() { return pipeline_.get(); }
  // Failure: a communication error or timeout of the dp group.
  Result<StepResult> run(const Exec& ex, int64_t step, const BatchSource& next_batch);
  // The first part of run(): every micro-batch's forward and backward, the gradients reduced
  // over their replicas (and the tied embedding's over its stages); no optimizer step. The loss
  // sum and target count of this rank's micro-batches (zeros on stages without the loss).
  Result<CrossEntropyResult> accumulate_gradients(const Exec& ex, const BatchSource& next_batch);
  AdamW& optimizer() { return dp_.optimizer(); }

 private:
  TrainConfig train_;
  OptimConfig optim_;
  Transformer& model_;
  DataParallel& dp_;
  int64_t micro_batches_;
  std::vector<int64_t> stats_scratch_;  // router statistics packed for one all-reduce
  std::vector<int32_t> inputs_, targets_;
  std::unique_ptr<PipelineStep> pipeline_;
  std::vector<std::vector<int32_t>> pipe_inputs_, pipe_targets_;  // [micro-batch]
  std::unique_ptr<Comm> tied_group_;  // first and last stage of the embedding and its copy, or null
  Status sum_over_stages(std::span<double> sums);
};

}  // namespace symphony
