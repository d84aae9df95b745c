#include "train/pipeline_step.h"

#include <algorithm>

#include "core/check.h"

namespace symphony {
namespace {

constexpr int kActivationTag = 0, kGradientTag = 1;
int tag(int virtual_stage, int kind) { return 2 * virtual_stage + kind; }
// The head split's messages: after every virtual stage's.
int head_tag(const PipelineStages& pipe, int kind) { return tag(pipe.num_virtual(), kind); }

}  // namespace

PipelineStep::PipelineStep(Transformer& model, DataParallel* dp, Comm& pp,
                           PipelineSchedule schedule, int micro_batches, BatchShape shape)
    : model_(model), dp_(dp), pp_(pp), schedule_(schedule), micro_batches_(micro_batches),
      shape_(shape) {
  const PipelineStages& pipe = model.params().placement().pipeline;
  SYM_CHECK(pipe.stages == pp.size() && pipe.stage == pp.rank(),
            "pipeline stage {} of {} but the pp group's rank {} of {}", pipe.stage, pipe.stages,
            pp.rank(), pp.size());
  Result<std::vector<PipelineOp>> ops = pipeline_ops(
      schedule, pipe.stages, pipe.stage, micro_batches, pipe.virtual_stages, pipe.split_head());
  SYM_CHECK(ops.has_value(), "pipeline schedule: {}", ops.has_value() ? "" : ops.error().message());
  ops_ = std::move(ops).value();
  SYM_CHECK(pipeline_in_flight(ops_) <= model.slots(),
            "the schedule keeps {} micro-batches in flight; the model has {} activation slots",
            pipeline_in_flight(ops_), model.slots());
  recvs_.resize(ops_.size());
  const int64_t rows = model.params().placement().size[int(Axis::kTensor)] > 1
                           ? model.chunk_input(0, 0, shape.rows()).dim(0)
                           : shape.rows();
  const Shape rows_by_d{rows, model.config().hidden_size};
  for (int i = 0; i < 2; ++i) {
    act_staging_.emplace_back(DType::kF32, rows_by_d, MemoryCategory::kActivations);
    grad_staging_.emplace_back(DType::kF32, rows_by_d, MemoryCategory::kActivations);
    dx_send_.emplace_back(DType::kF32, rows_by_d, MemoryCategory::kActivations);
  }
  dx_handle_.resize(2);
  out_handle_.resize(size_t(model.chunks() * model.slots()));
  head_rows_ = pipe.remote_head_rows(shape.rows());
  if (pipe.split_head() && (pipe.holds_embedding() || pipe.holds_head())) {
    const Shape head_by_d{std::max<int64_t>(head_rows_, 1), model.config().hidden_size};
    for (int i = 0; i < 2; ++i) {
      head_staging_.emplace_back(DType::kF32, head_by_d, MemoryCategory::kActivations);
      if (pipe.holds_embedding())
        head_dh_send_.emplace_back(DType::kF32, head_by_d, MemoryCategory::kActivations);
    }
    head_dh_handle_.resize(2);
    head_out_handle_.resize(size_t(model.slots()));
  }
}

bool PipelineStep::needs_recv(const PipelineOp& op) const {
  const PipelineStages& pipe = model_.params().placement().pipeline;
  if (op.kind == PipelineOpKind::kForward) return !pipe.is_first(op.chunk);
  if (op.kind == PipelineOpKind::kBackwardWeight) return false;
  // The head split: the first stage's H receives hidden states, the last stage's backward the
  // input gradient of those rows.
  if (op.kind == PipelineOpKind::kHead) return !pipe.holds_head();
  return !pipe.is_last(op.chunk) || pipe.split_head();
}

void PipelineStep::post_recv(size_t i) {
  const PipelineOp& op = ops_[i];
  Pending& p = recvs_[i];
  if (p.buffer >= 0 || !needs_recv(op)) return;
  const PipelineStages& pipe = model_.params().placement().pipeline;
  const int vs = pipe.virtual_stage(op.chunk);
  if (op.kind == PipelineOpKind::kHead || (op.kind != PipelineOpKind::kForward &&
                                           pipe.is_last(op.chunk))) {
    p.buffer = next_head_;
    next_head_ ^= 1;
    Buffer& b = head_staging_[size_t(p.buffer)];
    const bool hidden = op.kind == PipelineOpKind::kHead;
    p.handle = pp_.recv_async(b.f32(), head_rows_ * model_.config().hidden_size, CommDType::kF32,
                              hidden ? stages() - 1 : 0,
                              head_tag(pipe, hidden ? kActivationTag : kGradientTag));
  } else if (op.kind == PipelineOpKind::kForward) {
    p.buffer = next_act_;
    next_act_ ^= 1;
    Buffer& b = act_staging_[size_t(p.buffer)];
    p.handle = pp_.recv_async(b.f32(), b.numel(), CommDType::kF32,
                              (stage() + stages() - 1) % stages(), tag(vs, kActivationTag));
  } else {
    p.buffer = next_grad_;
    next_grad_ ^= 1;
    Buffer& b = grad_staging_[size_t(p.buffer)];
    p.handle = pp_.recv_async(b.f32(), b.numel(), CommDType::kF32, (stage() + 1) % stages(),
                              tag(vs, kGradientTag));
  }
}

Status PipelineStep::wait_recv(size_t i, Pending& pending) {
  const double start = steady_seconds();
  Status s = pending.handle.wait();
  events_.push_back({StageActivity::kRecvWait, ops_[i], start, steady_seconds()});
  return s;
}

// A transfer needs both ranks' progress threads (parallel/comm_mpi.cc). The receiver is usually
// idle by then, waiting on the receive it posted; the sender is about to compute its next pass,
// and where a host has fewer cores than threads its progress thread then gets the core only
// between scheduler time slices, one message fragment at a time: a 4 MiB activation took 0.15 s
// on 2 busy cores against 0.3 ms idle. Staying off the core for a short window right after
// posting lets the message go out at once; a receiver that is not ready costs at most the window.
void PipelineStep::push(const CommHandle& handle, const PipelineOp& op, int64_t count) {
  const double start = steady_seconds();
  handle.wait_for(2e-3 + double(count) * 4e-9);
  events_.push_back({StageActivity::kSendWait, op, start, steady_seconds()});
}

Result<CrossEntropyResult> PipelineStep::run(const Exec& ex,
                                             std::span<const std::vector<int32_t>> tokens,
                                             std::span<const std::vector<int32_t>> targets,
                                             const LossScales& scales) {
  SYM_CHECK(int(tokens.size()) == micro_batches_ && int(targets.size()) == micro_batches_,
            "{} token and {} target micro-batches for {}", tokens.size(), targets.size(),
            micro_batches_);
  const PipelineStages& pipe = model_.params().placement().pipeline;
  const int64_t n = shape_.rows();
  events_.clear();
  for (Pending& p : recvs_) p = Pending{};
  CrossEntropyResult total;
  auto wait_send = [&](CommHandle& h, const PipelineOp& op) -> Status {
    if (h.done()) return h.wait();
    const double start = steady_seconds();
    Status s = h.wait();
    events_.push_back({StageActivity::kSendWait, op, start, steady_seconds()});
    return s;
  };
  for (size_t i = 0; i < ops_.size(); ++i) {
    const PipelineOp& op = ops_[i];
    post_recv(i);
    if (i + 1 < ops_.size()) post_recv(i + 1);
    Pending& in = recvs_[i];
    if (in.buffer >= 0) SYM_TRY(wait_recv(i, in));
    const int s = slot(op.micro_batch), c = op.chunk, vs = pipe.virtual_stage(c);
    const auto mb = size_t(op.micro_batch);
    CommHandle& out = out_handle_[size_t(c * model_.slots() + s)];
    switch (op.kind) {
      case PipelineOpKind::kForward: {
        // The slot's previous output must have left before the slot is written again.
        SYM_TRY(wait_send(out, op));
        const bool sends_head = split_head() && pipe.is_last(c);
        if (sends_head) SYM_TRY(wait_send(head_out_handle_[size_t(s)], op));
        const double start = steady_seconds();
        if (in.buffer >= 0) {
          View input = model_.chunk_input(c, s, n);
          std::copy_n(act_staging_[size_t(in.buffer)].f32(), input.numel(), input.f32());
        }
        const CrossEntropyResult ce =
            model_.forward_chunk(ex, shape_, c, s, tokens[mb], targets[mb], scales, true);
        SYM_TRY(model_.comm_status());
        events_.push_back({StageActivity::kPass, op, start, steady_seconds()});
        total.loss_sum += ce.loss_sum;
        total.count += ce.count;
        if (!pipe.is_last(c)) {
          ConstView y = model_.chunk_output(c, s, n);
          out = pp_.send_async(y.f32(), y.numel(), CommDType::kF32, (stage() + 1) % stages(),
                               tag(vs + 1, kActivationTag));
          push(out, op, y.numel());
        }
        if (sends_head) {
          ConstView h = model_.remote_head_input(s, n);
          CommHandle& hs = head_out_handle_[size_t(s)];
          hs = pp_.send_async(h.f32(), h.numel(), CommDType::kF32, 0,
                              head_tag(pipe, kActivationTag));
          push(hs, op, h.numel());
        }
        break;
      }
      case PipelineOpKind::kHead: {
        if (pipe.holds_head()) {
          // The head's block is used by H alone here: this is the micro-batch's last use of it.
          if (dp_) dp_->begin_micro_batch(op.micro_batch + 1 == micro_batches_);
          const double start = steady_seconds();
          const CrossEntropyResult ce =
              model_.head_pass(ex, shape_, s, targets[mb], scales, ConstView(), View(),
                               WeightGrads::kDeferred, head_key(op));
          SYM_TRY(model_.comm_status());
          events_.push_back({StageActivity::kPass, op, start, steady_seconds()});
          total.loss_sum += ce.loss_sum;
          total.count += ce.count;
          break;
        }
        // The first stage: the hidden states received, their input gradient sent back. Its
        // weight gradient is added at once: to the tied embedding's, whose own backward is the
        // micro-batch's last use of it, or to the untied head's copy, used here only.
        const int buffer = next_head_dh_;
        next_head_dh_ ^= 1;
        SYM_TRY(wait_send(head_dh_handle_[size_t(buffer)], op));
        if (dp_)
          dp_->begin_micro_batch(!model_.config().tie_word_embeddings &&
                                 op.micro_batch + 1 == micro_batches_);
        const double start = steady_seconds();
        const Shape rows_by_d{head_rows_, model_.config().hidden_size};
        ConstView h = head_staging_[size_t(in.buffer)].view().reshape(rows_by_d);
        View dh = head_dh_send_[size_t(buffer)].view().reshape(rows_by_d);
        const CrossEntropyResult ce = model_.head_pass(ex, shape_, s, targets[mb], scales, h, dh,
                                                       WeightGrads::kNow, head_key(op));
        SYM_TRY(model_.comm_status());
        events_.push_back({StageActivity::kPass, op, start, steady_seconds()});
        total.loss_sum += ce.loss_sum;
        total.count += ce.count;
        head_dh_handle_[size_t(buffer)] = pp_.send_async(
            dh.f32(), dh.numel(), CommDType::kF32, stages() - 1, head_tag(pipe, kGradientTag));
        push(head_dh_handle_[size_t(buffer)], op, dh.numel());
        break;
      }
      case PipelineOpKind::kBackward:
      case PipelineOpKind::kBackwardInput: {
        const bool sends = !pipe.is_first(c);
        const int dx_buffer = next_dx_;
        if (sends) {
          next_dx_ ^= 1;
          SYM_TRY(wait_send(dx_handle_[size_t(dx_buffer)], op));
        }
        if (dp_) dp_->begin_micro_batch(op.micro_batch + 1 == micro_batches_);
        const double start = steady_seconds();
        const bool head_grad = split_head() && pipe.is_last(c);
        if (head_grad) {
          View rows = model_.remote_head_grad(n);
          std::copy_n(head_staging_[size_t(in.buffer)].f32(), rows.numel(), rows.f32());
        }
        ConstView dy = in.buffer >= 0 && !head_grad ? grad_staging_[size_t(in.buffer)].view()
                                                    : ConstView();
        View dx = sends ? dx_send_[size_t(dx_buffer)].view() : View();
        const WeightGrads w = op.kind == PipelineOpKind::kBackward ? WeightGrads::kNow
                                                                    : WeightGrads::kDeferred;
        CrossEntropyResult ce = model_.backward_chunk(ex, shape_, c, s, tokens[mb], targets[mb],
                                                      dy, scales, dx, w, key(op));
        SYM_TRY(model_.comm_status());
        events_.push_back({StageActivity::kPass, op, start, steady_seconds()});
        total.loss_sum += ce.loss_sum;
        total.count += ce.count;
        if (sends) {
          dx_handle_[size_t(dx_buffer)] =
              pp_.send_async(dx.f32(), dx.numel(), CommDType::kF32,
                             (stage() + stages() - 1) % stages(), tag(vs - 1, kGradientTag));
          push(dx_handle_[size_t(dx_buffer)], op, dx.numel());
        }
        break;
      }
      case PipelineOpKind::kBackwardWeight: {
        if (dp_) dp_->begin_micro_batch(op.micro_batch + 1 == micro_batches_);
        const double start = steady_seconds();
        // The last stage's H pass deferred the head's weight gradient: it runs first, as in an
        // undivided backward.
        if (split_head() && pipe.holds_head() &&
            model_.weight_grad_queue().pending(head_key(op)))
          model_.weight_grads(ex, head_key(op));
        model_.weight_grads(ex, key(op));
        SYM_TRY(model_.comm_status());
        events_.push_back({StageActivity::kPass, op, start, steady_seconds()});
        break;
      }
    }
  }
  // Sends still in flight: their buffers are reused next step.
  for (CommHandle& h : out_handle_) SYM_TRY(wait_send(h, ops_.back()));
  for (CommHandle& h : dx_handle_) SYM_TRY(wait_send(h, ops_.back()));
  for (CommHandle& h : head_out_handle_) SYM_TRY(wait_send(h, ops_.back()));
  for (CommHandle& h : head_dh_handle_) SYM_TRY(wait_send(h, ops_.back()));
  return total;
}

Result<CrossEntropyResult> PipelineStep::evaluate(const Exec& ex, std::span<const int32_t> tokens,
                                                  std::span<const int32_t> targets) {
  const PipelineStages& pipe = model_.params().placement().pipeline;
  const int64_t n = shape_.rows();
  CrossEntropyResult ce;
  for (int c = 0; c < pipe.chunks(); ++c) {
    const int vs = pipe.virtual_stage(c);
    if (!pipe.is_first(c)) {
      View input = model_.chunk_input(c, 0, n);
      SYM_TRY(pp_.recv(input.f32(), input.numel(), CommDType::kF32,
                       (stage() + stages() - 1) % stages(), tag(vs, kActivationTag)));
    }
    model_.forward_chunk(ex, shape_, c, 0, tokens, targets, LossScales{}, false);
    SYM_TRY(model_.comm_status());
    if (pipe.is_last(c)) {
      ce = model_.chunk_loss(ex, shape_, 0, targets);
      SYM_TRY(model_.comm_status());
    } else {
      ConstView y = model_.chunk_output(c, 0, n);
      SYM_TRY(pp_.send_async(y.f32(), y.numel(), CommDType::kF32, (stage() + 1) % stages(),
                             tag(vs + 1, kActivationTag))
                  .wait());
    }
  }
  return ce;
}

}  // namespace symphony
