#include "parallel/pipeline_timeline.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "core/check.h"

namespace symphony {
namespace {

Status check_times(const StageTimes& t) {
  for (auto [name, value] : {std::pair{"forward_s", t.forward_s},
                             {"backward_input_s", t.backward_input_s},
                             {"backward_weight_s", t.backward_weight_s},
                             {"p2p_s", t.p2p_s},
                             {"head_s", t.head_s}})
    if (!std::isfinite(value) || value < 0)
      return Error::invalid("pipeline stage time {} = {} must be finite and non-negative", name,
                            value);
  return Status::ok();
}

// End times of the passes already simulated, by virtual stage and micro-batch; nullopt until run.
class PassEnds {
 public:
  PassEnds(int virtual_stages, int micro_batches)
      : micro_batches_(micro_batches),
        ends_(size_t(virtual_stages) * size_t(micro_batches)) {}
  std::optional<double>& at(int virtual_stage, int micro_batch) {
    return ends_[size_t(virtual_stage) * size_t(micro_batches_) + size_t(micro_batch)];
  }

 private:
  int micro_batches_;
  std::vector<std::optional<double>> ends_;  // [virtual_stage * m + micro_batch]
};


// Runs every rank's op order `ops` with `duration(rank, index in its order)` per op and p2p_s on
// every dependency between ranks.
template <typename Duration>
PipelineTimeline run_orders(PipelineSchedule schedule, int p, int micro_batches, int v,
                            bool split_head, const std::vector<std::vector<PipelineOp>>& ops,
                            double p2p_s, Duration duration) {
  const int last = p * v - 1;
  // A dependency on virtual stage `from` reaching a pass on rank `to_rank`: its end, plus a send
  // when the two are on different ranks.
  auto arrival = [&](const std::optional<double>& end, int from, int to_rank) {
    return *end + (from % p != to_rank ? p2p_s : 0.0);
  };

  PassEnds forward_end(p * v, micro_batches), backward_end(p * v, micro_batches);
  PassEnds head_end(p, micro_batches);  // [rank]
  PipelineTimeline tl;
  tl.schedule = schedule;
  tl.split_head = split_head;
  tl.stages = p;
  tl.micro_batches = micro_batches;
  tl.virtual_stages = v;
  tl.ranks.resize(size_t(p));
  std::vector<size_t> next(size_t(p), 0);
  std::vector<double> free_at(size_t(p), 0.0);
  // Each sweep runs every op whose inputs are ready; op orders are fixed, so the start times do
  // not depend on the order in which ranks are visited.
  for (bool progress = true; progress;) {
    progress = false;
    for (int r = 0; r < p; ++r) {
      const std::vector<PipelineOp>& order = ops[size_t(r)];
      for (size_t& k = next[size_t(r)]; k < order.size(); ++k) {
        const PipelineOp& op = order[k];
        const int s = op.chunk * p + r, i = op.micro_batch;
        double ready = 0;
        if (op.kind == PipelineOpKind::kForward) {
          if (s > 0) {
            const std::optional<double>& prev = forward_end.at(s - 1, i);
            if (!prev) break;
            ready = arrival(prev, s - 1, r);
          }
        } else if (op.kind == PipelineOpKind::kBackwardWeight) {
          const std::optional<double>& b = backward_end.at(s, i);
          if (!b) break;
          ready = *b;
        } else if (op.kind == PipelineOpKind::kHead) {
          const std::optional<double>& f = forward_end.at(last, i);
          if (!f) break;
          ready = arrival(f, last, r);
        } else {
          const std::optional<double>& f = forward_end.at(s, i);
          if (!f) break;
          ready = *f;
          if (s < last) {
            const std::optional<double>& after = backward_end.at(s + 1, i);
            if (!after) break;
            ready = std::max(ready, arrival(after, s + 1, r));
          } else if (split_head) {
            const std::optional<double>& own = head_end.at(r, i);
            const std::optional<double>& first = head_end.at(0, i);
            if (!own || !first) break;
            ready = std::max({ready, *own, *first + (r != 0 ? p2p_s : 0.0)});
          }
        }
        const double start = std::max(free_at[size_t(r)], ready);
        const double end = start + duration(r, k);
        free_at[size_t(r)] = end;
        if (op.kind == PipelineOpKind::kForward) forward_end.at(s, i) = end;
        if (op.kind == PipelineOpKind::kHead) head_end.at(r, i) = end;
        if (op.kind == PipelineOpKind::kBackward || op.kind == PipelineOpKind::kBackwardInput)
          backward_end.at(s, i) = end;
        tl.ranks[size_t(r)].push_back({op, start, end});
        progress = true;
      }
    }
  }
  double busy = 0;
  for (int r = 0; r < p; ++r) {
    SYM_CHECK(next[size_t(r)] == ops[size_t(r)].size(),
              "{} pipeline with pp={} m={} vpp={}: rank {} waits forever at op {}",
              pipeline_schedule_name(schedule), p, micro_batches, v, r, next[size_t(r)]);
    for (const PipelineEvent& e : tl.ranks[size_t(r)]) busy += e.end_s - e.start_s;
    tl.step_s = std::max(tl.step_s, free_at[size_t(r)]);
  }
  if (tl.step_s > 0) tl.bubble = 1.0 - busy / (double(p) * tl.step_s);
  return tl;
}

Result<std::vector<std::vector<PipelineOp>>> all_orders(PipelineSchedule schedule, int p,
                                                        int micro_batches, int v,
                                                        bool split_head) {
  SYM_TRY(check_pipeline_schedule(schedule, p, micro_batches, v, split_head));
  std::vector<std::vector<PipelineOp>> ops(static_cast<size_t>(p));
  for (int r = 0; r < p; ++r) {
    SYM_TRY_ASSIGN(ops[size_t(r)], pipeline_ops(schedule, p, r, micro_batches, v, split_head));
  }
  return ops;
}

}  // namespace

Result<PipelineTimeline> simulate_pipeline(PipelineSchedule schedule, int stages,
                                           int micro_batches, int virtual_stages,
                                           const StageTimes& times, bool split_head) {
  SYM_TRY(check_times(times));
  // Each of a rank's v chunks takes 1/v of its times.
  const double dv = double(std::max(virtual_stages, 1));
  const StageTimes chunk{.forward_s = times.forward_s / dv,
                         .backward_input_s = times.backward_input_s / dv,
                         .backward_weight_s = times.backward_weight_s / dv,
                         .head_s = times.head_s / dv};
  const std::vector<StageTimes> chunks(
      size_t(std::max(stages, 0)) * size_t(std::max(virtual_stages, 0)), chunk);
  return simulate_pipeline(schedule, stages, micro_batches, virtual_stages, chunks, times.p2p_s,
                           split_head);
}

Result<PipelineTimeline> simulate_pipeline(PipelineSchedule schedule, int stages,
                                           int micro_batches, int virtual_stages,
                                           std::span<const StageTimes> chunk_times,
                                           double p2p_s, bool split_head) {
  SYM_TRY_ASSIGN(const std::vector<std::vector<PipelineOp>> ops,
                 all_orders(schedule, stages, micro_batches, virtual_stages, split_head));
  if (chunk_times.size() != size_t(stages) * size_t(virtual_stages))
    return Error::invalid("{} virtual stage times for pp={} vpp={}", chunk_times.size(), stages,
                          virtual_stages);
  for (const StageTimes& t : chunk_times) SYM_TRY(check_times(t));
  SYM_TRY(check_times(StageTimes{.p2p_s = p2p_s}));
  auto duration = [&](int r, size_t k) {
    const PipelineOp& op = ops[size_t(r)][k];
    const StageTimes& t = chunk_times[size_t(op.chunk * stages + r)];
    switch (op.kind) {
      case PipelineOpKind::kForward: return t.forward_s;
      case PipelineOpKind::kBackward: return t.backward_input_s + t.backward_weight_s;
      case PipelineOpKind::kBackwardInput: return t.backward_input_s;
      case PipelineOpKind::kBackwardWeight: return t.backward_weight_s;
      case PipelineOpKind::kHead: return t.head_s;
    }
    return 0.0;
  };
  return run_orders(schedule, stages, micro_batches, virtual_stages, split_head, ops, p2p_s,
                    duration);
}

Result<PipelineTimeline> replay_pipeline(const PipelineTimeline& measured) {
  const int p = measured.stages;
  SYM_TRY_ASSIGN(const std::vector<std::vector<PipelineOp>> ops,
                 all_orders(measured.schedule, p, measured.micro_batches,
                            measured.virtual_stages, measured.split_head));
  if (measured.ranks.size() != size_t(p))
    return Error::invalid("pipeline timeline has {} ranks for pp={}", measured.ranks.size(), p);
  for (int r = 0; r < p; ++r) {
    const std::vector<PipelineEvent>& events = measured.ranks[size_t(r)];
    const std::vector<PipelineOp>& order = ops[size_t(r)];
    if (events.size() != order.size())
      return Error::invalid("pipeline timeline of rank {} has {} passes; the {} schedule runs {}",
                            r, events.size(), pipeline_schedule_name(measured.schedule),
                            order.size());
    for (size_t k = 0; k < order.size(); ++k) {
      const PipelineEvent& e = events[k];
      if (!(e.op == order[k]))
        return Error::invalid("pipeline timeline of rank {}: pass {} is {}{} of chunk {}; the {} "
                              "schedule runs {}{} of chunk {} there",
                              r, k, pipeline_op_letter(e.op.kind), e.op.micro_batch, e.op.chunk,
                              pipeline_schedule_name(measured.schedule),
                              pipeline_op_letter(order[k].kind), order[k].micro_batch,
                              order[k].chunk);
      if (!std::isfinite(e.end_s - e.start_s) || e.end_s < e.start_s)
        return Error::invalid("pipeline timeline of rank {}: pass {} ends before it starts", r, k);
    }
  }
  auto duration = [&](int r, size_t k) {
    const PipelineEvent& e = measured.ranks[size_t(r)][k];
    return e.end_s - e.start_s;
  };
  return run_orders(measured.schedule, p, measured.micro_batches, measured.virtual_stages,
                    measured.split_head, ops, 0.0, duration);
}

}  // namespace symphony
