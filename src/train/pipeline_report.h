#pragma once
// What one training step of a pipeline did, over all its stages (train/pipeline_step.h): the
// timeline of every stage's passes and waits, the measured bubble, and the analytic bubble of the
// schedule (parallel/pipeline_schedule.h) for the pass times measured in the same step.
//
// Measured bubble: the step's span T runs from the first pass start to the last pass or wait end
// over all stages (one clock: steady_seconds() of ranks on one host; across hosts the clocks'
// offsets enter the span); a stage is busy while it runs a pass, idle otherwise (waiting for a
// receive or a send, or between passes), and bubble = sum over stages of idle time / (p T).
// Analytic: analytic_bubble(schedule, p, m, v, times) with `times` the mean over stages of the
// forward, backward (B) and weight (W) pass time per micro-batch; send time is not charged
// (it shows up as measured idle time). With unbalanced stages the measured bubble also holds the
// imbalance, which the analytic one (equal stages) does not; `imbalance` reports it.
// Replayed (parallel/pipeline_timeline.h replay_pipeline): the schedule run again with every pass
// taking the time it took and nothing else taking any. analytic -> replayed is the cost of
// unequal stages and passes; replayed -> measured that of sends, receives and the runtime.

#include "core/status.h"
#include "parallel/comm.h"
#include "parallel/pipeline_timeline.h"
#include "train/pipeline_step.h"

namespace symphony {

struct PipelineStepReport {
  PipelineTimeline timeline;  // [stage]; times in seconds from the step's first pass start
  double bubble = 0;
  double analytic_bubble = 0;
  double replayed_bubble = 0;
  StageTimes times;           // mean over stages, per micro-batch (all of a stage's chunks)
  double span_s = 0;
  // The busiest stage's pass time over the mean stage's, minus 1: the share of the bubble that
  // unequal stages cause (0 for a balanced split).
  double imbalance = 0;
};

// Gathers the last step's events of every stage (a collective over `pp`, the runner's group);
// every stage returns the same report. Failure: a communication error.
Result<PipelineStepReport> report_pipeline_step(const PipelineStep& step, Comm& pp);

}  // namespace symphony
