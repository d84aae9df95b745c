#pragma once
// A training layout as the planner evaluates it: the parallel layout of parallel/layout.h (world
// = pp * dp * cp * tp; the expert axis ep carved from the dp * cp * tp ranks of a pipeline stage,
// experts replicated over edp = dp * cp * tp / ep ranks; the ZeRO stage) and what only the
// planner chooses: virtual stages, micro-batch size, recomputation, schedule and precision.
// The planner models expert tensor parallelism 1 (each expert lives whole on one GPU) and
// ParallelLayout's default rank order, innermost first tp, cp, dp, pp, as Megatron-LM places
// them: tensor parallel groups are consecutive ranks, so they stay inside a node when tp <= GPUs
// per node.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/precision.h"
#include "core/status.h"
#include "model/recompute.h"
#include "parallel/layout.h"
#include "parallel/pipeline_schedule.h"
#include "plan/model_costs.h"

namespace symphony::plan {

// The planner models each precision's memory and speed as Megatron-LM runs it on GPUs:
//   kFp32  fp32 weights, gradients and AdamW moments
//   kBf16  bf16 weights and GEMMs; fp32 gradients, master weights and moments
//   kFp8   as bf16, with fp8 GEMMs and an fp8 copy of each weight
using symphony::Precision;
using symphony::precision_name;

// How the decoder layers are split over the pipeline's virtual stages: balanced by training FLOPs
// as the engine splits them (model/pipeline_split.h), or evenly by count with earlier stages
// taking the remainder, as Megatron-LM does by default (its LM head and loss then add to the
// last stage).
enum class StageSplit : uint8_t { kBalanced, kEven };

struct PlanLayout {
  ParallelLayout parallel;  // sizes of every axis and the ZeRO stage; the default: one GPU
  int64_t vpp = 1;          // virtual stages per GPU (interleaved schedule when > 1)
  int64_t mbs = 1;          // sequences per micro-batch
  Recompute recompute = Recompute::kNone;
  PipelineSchedule schedule = PipelineSchedule::k1F1B;
  Precision precision = Precision::kBf16;
  StageSplit stage_split = StageSplit::kBalanced;

  // The parallel sizes, as `parallel` has them.
  int64_t dp() const { return parallel.size(Axis::kData); }
  int64_t tp() const { return parallel.size(Axis::kTensor); }
  int64_t pp() const { return parallel.size(Axis::kPipeline); }
  int64_t cp() const { return parallel.size(Axis::kContext); }
  int64_t ep() const { return parallel.size(Axis::kExpert); }
  int64_t expert_dp() const { return parallel.size(Axis::kExpertData); }
  int64_t world() const { return parallel.world_size(); }
  ZeroStage zero() const { return parallel.zero_stage(); }
  // "dp=8,tp=8,pp=16,ep=1,cp=1,zero=1,vpp=1,mbs=1,recompute=none,schedule=1f1b,precision=bf16",
  // with ",split=even" when the split is even
  std::string to_string() const;
};

// The global batch and sequence a layout must serve.
struct BatchSpec {
  int64_t seq_len = 4096;
  int64_t global_batch_tokens = 4 << 20;
  int64_t sequences() const { return global_batch_tokens / seq_len; }
};

// Parses "key=value,key=value" into a layout of `num_gpus` GPUs. The parallel fields it leaves
// out are 1 (zero 0), except dp, which takes the GPUs the others leave; the planner's own fields
// it leaves out keep `defaults`' values. The parallel sizes go through ParallelLayout::create,
// whose errors name the key ("parallel.ep = 3 (with parallel.etp = 1): ..."); other errors name
// the field and its value: "--layout field 'tpp' is unknown; the fields are dp, tp, ...".
// A num_gpus outside 1..Cluster::kMaxGpus is an error too.
Result<PlanLayout> parse_layout(std::string_view text, int64_t num_gpus, PlanLayout defaults = {});

// Whether `layout` can run `model` on `num_gpus` GPUs of `gpus_per_node` each with `batch`, beyond
// what ParallelLayout::create checked (sizes >= 1, ep dividing dp * cp * tp): world == num_gpus,
// etp == 1, vpp and mbs positive, tp divides the heads and FFN widths and divides or is a
// multiple of the KV heads (replicating each), ep divides the
// experts, pp * vpp <= layers, cp splits the sequence into 2 * cp chunks, dp * mbs divides the
// global batch of sequences, the interleaved schedule gets a number of micro-batches divisible
// by pp. tp beyond one node is allowed only with `tp_across_nodes`.
// Each message names the field ("tp=3 does not divide num_attention_heads 64").
enum class TpPlacement : uint8_t { kWithinNode, kAnywhere };
Status check_layout(const PlanLayout& layout, const ModelCosts& model, const BatchSpec& batch,
                    int64_t num_gpus, int64_t gpus_per_node, TpPlacement tp_placement);

// Micro-batches per step for each pipeline: sequences / (dp * mbs).
inline int64_t num_microbatches(const PlanLayout& l, const BatchSpec& b) {
  return b.sequences() / (l.dp() * l.mbs);
}

// Layers [first, last) of one virtual stage.
struct LayerRange {
  int64_t first = 0, last = 0;
};
// The decoder layers of each of the pp * vpp virtual stages, in pipeline order, split as
// layout.stage_split says: by default balanced by training FLOPs as the engine balances them when
// parallel.pp_layers is not given (model/pipeline_split.h), the last stage paying for the LM head
// and the MTP modules, but in whole layers (the engine may cut a layer between its attention and
// its feed-forward, which balances as well or better). Virtual stage c runs on GPU stage c % pp.
// REQUIRES: pp * vpp <= model.num_layers.
std::vector<LayerRange> virtual_stage_ranges(const ModelCosts& model, const PlanLayout& layout);
// Layers held by GPU stage `stage` (0-based), all its virtual stages together.
int64_t layers_in_stage(const ModelCosts& model, const PlanLayout& layout, int64_t stage);

}  // namespace symphony::plan
