#include "train/pipeline_report.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace symphony {
namespace {

constexpr int kFields = 6;  // activity, kind, micro-batch, chunk, start, end

}  // namespace

Result<PipelineStepReport> report_pipeline_step(const PipelineStep& step, Comm& pp) {
  const std::vector<StageEvent>& events = step.events();
  const int p = pp.size();
  double count = double(events.size());
  SYM_TRY(pp.all_reduce(std::span(&count, 1), ReduceOp::kMax));
  const size_t width = size_t(count) * kFields;
  std::vector<double> mine(width, -1.0), all(width * size_t(p));
  for (size_t i = 0; i < events.size(); ++i) {
    const StageEvent& e = events[i];
    double* f = mine.data() + i * kFields;
    f[0] = double(e.activity), f[1] = double(e.op.kind), f[2] = e.op.micro_batch,
    f[3] = e.op.chunk, f[4] = e.start_s, f[5] = e.end_s;
  }
  SYM_TRY(pp.all_gather(std::span<const double>(mine), std::span<double>(all)));

  PipelineStepReport r;
  PipelineTimeline& tl = r.timeline;
  tl.schedule = step.schedule();
  tl.stages = p;
  tl.micro_batches = step.micro_batches();
  tl.virtual_stages = step.virtual_stages();
  tl.split_head = step.split_head();
  tl.ranks.resize(size_t(p));
  tl.waits.resize(size_t(p));
  double first = std::numeric_limits<double>::infinity(), last = -first;
  for (size_t i = 0; i < all.size(); i += kFields) {
    if (all[i] < 0) continue;  // padding
    first = std::min(first, all[i + 4]);
    last = std::max(last, all[i + 5]);
  }
  if (!(last > first)) return r;
  r.span_s = last - first;
  std::vector<double> busy(size_t(p), 0.0), sums[3];
  for (auto& s : sums) s.assign(size_t(p), 0.0);  // F, B (with H), W time per stage
  for (int rank = 0; rank < p; ++rank) {
    for (size_t i = 0; i < size_t(count); ++i) {
      const double* f = all.data() + (size_t(rank) * size_t(count) + i) * kFields;
      if (f[0] < 0) continue;
      const PipelineOp op{PipelineOpKind(int(f[1])), int(f[2]), int(f[3])};
      const double start = f[4] - first, end = f[5] - first;
      if (StageActivity(int(f[0])) != StageActivity::kPass) {
        tl.waits[size_t(rank)].push_back(
            {StageActivity(int(f[0])) == StageActivity::kSendWait, op, start, end});
        continue;
      }
      tl.ranks[size_t(rank)].push_back({op, start, end});
      busy[size_t(rank)] += end - start;
      const int kind = op.kind == PipelineOpKind::kForward          ? 0
                       : op.kind == PipelineOpKind::kBackwardWeight ? 2
                                                                    : 1;
      sums[kind][size_t(rank)] += end - start;
    }
  }
  tl.step_s = r.span_s;
  double idle = 0, most = 0, total = 0;
  for (double b : busy) idle += r.span_s - b, most = std::max(most, b), total += b;
  r.imbalance = total > 0 ? most / (total / double(p)) - 1 : 0;
  r.bubble = idle / (double(p) * r.span_s);
  tl.bubble = r.bubble;
  const double m = double(step.micro_batches());
  double mean[3] = {0, 0, 0};
  for (int k = 0; k < 3; ++k) {
    for (double s : sums[k]) mean[k] += s;
    mean[k] /= double(p) * m;
  }
  r.times.forward_s = mean[0];
  r.times.backward_input_s = mean[1];
  r.times.backward_weight_s = mean[2];
  r.analytic_bubble = analytic_bubble(step.schedule(), p, step.micro_batches(),
                                      tl.virtual_stages, r.times);
  SYM_TRY_ASSIGN(const PipelineTimeline replay, replay_pipeline(tl));
  r.replayed_bubble = replay.bubble;
  return r;
}

}  // namespace symphony
