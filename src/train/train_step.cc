#include "train/train_step.h"

#include "optim/grad_norm.h"
#include "zero/grad_norm.h"
#include "optim/lr_schedule.h"

namespace symphony {

TrainStep::TrainStep(const TrainConfig& train, const OptimConfig& optim, Transformer& model,
                     DataParallel& dp)
    : train_(train), optim_(optim), model_(model), dp_(dp) {
  const int64_t micro_tokens = train.micro_batch_size * train.seq_len;
  const int64_t ranks = dp.comm().size();
  micro_batches_ =
      train.global_batch_tokens > 0 ? train.global_batch_tokens / (micro_tokens * ranks) : 1;
  SYM_CHECK(micro_batches_ >= 1, "global batch of {} tokens for {} ranks of {} tokens",
            train.global_batch_tokens, ranks, micro_tokens);
  inputs_.resize(size_t(micro_tokens));
  targets_.resize(size_t(micro_tokens));
}

Result<StepResult> TrainStep::run(const Exec& ex, int64_t step, const BatchSource& next_batch) {
  const BatchShape shape{train_.micro_batch_size, train_.seq_len};
  const int64_t micro_tokens = shape.rows();
  const int64_t ranks = dp_.comm().size();
  const int64_t global_micro_batches = micro_batches_ * ranks;
  dp_.begin_step();
  model_.reset_moe_stats();
  // Every target of a sampled window is a real next token, so the CE of the step is the mean
  // over all global_micro_batches * micro_tokens positions; gradients are summed over ranks.
  const LossScales scales{1.0 / double(global_micro_batches * micro_tokens),
                          1.0 / double(global_micro_batches)};
  double sums[2] = {0, 0};  // loss sum, target count
  model_.take_tensor_comm();
  for (int64_t m = 0; m < micro_batches_; ++m) {
    next_batch(inputs_, targets_);
    dp_.begin_micro_batch(m + 1 == micro_batches_);
    CrossEntropyResult ce = model_.forward_backward(ex, shape, inputs_, targets_, scales);
    SYM_TRY(model_.comm_status());
    sums[0] += ce.loss_sum;
    sums[1] += double(ce.count);
  }
  SYM_TRY(dp_.end_backward());
  const double exposed_comm_s = dp_.exposed_comm_s();
  const ExchangeTimes tensor_comm = model_.take_tensor_comm();
  ExchangeTimes exchange;
  for (const MoeStats& s : model_.moe_stats()) exchange.add(s.exchange);
  if (ranks > 1) {
    SYM_TRY(dp_.comm().all_reduce(std::span<double>(sums)));
    // Router statistics of the whole global batch: the balance-bias update and the reports see
    // every rank's tokens.
    std::vector<MoeStats>& stats = model_.moe_stats();
    stats_scratch_.clear();
    for (const MoeStats& s : stats) {
      stats_scratch_.insert(stats_scratch_.end(), s.routed.begin(), s.routed.end());
      stats_scratch_.push_back(s.dropped);
      stats_scratch_.push_back(s.tokens);
    }
    SYM_TRY(dp_.comm().all_reduce(std::span(stats_scratch_)));
    std::vector<double> losses;
    for (const MoeStats& s : stats) losses.push_back(s.aux_loss), losses.push_back(s.z_loss);
    SYM_TRY(dp_.comm().all_reduce(std::span(losses)));
    size_t at = 0, li = 0;
    for (MoeStats& s : stats) {
      for (int64_t& c : s.routed) c = stats_scratch_[at++];
      s.dropped = stats_scratch_[at++];
      s.tokens = stats_scratch_[at++];
      s.aux_loss = losses[li++];
      s.z_loss = losses[li++];
    }
  }
  StepResult r;
  SYM_TRY_ASSIGN(r.grad_norm, sharded_grad_norm(dp_));
  r.lr = learning_rate(optim_, step, train_.steps);
  SYM_TRY(dp_.optimizer_step(ex, r.lr, grad_clip_factor(r.grad_norm, optim_.grad_clip)));
  if (model_.config().bias_update_rate > 0)
    model_.update_balance_bias(model_.config().bias_update_rate);
  r.loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
  r.tokens = global_micro_batches * micro_tokens;
  r.exposed_comm_s = exposed_comm_s;
  r.exchange = exchange;
  r.tensor_comm = tensor_comm;
  return r;
}

}  // namespace symphony
