#pragma once
// Evaluation loss: the mean next-token cross-entropy of a model over the first batches of an
// EvalSampler (data/eval_sampler.h). The trainer's periodic evaluation and `symphony eval`
// (train/evaluate_model.h) both run it, so the same model, data, seq_len, batch size and number of
// batches give the same number.

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "data/eval_sampler.h"
#include "model/transformer.h"
#include "parallel/comm.h"
#include "train/pipeline_step.h"
#include "tensor/exec.h"

namespace symphony {

struct EvalLoss {
  double loss = 0;      // mean cross-entropy in nats per target token; NaN when none was scored
  int64_t tokens = 0;   // target tokens scored, over all ranks of the group
  int64_t batches = 0;  // batches scored, over all ranks of the group
};

enum class EvalLockstep : uint8_t {
  kOwnBatches,  // a rank runs forward on its own batches only
  // Every rank runs forward in every round, because forward runs collectives (ZeRO-3 gathers
  // weights): a rank without a batch in the last round runs one and discards its loss.
  kEveryRound,
};

// The ranks sharing one evaluation: batch b runs on rank b % comm->size(), and the loss sums are
// all-reduced over the group, so every rank returns the same EvalLoss.
struct EvalGroup {
  Comm* comm = nullptr;  // nullptr: this process scores every batch
  EvalLockstep lockstep = EvalLockstep::kOwnBatches;
  // Checked after every forward, for errors the model's unit hooks recorded (zero/data_parallel.h
  // DataParallel::hook_status); nullptr for none.
  const Status* hook_status = nullptr;
  // Pipeline parallel: each batch runs forward through every stage (train/pipeline_step.h) and
  // the loss, which the last stage computes, is summed over the stages. nullptr for none.
  PipelineStep* pipeline = nullptr;
};

// Scores `batches` micro-batches of `shape`. Thread-safety: none.
class Evaluator {
 public:
  // Allocates one micro-batch of inputs and targets. REQUIRES: batches >= 1.
  Evaluator(BatchShape shape, int64_t batches);

  // Resets `sampler` to its first window and scores the first batches() batches with
  // model.evaluate(), summing losses in double in batch order. Failure: a collective of the group
  // or the hooks failed. REQUIRES: the sampler's seq_len and micro-batch size are shape's, and
  // shape fits the model's max_shape().
  Result<EvalLoss> run(const Exec& ex, Transformer& model, EvalSampler& sampler,
                       const EvalGroup& group);

  BatchShape shape() const { return shape_; }
  int64_t batches() const { return batches_; }

 private:
  BatchShape shape_;
  int64_t batches_;
  std::vector<int32_t> inputs_, targets_;  // [batch * seq_len]
};

}  // namespace symphony
