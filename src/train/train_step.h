#pragma once
// One optimizer step over a global batch of micro-batches: zero grads -> forward + backward of
// each micro-batch (gradients summed) -> global grad norm and clip factor -> AdamW at the
// scheduled learning rate -> aux-loss-free bias update. Shared by the trainer and the benchmark.
// Under data parallelism (zero/data_parallel.h) each rank runs this on its own micro-batches: the
// global batch is dp * micro_batches() micro-batches (dp x cp ranks, expert-parallel ones
// included), gradients are summed over each parameter's replicas, router statistics over the data
// ranks, and every rank returns the same StepResult (but its own exchange times).

#include <cstdint>
#include <functional>
#include <span>

#include "model/transformer.h"
#include "optim/adamw.h"
#include "optim/optim_config.h"
#include "zero/data_parallel.h"
#include "train/train_config.h"

namespace symphony {

// Fills one micro-batch of inputs and next-token targets (micro_batch_size * seq_len each).
using BatchSource = std::function<void(std::span<int32_t> inputs, std::span<int32_t> targets)>;

struct StepResult {
  double loss = 0;       // mean cross-entropy over the global batch
  double grad_norm = 0;  // before clipping
  double lr = 0;
  int64_t tokens = 0;    // tokens processed by all ranks
  double exposed_comm_s = 0;  // gradient communication not hidden behind backward
  ExchangeTimes exchange;     // expert-parallel all-to-all of this rank, every MoE layer
  ExchangeTimes tensor_comm;  // tensor-parallel collectives of this rank
};

class TrainStep {
 public:
  // REQUIRES: train.global_batch_tokens (when set) is a multiple of dp.comm().size() micro-batches
  // (validated with the config).
  TrainStep(const TrainConfig& train, const OptimConfig& optim, Transformer& model,
            DataParallel& dp);

  // Micro-batches this rank runs per step.
  int64_t micro_batches() const { return micro_batches_; }
  // Failure: a communication error or timeout of the dp group.
  Result<StepResult> run(const Exec& ex, int64_t step, const BatchSource& next_batch);
  AdamW& optimizer() { return dp_.optimizer(); }

 private:
  TrainConfig train_;
  OptimConfig optim_;
  Transformer& model_;
  DataParallel& dp_;
  int64_t micro_batches_;
  std::vector<int64_t> stats_scratch_;  // router statistics packed for one all-reduce
  std::vector<int32_t> inputs_, targets_;
};

}  // namespace symphony
