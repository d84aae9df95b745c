#include "train/train_step.h"

#include "optim/grad_norm.h"
#include "zero/grad_norm.h"
#include "optim/lr_schedule.h"

namespace symphony {

int64_t TrainStep::micro_batches_for(const TrainConfig& train, int64_t dp_size) {
  const int64_t micro_tokens = train.micro_batch_size * train.seq_len;
  return train.global_batch_tokens > 0 ? train.global_batch_tokens / (micro_tokens * dp_size) : 1;
}

TrainStep::TrainStep(const TrainConfig& train, const OptimConfig& optim, Transformer& model,
                     DataParallel& dp, PipelineSchedule schedule)
    : train_(train), optim_(optim), model_(model), dp_(dp) {
  const int64_t micro_tokens = train.micro_batch_size * train.seq_len;
  const int64_t ranks = dp.comm().size();
  micro_batches_ = micro_batches_for(train, ranks);
  SYM_CHECK(micro_batches_ >= 1, "global batch of {} tokens for {} ranks of {} tokens",
            train.global_batch_tokens, ranks, micro_tokens);
  inputs_.resize(size_t(micro_tokens));
  targets_.resize(size_t(micro_tokens));
  const PipelineStages& pipe = model.params().placement().pipeline;
  if (pipe.stages > 1) {
    DeviceMesh& mesh = dp.mesh();
    pipeline_ = std::make_unique<PipelineStep>(model, &dp, mesh.group(Axis::kPipeline), schedule,
                                               int(micro_batches_),
                                               BatchShape{train.micro_batch_size, train.seq_len});
    pipe_inputs_.assign(size_t(micro_batches_), std::vector<int32_t>(size_t(micro_tokens)));
    pipe_targets_.assign(size_t(micro_batches_), std::vector<int32_t>(size_t(micro_tokens)));
    if (model.config().tie_word_embeddings || model.config().num_nextn_predict_layers > 0 ||
        pipe.split_head()) {
      // The embedding (stage 0) and its copy (the last stage: the tied LM head, MTP's input), or
      // with the head split and an untied head the LM head (last stage) and its copy (stage 0),
      // of the same position in their stages form a group of two; other ranks split off alone.
      Comm& world = mesh.world();
      const bool ends = pipe.holds_embedding() || pipe.holds_head();
      const int position = mesh.layout().group_rank(
          std::array{Axis::kTensor, Axis::kContext, Axis::kData}, world.rank());
      Result<std::unique_ptr<Comm>> group =
          world.split(ends ? position : world.size() + world.rank(), pipe.stage, "tied_embedding");
      SYM_CHECK(group.has_value(), "splitting the tied-embedding group: {}",
                group.has_value() ? "" : group.error().message());
      if (ends) tied_group_ = std::move(group).value();
    }
  }
}

TrainStep::~TrainStep() = default;

Status TrainStep::sum_over_stages(std::span<double> sums) {
  if (!pipeline_) return Status::ok();
  return dp_.mesh().group(Axis::kPipeline).all_reduce(sums);
}

Result<CrossEntropyResult> TrainStep::accumulate_gradients(const Exec& ex,
                                                           const BatchSource& next_batch) {
  const BatchShape shape{train_.micro_batch_size, train_.seq_len};
  const int64_t micro_tokens = shape.rows();
  const int64_t global_micro_batches = micro_batches_ * dp_.comm().size();
  dp_.begin_step();
  model_.reset_moe_stats();
  model_.reset_mtp_losses();
  // Every target of a sampled window is a real next token, so the CE of the step is the mean
  // over all global_micro_batches * micro_tokens positions; gradients are summed over ranks.
  const LossScales scales{1.0 / double(global_micro_batches * micro_tokens),
                          1.0 / double(global_micro_batches)};
  CrossEntropyResult sums;
  if (pipeline_) {
    for (int64_t m = 0; m < micro_batches_; ++m)
      next_batch(pipe_inputs_[size_t(m)], pipe_targets_[size_t(m)]);
    SYM_TRY_ASSIGN(sums, pipeline_->run(ex, pipe_inputs_, pipe_targets_, scales));
  } else {
    for (int64_t m = 0; m < micro_batches_; ++m) {
      next_batch(inputs_, targets_);
      dp_.begin_micro_batch(m + 1 == micro_batches_);
      CrossEntropyResult ce = model_.forward_backward(ex, shape, inputs_, targets_, scales);
      SYM_TRY(model_.comm_status());
      sums.loss_sum += ce.loss_sum;
      sums.count += ce.count;
    }
  }
  SYM_TRY(dp_.end_backward());
  if (tied_group_) {
    // A tensor and its copy each got part of the gradient: both take the sum.
    const ParamId id = model_.pipeline_end_shared();
    SYM_CHECK(id >= 0, "a pipeline end shares no tensor with the other end");
    SYM_TRY(dp_.sum_owned_grads(model_.params().info(id).unit, *tied_group_));
  }
  return sums;
}

Result<StepResult> TrainStep::run(const Exec& ex, int64_t step, const BatchSource& next_batch) {
  const int64_t micro_tokens = train_.micro_batch_size * train_.seq_len;
  const int64_t ranks = dp_.comm().size();
  const int64_t global_micro_batches = micro_batches_ * ranks;
  model_.take_tensor_comm();
  SYM_TRY_ASSIGN(const CrossEntropyResult ce, accumulate_gradients(ex, next_batch));
  // Loss sum and target count of the main head, then of each MTP depth.
  std::vector<double> sums = {ce.loss_sum, double(ce.count)};
  for (const CrossEntropyResult& m : model_.mtp_losses()) {
    sums.push_back(m.loss_sum);
    sums.push_back(double(m.count));
  }
  const double exposed_comm_s = dp_.exposed_comm_s();
  const ExchangeTimes tensor_comm = model_.take_tensor_comm();
  ExchangeTimes exchange;
  for (const MoeStats& s : model_.moe_stats()) exchange.add(s.exchange);
  SYM_TRY(sum_over_stages(sums));  // the last stage's loss (and the first's, head split)
  if (ranks > 1 || pipeline_) {
    if (ranks > 1) SYM_TRY(dp_.comm().all_reduce(std::span(sums)));
    // Router statistics of the whole global batch: the balance-bias update and the reports see
    // every rank's tokens.
    std::vector<MoeStats>& stats = model_.moe_stats();
    stats_scratch_.clear();
    for (const MoeStats& s : stats) {
      stats_scratch_.insert(stats_scratch_.end(), s.routed.begin(), s.routed.end());
      stats_scratch_.push_back(s.dropped);
      stats_scratch_.push_back(s.tokens);
    }
    // Each stage holds its own layers' statistics (zeros for the others'): summed over stages.
    if (ranks > 1) SYM_TRY(dp_.comm().all_reduce(std::span(stats_scratch_)));
    if (pipeline_) SYM_TRY(dp_.mesh().group(Axis::kPipeline).all_reduce(std::span(stats_scratch_)));
    std::vector<double> losses;
    for (const MoeStats& s : stats)
      losses.insert(losses.end(), {s.aux_loss, s.seq_aux_loss, s.z_loss});
    if (ranks > 1) SYM_TRY(dp_.comm().all_reduce(std::span(losses)));
    SYM_TRY(sum_over_stages(losses));
    size_t at = 0, li = 0;
    for (MoeStats& s : stats) {
      for (int64_t& c : s.routed) c = stats_scratch_[at++];
      s.dropped = stats_scratch_[at++];
      s.tokens = stats_scratch_[at++];
      s.aux_loss = losses[li++];
      s.seq_aux_loss = losses[li++];
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
  for (size_t i = 2; i < sums.size(); i += 2)
    r.mtp_losses.push_back(sums[i + 1] > 0 ? sums[i] / sums[i + 1] : 0.0);
  r.tokens = global_micro_batches * micro_tokens;
  r.exposed_comm_s = exposed_comm_s;
  r.exchange = exchange;
  r.tensor_comm = tensor_comm;
  if (pipeline_) r.pipeline_events = &pipeline_->events();
  return r;
}

}  // namespace symphony
