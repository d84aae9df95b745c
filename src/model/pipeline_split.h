#pragma once
// Which sub-layers (parallel/pipeline_stages.h: each decoder layer's attention, then its
// feed-forward) each virtual pipeline stage runs: the split parallel.pp_layers gives, or one
// balanced by cost. The cost of a sub-layer is its training FLOPs per token (monitor/flops.h:
// 6 x its matmul parameters, plus causal attention for the attention); the last virtual stage
// also pays the LM head and loss (6 V D per token) and the multi-token prediction modules
// (docs/mtp.md), the first the embedding lookup (about nothing). A MoE model's dense leading
// layers cost more than its MoE layers' active share, and a large vocabulary makes the last stage
// lighter in layers. With virtual stages (interleaving) each rank's total and each chunk count:
// the split over pp stages gives each rank's count, spread evenly over its chunks (earlier chunks
// take the remainder; when a rank would get fewer units than chunks, the virtual stages are
// balanced one by one instead), then the split that shortens the interleaved schedule's step
// most, simulated with each virtual stage's passes taking its cost (parallel/pipeline_timeline.h,
// 4 pp micro-batches): every split when there are at most 20,000, else from the first one by
// moving one unit at a time between neighbouring virtual stages while the step shortens.
// StageUnit::kLayer balances whole layers only (the planner's stage model, plan/layout.h).

#include <cstdint>
#include <span>
#include <vector>

#include "model/model_config.h"
#include "parallel/layout.h"

namespace symphony {

enum class StageUnit : uint8_t { kSublayer, kLayer };

// The counts per virtual stage, in sub-layers (kSublayer: two per layer) or layers (kLayer);
// empty without a pipeline.
// REQUIRES: validate(parallel) and the model checks passed (parallel.pp_layers, when given,
// holds pp * vpp entries summing to the layer count, whole numbers for kLayer; otherwise
// pp * vpp <= layers).
std::vector<int64_t> pipeline_layer_split(const ModelConfig& model, const ParallelConfig& parallel,
                                          int64_t seq_len, StageUnit unit = StageUnit::kSublayer);

// The head split's share (parallel.pp_head_share) that evens out the two stages of a pipeline
// whose passes took `busy_s` seconds on each stage (their sums over a step), run with the split
// pipeline_layer_split(model, parallel, seq_len) and parallel.pp_head_share: the whole LM head's
// time is estimated as the last stage's times its head's share of the stage's cost (FLOPs), and
// half the difference between the stages moves to the first. Clamped to [0, 0.9].
// REQUIRES: parallel.pp == 2, parallel.vpp == 1, two times.
double head_share_for_stage_times(const ModelConfig& model, const ParallelConfig& parallel,
                                  int64_t seq_len, std::span<const double> busy_s);

}  // namespace symphony
