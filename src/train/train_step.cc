#include "train/train_step.h"

#include "optim/grad_norm.h"
#include "optim/lr_schedule.h"

namespace symphony {

TrainStep::TrainStep(const TrainConfig& train, const OptimConfig& optim, Transformer& model)
    : train_(train), optim_(optim), model_(model), optimizer_(optim, model.params()) {
  const int64_t micro_tokens = train.micro_batch_size * train.seq_len;
  micro_batches_ = train.global_batch_tokens > 0 ? train.global_batch_tokens / micro_tokens : 1;
  inputs_.resize(size_t(micro_tokens));
  targets_.resize(size_t(micro_tokens));
}

StepResult TrainStep::run(const Exec& ex, int64_t step, const BatchSource& next_batch) {
  const BatchShape shape{train_.micro_batch_size, train_.seq_len};
  const int64_t micro_tokens = shape.rows();
  model_.params().zero_grads();
  model_.reset_moe_stats();
  // Every target of a sampled window is a real next token, so the CE of the step is the mean
  // over all micro_batches * micro_tokens positions.
  const LossScales scales{1.0 / double(micro_batches_ * micro_tokens),
                          1.0 / double(micro_batches_)};
  double loss_sum = 0;
  int64_t count = 0;
  for (int64_t m = 0; m < micro_batches_; ++m) {
    next_batch(inputs_, targets_);
    CrossEntropyResult ce = model_.forward_backward(ex, shape, inputs_, targets_, scales);
    loss_sum += ce.loss_sum;
    count += ce.count;
  }
  StepResult r;
  r.grad_norm = grad_norm_local(model_.params().all_grads());
  r.lr = learning_rate(optim_, step, train_.steps);
  optimizer_.step(ex, model_.params(), r.lr, grad_clip_factor(r.grad_norm, optim_.grad_clip));
  if (model_.config().bias_update_rate > 0)
    model_.update_balance_bias(model_.config().bias_update_rate);
  r.loss = count ? loss_sum / double(count) : 0.0;
  r.tokens = micro_batches_ * micro_tokens;
  return r;
}

}  // namespace symphony
