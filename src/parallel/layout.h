#pragma once
// ParallelLayout: how the world's ranks factor into mesh axes. Pure arithmetic, no communication:
// the trainer, the mesh, the planner and tests use it directly.
//
// Parallel folding (Megatron-Core's MoE layout): the same ranks are factored twice.
//   dense factorisation   world = pp x dp x cp x tp    attention, dense MLPs, embedding, head
//   expert factorisation  world = pp x edp x ep x etp  the routed experts of MoE layers
// Expert parallelism is carved out of the dp * cp * tp ranks of a pipeline stage and edp is what
// is left: edp = dp * cp * tp / (ep * etp). Every ep rank therefore runs the attention part on
// its own data, as a data-parallel rank, and exchanges tokens with its ep group in MoE layers.
//
// Rank order: `order` lists the dense axes from innermost (fastest varying) to outermost. The
// default "tp,cp,dp,pp" keeps a tensor-parallel group on consecutive ranks (one node), as
// Megatron-LM does: rank = tp + T*(cp + C*(dp + D*pp)). Within a pipeline stage the expert axes
// run over the stage's ranks in the same order, etp fastest, then ep, then edp: with tp = cp = 1
// an ep group is ep consecutive data-parallel ranks.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/precision.h"
#include "core/status.h"
#include "parallel/pipeline_schedule.h"

namespace symphony {

enum class Axis : uint8_t {
  kPipeline,      // both factorisations
  kData,          // dense
  kContext,       // dense
  kTensor,        // dense
  kExpert,        // expert
  kExpertTensor,  // expert
  kExpertData,    // expert: the replicas of one expert
  kNone,          // not an axis: a replicated tensor's ShardSpec
};
inline constexpr int kNumAxes = 7;  // kNone excluded
// "pp", "dp", "cp", "tp", "ep", "etp", "edp"
std::string_view axis_name(Axis axis);
bool is_expert_axis(Axis axis);  // kExpert, kExpertTensor, kExpertData

enum class ZeroStage : uint8_t {
  kNone = 0,        // replicated weights, gradients and optimizer state; gradient all-reduce
  kOptimizer = 1,   // optimizer state sharded over the replicas of each parameter
  kGradients = 2,   // gradients reduce-scattered and sharded too
  kParameters = 3,  // parameters sharded as well, gathered block by block when used (FSDP)
};

struct ParallelConfig {
  int64_t pp = 1;   // pipeline stages
  int64_t vpp = 1;  // virtual pipeline stages (model chunks) per pp rank: interleaved schedule
  PipelineSchedule pp_schedule = PipelineSchedule::k1F1B;
  // Decoder layers per virtual stage (pp * vpp entries, in pipeline order), whole or half (4.5:
  // four layers and the next one's attention, parallel/pipeline_stages.h); empty: balanced by
  // the cost of each sub-layer, the embedding and the LM head (model/pipeline_split.h).
  std::vector<double> pp_layers;
  // The head split (ZB-H1, pp = 2, no tp or MTP): the share of each micro-batch's rows whose
  // LM head and loss the first stage runs (with the tied embedding it holds, or a copy of the
  // untied head) instead of the last stage (parallel/pipeline_schedule.h pipeline_ops). 0: the
  // last stage runs them all.
  double pp_head_share = 0;
  int64_t dp = 0;   // data-parallel replicas; 0 = whatever the other axes leave of the world
  int64_t cp = 1;   // context (sequence) parallel
  int64_t tp = 1;   // tensor parallel
  int64_t ep = 1;   // expert parallel: carved out of dp * cp * tp (see above)
  int64_t etp = 1;  // expert tensor parallel: carved out of dp * cp * tp with ep
  bool sequence_parallel = true;  // with tp > 1: the residual stream split along its rows
  std::string order = "tp,cp,dp,pp";  // dense axes from innermost to outermost rank order
  ZeroStage zero_stage = ZeroStage::kNone;  // TOML: the integer 0..3
  double bucket_mb = 25;              // gradient all-reduce bucket, bytes sent (zero_stage 0, 1)
  // What the data-parallel gradient reductions (all-reduce, reduce-scatter over dp x cp and edp)
  // send and sum in: fp32, or bf16 (half the bytes; each rank's gradient rounded to bf16 and
  // every partial sum rounded again). Gradients are accumulated and stepped in fp32 either way.
  Precision grad_dtype = Precision::kFp32;
  double timeout_s = 600;             // a collective that takes longer fails (watchdog)
};

// A default-constructed layout is one process: every axis of size 1, no ZeRO.
class ParallelLayout {
 public:
  // Resolves dp = 0 and checks the config against the world size: every size in 1..world_size,
  // pp*dp*cp*tp equals world_size, ep * etp divides dp * cp * tp, `order` is a permutation of the
  // four dense axis names. Errors name the `parallel.<key>` at fault and its value.
  static Result<ParallelLayout> create(const ParallelConfig& config, int world_size);

  int size(Axis axis) const { return sizes_[int(axis)]; }
  int world_size() const { return world_size_; }
  ZeroStage zero_stage() const { return zero_; }
  // Position of `rank` along every axis of both factorisations, and back from the dense ones.
  std::array<int, kNumAxes> coords(int rank) const;
  int rank_of_dense(const std::array<int, kNumAxes>& coords) const;
  // The ranks that share every coordinate of `rank` except those on `axes`, ordered by their
  // position within the group (first axis of `axes` fastest). `rank` is among them.
  // REQUIRES: `axes` are all dense axes, or all expert axes (kPipeline may join either).
  std::vector<int> group_ranks(std::span<const Axis> axes, int rank) const;
  // Position of `rank` within its group over `axes` (the index into group_ranks()).
  int group_rank(std::span<const Axis> axes, int rank) const;
  // "dp=4 tp=2 ep=2 ..." for logs; axes of size 1 and edp are left out ("single process" when
  // every axis is 1).
  std::string describe() const;

 private:
  // Position of `rank` among the ranks of its pipeline stage (dense order, pp left out).
  int stage_position(const std::array<int, kNumAxes>& dense_coords) const;

  std::array<int, kNumAxes> sizes_{1, 1, 1, 1, 1, 1, 1};    // [axis]
  std::array<int, kNumAxes> strides_{1, 1, 1, 1, 1, 1, 1};  // [axis] world-rank stride, dense axes
  std::array<int, kNumAxes> stage_strides_{1, 1, 1, 1, 1, 1, 1};  // [axis] within a stage, no pp
  int world_size_ = 1;
  ZeroStage zero_ = ZeroStage::kNone;
};

}  // namespace symphony
