#pragma once
// Pipeline-parallel schedules as pure arithmetic: the order of forward and backward passes each
// pipeline stage runs in one training step, and the closed-form step times the planner uses.
// No model, no communication; parallel/pipeline_timeline.h times these orders.
//
// Terms: p = parallel.pp stages (the ranks of one pipeline), v = parallel.vpp virtual stages
// (model chunks) per rank, m micro-batches per step and pipeline. The layers are split into p * v
// virtual stages; virtual stage `chunk * p + stage` runs on rank `stage` (Megatron-LM's
// interleaving), so a micro-batch passes ranks 0..p-1 with chunk 0, then again with chunk 1, ...

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace symphony {

enum class PipelineSchedule : uint8_t {
  kGpipe,        // all forwards, then all backwards (Huang et al. 2019)
  k1F1B,         // PipeDream-Flush (Narayanan et al. 2019): warm-up, one forward one backward
  kInterleaved,  // 1F1B over v virtual stages per rank (Narayanan et al. 2021, Megatron-LM)
  kZeroBubble,   // ZB-H1 (Qi et al. 2024): weight gradients deferred into 1F1B's bubble
  kDualPipe,     // DeepSeek-V3: two directions; costed by the planner, no op order here
};

// "gpipe", "1f1b", "interleaved", "zb-h1", "dualpipe".
std::string_view pipeline_schedule_name(PipelineSchedule schedule);
// The inverse of pipeline_schedule_name; "zb" is accepted for ZB-H1 too. nullopt for any other
// text (the caller names its key; kPipelineScheduleChoices lists the names).
std::optional<PipelineSchedule> parse_pipeline_schedule(std::string_view name);
inline constexpr std::string_view kPipelineScheduleChoices =
    "gpipe, 1f1b, interleaved, zb-h1 or dualpipe";

enum class PipelineOpKind : uint8_t {
  kForward,
  kBackward,        // input and weight gradients in one pass (GPipe, 1F1B, interleaved)
  kBackwardInput,   // B: the input gradient only, sent on to the previous stage (ZB-H1)
  kBackwardWeight,  // W: the weight gradient of an earlier B of this stage (ZB-H1)
  kHead,            // H: the LM head and loss over a share of a micro-batch's rows, forward and
                    // input gradient (the head split, parallel.pp_head_share)
};
// "F", "B", "B", "W", "H": kBackward and kBackwardInput are both the pass that sends gradients
// back.
std::string_view pipeline_op_letter(PipelineOpKind kind);

// One pass of one micro-batch through one of this rank's model chunks.
struct PipelineOp {
  PipelineOpKind kind = PipelineOpKind::kForward;
  int micro_batch = 0;  // 0..m-1
  int chunk = 0;        // 0..v-1: virtual stage chunk * p + stage
  bool operator==(const PipelineOp&) const = default;
};

// Whether a schedule can run p stages with m micro-batches and v virtual stages. Errors
// (kInvalidArgument) name the keys: p, m or v below 1 ("parallel.pp", "train.global_batch_tokens",
// "parallel.vpp"); v > 1 without the interleaved schedule and the interleaved schedule with v < 2
// ("parallel.vpp" with "parallel.pp_schedule"); the interleaved schedule with m not a multiple of
// p (Megatron-LM's rule: micro-batches go through the chunks in groups of p); DualPipe, which has
// no op order here ("parallel.pp_schedule"). With `split_head` (the head split below): a
// schedule other than ZB-H1, or p other than 2 ("parallel.pp_head_share").
Status check_pipeline_schedule(PipelineSchedule schedule, int stages, int micro_batches,
                               int virtual_stages, bool split_head = false);

// The ops stage `stage` (0-based) runs in one training step, in order. Each micro-batch gets one
// forward and one backward per chunk (ZB-H1: one B and one W), every backward after its forward,
// every W after its B.
//   GPipe        F0..F(m-1), then B0..B(m-1).
//   1F1B         min(p - stage - 1, m) warm-up forwards, then F and B alternately (forward
//                first), then the remaining backwards; at most p - stage micro-batches in flight.
//   interleaved  Megatron-LM's order over m * v chunk passes: forwards run chunk by chunk in
//                groups of p micro-batches, backwards the same with the chunks reversed; warm-up
//                2 (p - stage - 1) + (v - 1) p passes (all of them when m = p), then 1F1B.
//   ZB-H1        1F1B's order of F and B, each B split into B and W, the Ws in micro-batch
//                order lagging the Bs by d = min(stage, m - warm-up): the first d forwards after
//                the warm-up pair with a B alone, then F B W, then B W in the cool-down, and the
//                d lagging Ws run last, filling the cool-down bubble. Forwards minus Bs in flight
//                follow 1F1B exactly; forwards minus Ws never exceed min(p, m), 1F1B's peak (on
//                stage 0). With F = B = W the bubble is a third of 1F1B's.
// With `split_head` (parallel.pp_head_share), the LM head and loss leave the last stage's
// backward for H passes: the last stage runs H of its share of each micro-batch's rows right
// after the forward (its weight gradient deferred to W where the model can defer the LM head's,
// Transformer::backward_chunk), and stage 0 runs H of the remaining rows
// (the hidden states sent to it, the input gradient sent back; its weight gradient at once),
// H0 before B0 and H(i+1) right after Bi: when the last stage's forward of i + 1 ends, stage 0
// has just run Bi, so both stages score their rows of i + 1 side by side and the last stage's
// B(i+1) waits for nothing. The last stage's B waits for both H passes of its micro-batch.
// Errors: those of check_pipeline_schedule. REQUIRES: 0 <= stage < stages.
Result<std::vector<PipelineOp>> pipeline_ops(PipelineSchedule schedule, int stages, int stage,
                                             int micro_batches, int virtual_stages,
                                             bool split_head = false);

// The most micro-batches one chunk holds activations of at once in `ops` (forwards run minus
// backwards, kBackwardInput included, that followed them): the activation slots a stage needs.
int pipeline_in_flight(std::span<const PipelineOp> ops);
// The most input-gradient passes (kBackwardInput) whose weight-gradient pass has not run yet, at
// once in `ops`: the deferred passes a stage holds (0 without a B/W split).
int pipeline_deferred_passes(std::span<const PipelineOp> ops);

// Whether the last stage runs the loss in its forward passes, keeping each micro-batch's logit
// gradients until its backward, rather than fused into its backward (which keeps no logits but
// puts the whole LM head in the backward): true for GPipe. GPipe runs all forwards, then all
// backwards, so each phase waits on its slowest stage; with the loss (the head's logits GEMM, a
// third of its work) in the forward, the last stage's forward and backward divide as the layers'
// do, and a split that balances the stages balances both phases. Under 1F1B and ZB-H1 the last
// stage runs each micro-batch's forward and backward back to back, so there it would only cost
// memory; interleaving keeps the loss fused too (its bubble is within a point of its closed
// form without it, docs/parallel.md).
bool pipeline_loss_in_forward(PipelineSchedule schedule);

// Times of one micro-batch on one rank, all its chunks together (each chunk takes 1/v of them).
struct StageTimes {
  double forward_s = 0;          // F
  double backward_input_s = 0;   // B: input gradient (with recomputation and exposed comm.)
  double backward_weight_s = 0;  // W: weight gradient
  double p2p_s = 0;              // one send of activations or gradients to a neighbouring stage
  double head_s = 0;             // H: the rank's LM-head passes (head split only)
  double compute_s() const { return forward_s + backward_input_s + backward_weight_s + head_s; }
};

// Point-to-point time the closed forms charge per micro-batch and rank: one send forward and one
// back per virtual stage, 2 v p2p_s; 0 with one stage and for DualPipe, which overlaps them.
double pipeline_p2p_per_micro_batch_s(PipelineSchedule schedule, int64_t stages,
                                      int64_t virtual_stages, double p2p_s);

// The closed-form time of one step's pipeline, with t = F + B + W +
// pipeline_p2p_per_micro_batch_s(...):
//   GPipe, 1F1B  (m + p - 1) t
//   interleaved  (m + (p - 1) / v) t
//   ZB-H1        m t + (p - 1) max(0, F + B - W)
//   DualPipe     m t + (p / 2 - 1) max(0, F + 2B - 3W)   (DeepSeek-V3 report, table 2)
// and m t with one stage or no micro-batch. REQUIRES: stages, virtual_stages >= 1,
// micro_batches >= 0.
double analytic_pipeline_s(PipelineSchedule schedule, int64_t stages, int64_t micro_batches,
                           int64_t virtual_stages, const StageTimes& times);
// The idle share of that time: 1 - m t / analytic_pipeline_s(...); 0 when t is 0.
double analytic_bubble(PipelineSchedule schedule, int64_t stages, int64_t micro_batches,
                       int64_t virtual_stages, const StageTimes& times);

}  // namespace symphony
