#pragma once
// One optimizer step over a global batch of micro-batches: zero grads -> forward + backward of
// each micro-batch (gradients summed) -> global grad norm and clip factor -> AdamW at the
// scheduled learning rate -> aux-loss-free bias update. Shared by the trainer and the benchmark.

#include <cstdint>
#include <functional>
#include <span>

#include "model/transformer.h"
#include "optim/adamw.h"
#include "train/train_config.h"

namespace symphony {

// Fills one micro-batch of inputs and next-token targets (micro_batch_size * seq_len each).
using BatchSource = std::function<void(std::span<int32_t> inputs, std::span<int32_t> targets)>;

struct StepResult {
  double loss = 0;       // mean cross-entropy over the global batch
  double grad_norm = 0;  // before clipping
  double lr = 0;
  int64_t tokens = 0;    // tokens processed
};

class TrainStep {
 public:
  TrainStep(const TrainConfig& train, const OptimConfig& optim, Transformer& model);

  int64_t micro_batches() const { return micro_batches_; }
  StepResult run(const Exec& ex, int64_t step, const BatchSource& next_batch);
  AdamW& optimizer() { return optimizer_; }

 private:
  TrainConfig train_;
  OptimConfig optim_;
  Transformer& model_;
  AdamW optimizer_;
  int64_t micro_batches_;
  std::vector<int32_t> inputs_, targets_;
};

}  // namespace symphony
