#include "train/evaluator.h"

#include <cmath>
#include <span>

#include "core/check.h"

namespace symphony {

Evaluator::Evaluator(BatchShape shape, int64_t batches)
    : shape_(shape),
      batches_(batches),
      inputs_(size_t(shape.rows())),
      targets_(size_t(shape.rows())) {
  SYM_CHECK(batches >= 1, "an evaluation of {} batches", batches);
}

Result<EvalLoss> Evaluator::run(const Exec& ex, Transformer& model, EvalSampler& sampler,
                                const EvalGroup& group) {
  const int64_t ranks = group.comm != nullptr ? group.comm->size() : 1;
  const int64_t rank = group.comm != nullptr ? group.comm->rank() : 0;
  sampler.reset();
  double sums[2] = {0, 0};  // loss sum, target count
  // Every rank draws every batch from its own sampler, so batch b is the same wherever it runs.
  const int64_t rounds = (batches_ + ranks - 1) / ranks;
  for (int64_t round = 0; round < rounds; ++round) {
    for (int64_t r = 0; r < ranks; ++r) {
      const int64_t b = round * ranks + r;
      if (b < batches_) sampler.next(inputs_, targets_);
      if (r != rank) continue;
      if (b >= batches_ && group.lockstep == EvalLockstep::kOwnBatches) continue;
      CrossEntropyResult ce;
      if (group.pipeline != nullptr) {
        SYM_TRY_ASSIGN(ce, group.pipeline->evaluate(ex, inputs_, targets_));
      } else {
        ce = model.evaluate(ex, shape_, inputs_, targets_);
      }
      if (group.hook_status != nullptr) SYM_TRY(*group.hook_status);
      SYM_TRY(model.comm_status());
      if (b < batches_) sums[0] += ce.loss_sum, sums[1] += double(ce.count);
    }
  }
  if (group.comm != nullptr) SYM_TRY(group.comm->all_reduce(std::span<double>(sums)));
  if (group.pipeline != nullptr) SYM_TRY(group.pipeline->group().all_reduce(std::span<double>(sums)));
  EvalLoss result;
  result.loss = sums[1] > 0 ? sums[0] / sums[1] : std::nan("");
  result.tokens = int64_t(sums[1]);
  result.batches = batches_;
  return result;
}

}  // namespace symphony
