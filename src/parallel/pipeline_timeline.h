#pragma once
// A discrete-event simulation of one training step of a pipeline: every rank runs the op order of
// pipeline_ops() one op at a time, each op starting as soon as its rank is free and its inputs
// have arrived. Gives the per-rank timeline, the step time and the measured bubble, to compare
// with analytic_bubble() and to draw (monitor/pipeline_trace.h).
//
// Dependencies, for micro-batch i on virtual stage s = chunk * p + rank:
//   forward      after the forward of i on s - 1 has ended, plus p2p_s when s - 1 is on another
//                rank (s = 0: no dependency);
//   backward     (B or combined) after the backward of i on s + 1, plus p2p_s across ranks; on the
//                last virtual stage after the forward of i there;
//   weight (W)   after the B of i on s;
//   head (H)     (the head split) after the forward of i on the last virtual stage, plus p2p_s
//                on the first stage; the last stage's backward of i then also waits for both H
//                passes of i (p2p_s after the first stage's).
// Durations: a chunk's forward takes F / v, its B B / v, its W W / v, and a combined backward
// (B + W) / v, an H head_s, with F, B, W of StageTimes (one micro-batch, all v chunks of a rank). Sends do not
// occupy the rank: p2p_s is latency on the dependency only.

#include <span>
#include <vector>

#include "core/status.h"
#include "parallel/pipeline_schedule.h"

namespace symphony {

struct PipelineEvent {
  PipelineOp op;
  double start_s = 0;
  double end_s = 0;
};

// A measured wait of a rank for a receive (the input of `op`) or for a send to complete before
// its buffer is written again (train/pipeline_step.h). Simulated timelines have none.
struct PipelineWait {
  bool send = false;
  PipelineOp op;
  double start_s = 0;
  double end_s = 0;
};

struct PipelineTimeline {
  PipelineSchedule schedule = PipelineSchedule::k1F1B;
  int stages = 1, micro_batches = 1, virtual_stages = 1;
  bool split_head = false;  // the op orders of pipeline_ops(..., split_head)
  std::vector<std::vector<PipelineEvent>> ranks;  // [rank], in the order the rank runs them
  std::vector<std::vector<PipelineWait>> waits;   // [rank]; empty for a simulation
  double step_s = 0;  // the last op's end; the step starts at 0
  double bubble = 0;  // idle rank time / (ranks * step_s); 0 when step_s is 0
};

// Simulates `schedule` over `stages` ranks. Errors: those of check_pipeline_schedule, and a
// StageTimes field negative or not finite (kInvalidArgument naming the field).
Result<PipelineTimeline> simulate_pipeline(PipelineSchedule schedule, int stages,
                                           int micro_batches, int virtual_stages,
                                           const StageTimes& times, bool split_head = false);

// As simulate_pipeline, with each virtual stage's passes taking their own times:
// chunk_times[chunk * p + rank] holds the F, B and W of one micro-batch through that virtual
// stage alone (not divided by v); p2p_s on every dependency between ranks. Errors: those of
// simulate_pipeline, and chunk_times not holding p * v entries.
Result<PipelineTimeline> simulate_pipeline(PipelineSchedule schedule, int stages,
                                           int micro_batches, int virtual_stages,
                                           std::span<const StageTimes> chunk_times, double p2p_s,
                                           bool split_head = false);

// Replays a measured timeline (train/pipeline_report.h): the same schedule with every pass taking
// the time it took on its rank, and nothing else taking any (no send, receive or gap between
// passes). Its bubble is what the schedule leaves idle for these pass times, unequal stages and
// passes included; the measured bubble above it is the cost of communication and of the runtime.
// Errors (kInvalidArgument): a rank whose passes are not its op order under the timeline's
// schedule, or a pass ending before it starts; those of check_pipeline_schedule.
Result<PipelineTimeline> replay_pipeline(const PipelineTimeline& measured);

}  // namespace symphony
