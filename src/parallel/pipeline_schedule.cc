#include "parallel/pipeline_schedule.h"

#include <algorithm>

#include "core/check.h"

namespace symphony {
namespace {

using Ops = std::vector<PipelineOp>;

PipelineOp forward(int micro_batch, int chunk = 0) {
  return {PipelineOpKind::kForward, micro_batch, chunk};
}
PipelineOp backward(int micro_batch, int chunk = 0) {
  return {PipelineOpKind::kBackward, micro_batch, chunk};
}

Ops gpipe_ops(int m) {
  Ops ops;
  for (int i = 0; i < m; ++i) ops.push_back(forward(i));
  for (int i = 0; i < m; ++i) ops.push_back(backward(i));
  return ops;
}

Ops one_f_one_b_ops(int p, int stage, int m) {
  const int warmup = std::min(p - stage - 1, m);
  Ops ops;
  for (int i = 0; i < warmup; ++i) ops.push_back(forward(i));
  for (int i = 0; i < m - warmup; ++i) {
    ops.push_back(forward(warmup + i));
    ops.push_back(backward(i));
  }
  for (int i = m - warmup; i < m; ++i) ops.push_back(backward(i));
  return ops;
}

// Megatron-LM's interleaved order: chunk passes are numbered k = 0 .. m v - 1 and taken in groups
// of p micro-batches per chunk, so pass k is micro-batch (k / (p v)) p + k % p on chunk
// (k % (p v)) / p; backward passes run the chunks in reverse.
Ops interleaved_ops(int p, int stage, int m, int v) {
  const int total = m * v;
  auto pass = [&](int k, PipelineOpKind kind) {
    const int group = p * v;
    int chunk = (k % group) / p;
    if (kind == PipelineOpKind::kBackward) chunk = v - 1 - chunk;
    return PipelineOp{kind, (k / group) * p + k % p, chunk};
  };
  // The first stage waits for nothing, the last one for the whole first round of chunks: the
  // warm-up covers the forwards every later virtual stage needs before its first backward.
  const int warmup = m == p ? total : std::min(2 * (p - stage - 1) + (v - 1) * p, total);
  Ops ops;
  for (int k = 0; k < warmup; ++k) ops.push_back(pass(k, PipelineOpKind::kForward));
  for (int k = 0; k < total - warmup; ++k) {
    ops.push_back(pass(warmup + k, PipelineOpKind::kForward));
    ops.push_back(pass(k, PipelineOpKind::kBackward));
  }
  for (int k = total - warmup; k < total; ++k) ops.push_back(pass(k, PipelineOpKind::kBackward));
  return ops;
}

// ZB-H1 as in the zero-bubble paper's handcrafted schedule: the Ws of stage s lag its Bs by s
// micro-batches, which is what lets its Bs run back to back with those of stage s + 1 while the
// Ws wait for the bubble at the end.
Ops zero_bubble_h1_ops(int p, int stage, int m) {
  const int warmup = std::min(p - stage - 1, m);
  const int lag = std::min(stage, m - warmup);
  Ops ops;
  int f = 0, b = 0, w = 0;
  auto add = [&ops](PipelineOpKind kind, int& next) { ops.push_back({kind, next++, 0}); };
  for (int i = 0; i < warmup; ++i) add(PipelineOpKind::kForward, f);
  for (int i = 0; i < lag; ++i) {
    add(PipelineOpKind::kForward, f);
    add(PipelineOpKind::kBackwardInput, b);
  }
  while (f < m) {
    add(PipelineOpKind::kForward, f);
    add(PipelineOpKind::kBackwardInput, b);
    add(PipelineOpKind::kBackwardWeight, w);
  }
  while (b < m) {
    add(PipelineOpKind::kBackwardInput, b);
    add(PipelineOpKind::kBackwardWeight, w);
  }
  while (w < m) add(PipelineOpKind::kBackwardWeight, w);
  return ops;
}

// The H passes of the head split (pipeline_ops).
Ops with_head_passes(const Ops& ops, int p, int stage, int m) {
  const bool first = stage == 0, last = stage == p - 1;
  Ops out;
  for (const PipelineOp& op : ops) {
    const bool backward =
        op.kind == PipelineOpKind::kBackwardInput || op.kind == PipelineOpKind::kBackward;
    if (first && backward && op.micro_batch == 0) out.push_back({PipelineOpKind::kHead, 0, 0});
    out.push_back(op);
    if (last && op.kind == PipelineOpKind::kForward)
      out.push_back({PipelineOpKind::kHead, op.micro_batch, 0});
    if (first && backward && op.micro_batch + 1 < m)
      out.push_back({PipelineOpKind::kHead, op.micro_batch + 1, 0});
  }
  return out;
}

}  // namespace

std::string_view pipeline_schedule_name(PipelineSchedule schedule) {
  switch (schedule) {
    case PipelineSchedule::kGpipe: return "gpipe";
    case PipelineSchedule::k1F1B: return "1f1b";
    case PipelineSchedule::kInterleaved: return "interleaved";
    case PipelineSchedule::kZeroBubble: return "zb-h1";
    case PipelineSchedule::kDualPipe: return "dualpipe";
  }
  return "?";
}

std::optional<PipelineSchedule> parse_pipeline_schedule(std::string_view name) {
  for (PipelineSchedule s : {PipelineSchedule::kGpipe, PipelineSchedule::k1F1B,
                             PipelineSchedule::kInterleaved, PipelineSchedule::kZeroBubble,
                             PipelineSchedule::kDualPipe})
    if (name == pipeline_schedule_name(s)) return s;
  if (name == "zb") return PipelineSchedule::kZeroBubble;
  return std::nullopt;
}

std::string_view pipeline_op_letter(PipelineOpKind kind) {
  switch (kind) {
    case PipelineOpKind::kForward: return "F";
    case PipelineOpKind::kBackward:
    case PipelineOpKind::kBackwardInput: return "B";
    case PipelineOpKind::kBackwardWeight: return "W";
    case PipelineOpKind::kHead: return "H";
  }
  return "?";
}

Status check_pipeline_schedule(PipelineSchedule schedule, int stages, int micro_batches,
                               int virtual_stages, bool split_head) {
  const std::string_view name = pipeline_schedule_name(schedule);
  if (stages < 1) return Error::invalid("parallel.pp = {} must be at least 1", stages);
  if (virtual_stages < 1)
    return Error::invalid("parallel.vpp = {} must be at least 1", virtual_stages);
  if (micro_batches < 1)
    return Error::invalid(
        "train.global_batch_tokens gives {} micro-batches per pipeline; at least 1 is needed",
        micro_batches);
  if (schedule == PipelineSchedule::kDualPipe)
    return Error::invalid(
        "parallel.pp_schedule = \"dualpipe\" is costed by the planner only; the engine runs "
        "gpipe, 1f1b, interleaved or zb-h1");
  if (virtual_stages > 1 && schedule != PipelineSchedule::kInterleaved)
    return Error::invalid(
        "parallel.vpp = {} needs parallel.pp_schedule = \"interleaved\" (it is \"{}\")",
        virtual_stages, name);
  if (schedule == PipelineSchedule::kInterleaved && virtual_stages < 2)
    return Error::invalid(
        "parallel.pp_schedule = \"interleaved\" needs parallel.vpp of at least 2 (it is {})",
        virtual_stages);
  if (schedule == PipelineSchedule::kInterleaved && micro_batches % stages != 0)
    return Error::invalid(
        "parallel.pp = {} with {} micro-batches: parallel.pp_schedule = \"interleaved\" needs a "
        "multiple of {} micro-batches per pipeline (set train.global_batch_tokens to match)",
        stages, micro_batches, stages);
  if (split_head && schedule != PipelineSchedule::kZeroBubble)
    return Error::invalid(
        "parallel.pp_head_share needs parallel.pp_schedule = \"zb-h1\" (it is \"{}\"): the last "
        "stage's backward waits for the first stage's LM-head pass, and only ZB-H1 has deferred "
        "weight-gradient passes to run meanwhile",
        name);
  if (split_head && stages != 2)
    return Error::invalid(
        "parallel.pp_head_share needs parallel.pp = 2 (it is {}): with more stages the hidden "
        "states' round trip to the first stage holds up the last stage's backward",
        stages);
  return Status::ok();
}

Result<std::vector<PipelineOp>> pipeline_ops(PipelineSchedule schedule, int stages, int stage,
                                             int micro_batches, int virtual_stages,
                                             bool split_head) {
  SYM_TRY(check_pipeline_schedule(schedule, stages, micro_batches, virtual_stages, split_head));
  SYM_CHECK(stage >= 0 && stage < stages, "stage {} of {}", stage, stages);
  if (split_head) {
    SYM_TRY_ASSIGN(const Ops ops,
                   pipeline_ops(schedule, stages, stage, micro_batches, virtual_stages, false));
    return with_head_passes(ops, stages, stage, micro_batches);
  }
  switch (schedule) {
    case PipelineSchedule::kGpipe: return gpipe_ops(micro_batches);
    case PipelineSchedule::k1F1B: return one_f_one_b_ops(stages, stage, micro_batches);
    case PipelineSchedule::kInterleaved:
      return interleaved_ops(stages, stage, micro_batches, virtual_stages);
    case PipelineSchedule::kZeroBubble: return zero_bubble_h1_ops(stages, stage, micro_batches);
    case PipelineSchedule::kDualPipe: break;
  }
  return Error::internal("no op order for parallel.pp_schedule = \"{}\"",
                         pipeline_schedule_name(schedule));
}

double pipeline_p2p_per_micro_batch_s(PipelineSchedule schedule, int64_t stages,
                                      int64_t virtual_stages, double p2p_s) {
  if (stages <= 1 || schedule == PipelineSchedule::kDualPipe) return 0.0;
  return 2.0 * double(virtual_stages) * p2p_s;
}

double analytic_pipeline_s(PipelineSchedule schedule, int64_t stages, int64_t micro_batches,
                           int64_t virtual_stages, const StageTimes& times) {
  SYM_CHECK(stages >= 1 && micro_batches >= 0 && virtual_stages >= 1, "p={} m={} v={}", stages,
            micro_batches, virtual_stages);
  const double F = times.forward_s, B = times.backward_input_s, W = times.backward_weight_s;
  const double t =
      times.compute_s() + pipeline_p2p_per_micro_batch_s(schedule, stages, virtual_stages,
                                                         times.p2p_s);
  const double m = double(micro_batches), p = double(stages), v = double(virtual_stages);
  if (stages == 1 || micro_batches == 0) return m * t;
  switch (schedule) {
    case PipelineSchedule::kGpipe:
    case PipelineSchedule::k1F1B: return (m + p - 1.0) * t;
    case PipelineSchedule::kInterleaved: return (m + (p - 1.0) / v) * t;
    case PipelineSchedule::kZeroBubble: return m * t + (p - 1.0) * std::max(0.0, F + B - W);
    case PipelineSchedule::kDualPipe:
      return m * t + (p / 2.0 - 1.0) * std::max(0.0, F + 2.0 * B - 3.0 * W);
  }
  return m * t;
}

double analytic_bubble(PipelineSchedule schedule, int64_t stages, int64_t micro_batches,
                       int64_t virtual_stages, const StageTimes& times) {
  const double step = analytic_pipeline_s(schedule, stages, micro_batches, virtual_stages, times);
  if (!(step > 0)) return 0.0;
  const double work =
      double(micro_batches) *
      (times.compute_s() +
       pipeline_p2p_per_micro_batch_s(schedule, stages, virtual_stages, times.p2p_s));
  return 1.0 - work / step;
}

int pipeline_in_flight(std::span<const PipelineOp> ops) {
  std::vector<int> held;  // [chunk]
  int peak = 0;
  for (const PipelineOp& op : ops) {
    if (size_t(op.chunk) >= held.size()) held.resize(size_t(op.chunk) + 1, 0);
    int& h = held[size_t(op.chunk)];
    if (op.kind == PipelineOpKind::kForward) peak = std::max(peak, ++h);
    else if (op.kind == PipelineOpKind::kBackward || op.kind == PipelineOpKind::kBackwardInput)
      --h;
  }
  return peak;
}

int pipeline_deferred_passes(std::span<const PipelineOp> ops) {
  int pending = 0, peak = 0;
  for (const PipelineOp& op : ops) {
    if (op.kind == PipelineOpKind::kBackwardInput) peak = std::max(peak, ++pending);
    if (op.kind == PipelineOpKind::kBackwardWeight) --pending;
  }
  return peak;
}

bool pipeline_loss_in_forward(PipelineSchedule schedule) {
  return schedule == PipelineSchedule::kGpipe;
}

}  // namespace symphony
