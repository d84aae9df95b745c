#pragma once
// PipelineStep: one training step's passes of this rank's pipeline stage, in the order of a
// schedule (parallel/pipeline_schedule.h), over the model's chunks (model/transformer.h
// forward_chunk / backward_chunk / weight_grads). Activations go forward and gradients back to
// the neighbouring stages by non-blocking send/recv on the pp group: each receive is posted one
// pass ahead, so it arrives while the current pass computes, into a staging buffer (the
// activation slot it is for may still be in use). After posting a send the rank waits a short
// window (2 ms plus 1 ns per byte) for it to complete, then goes on and waits for it again only
// before its buffer is written again, or at the end of the step.
//
// Peers and tags: the pp group's rank r is stage r. Virtual stage s sends its output to s + 1
// (tag 2 (s + 1)) and its input gradient to s - 1 (tag 2 (s - 1) + 1); messages with one tag
// between two ranks travel in micro-batch order, which MPI's ordering keeps.
// The head split (PipelineStages::split_head): after each forward the last stage sends the final
// hidden states of the rows the first stage scores (tag 2 p v) and the first stage's H pass
// sends their input gradient back (tag 2 p v + 1), which the last stage's backward receives.
//
// Timeline: every pass and every wait for a receive or a send is recorded with steady_seconds()
// (parallel/comm.h) times, for the trace and the measured bubble (train/pipeline_report.h).
// Thread-safety: none; the training thread only.

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "model/transformer.h"
#include "parallel/comm.h"
#include "parallel/pipeline_schedule.h"
#include "zero/data_parallel.h"

namespace symphony {

// What a rank did in one interval of a step.
enum class StageActivity : uint8_t { kPass, kRecvWait, kSendWait };

struct StageEvent {
  StageActivity activity = StageActivity::kPass;
  PipelineOp op;          // the pass, or the pass the wait is for
  double start_s = 0, end_s = 0;  // steady_seconds()
};

class PipelineStep {
 public:
  // REQUIRES: the model was built with this rank's pipeline placement, whose in_flight is at
  // least pipeline_in_flight() of the schedule's ops; check_pipeline_schedule() passed;
  // `pp` is the pipeline group (rank = stage). `dp` (may be null) is told which backward is the
  // step's last micro-batch.
  PipelineStep(Transformer& model, DataParallel* dp, Comm& pp, PipelineSchedule schedule,
               int micro_batches, BatchShape shape);

  // Runs the step's passes. tokens, targets: [micro-batch] shape.rows() ids each. Returns the
  // summed loss and target count of the last virtual stage (zeros on other stages); gradients
  // are accumulated into the model. Failure: a communication error (of the pp group or inside
  // the model).
  Result<CrossEntropyResult> run(const Exec& ex, std::span<const std::vector<int32_t>> tokens,
                                 std::span<const std::vector<int32_t>> targets,
                                 const LossScales& scales);
  // Forward only of one micro-batch through every stage (evaluation); the loss of the last
  // virtual stage, zeros on other stages.
  Result<CrossEntropyResult> evaluate(const Exec& ex, std::span<const int32_t> tokens,
                                      std::span<const int32_t> targets);

  const std::vector<PipelineOp>& ops() const { return ops_; }
  // The last run()'s passes and waits, in order.
  const std::vector<StageEvent>& events() const { return events_; }
  PipelineSchedule schedule() const { return schedule_; }
  bool split_head() const { return model_.params().placement().pipeline.split_head(); }
  Comm& group() { return pp_; }
  int micro_batches() const { return micro_batches_; }
  int virtual_stages() const { return model_.params().placement().pipeline.virtual_stages; }

 private:
  struct Pending {
    CommHandle handle;
    int buffer = -1;
  };
  int stage() const { return pp_.rank(); }
  int stages() const { return pp_.size(); }
  int slot(int micro_batch) const { return micro_batch % model_.slots(); }
  int key(const PipelineOp& op) const { return op.chunk * micro_batches_ + op.micro_batch; }
  // The weight-gradient pass of the last stage's H pass (after every key()).
  int head_key(const PipelineOp& op) const {
    return virtual_stages() * micro_batches_ + op.micro_batch;
  }
  // Whether op i needs a receive before it runs, and posts it.
  bool needs_recv(const PipelineOp& op) const;
  void post_recv(size_t i);
  Status wait_recv(size_t i, Pending& pending);
  // Waits a short window for a send just posted (see pipeline_step.cc).
  void push(const CommHandle& handle, const PipelineOp& op, int64_t count);

  Transformer& model_;
  DataParallel* dp_;
  Comm& pp_;
  PipelineSchedule schedule_;
  int micro_batches_;
  BatchShape shape_;
  std::vector<PipelineOp> ops_;
  std::vector<Pending> recvs_;        // [op index]
  std::vector<Buffer> act_staging_;   // 2: received activations
  std::vector<Buffer> grad_staging_;  // 2: received output gradients
  int next_act_ = 0, next_grad_ = 0;
  std::vector<Buffer> dx_send_;       // 2: input gradients being sent
  std::vector<CommHandle> dx_handle_;  // [2]
  int next_dx_ = 0;
  std::vector<CommHandle> out_handle_;  // [chunk * slots + slot] output sends
  // The head split: the rows the first stage scores, k of a micro-batch's.
  int64_t head_rows_ = 0;
  std::vector<Buffer> head_staging_;      // 2: received hidden states (first stage) or their
                                          // input gradients (last stage)
  int next_head_ = 0;
  std::vector<Buffer> head_dh_send_;      // 2: input gradients being sent (first stage)
  std::vector<CommHandle> head_dh_handle_;  // [2]
  int next_head_dh_ = 0;
  std::vector<CommHandle> head_out_handle_;  // [slot] hidden states being sent (last stage)
  std::vector<StageEvent> events_;
};

}  // namespace symphony
