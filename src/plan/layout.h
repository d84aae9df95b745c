#pragma once
// A training layout as a value: how the world of GPUs is factorised and what each GPU keeps.
//   world = dp * cp * tp * pp; the expert axis ep is carved from the dp * cp * tp ranks of a
//   pipeline stage (expert tensor parallelism is 1: each expert lives whole on one GPU), so
//   experts are replicated over edp = dp * cp * tp / ep ranks.
// Rank order (innermost first) is tp, cp, dp, pp, as Megatron-LM places them: tensor parallel
// groups are consecutive ranks, so they stay inside a node when tp <= GPUs per node.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/recompute.h"
#include "parallel/layout.h"
#include "plan/model_costs.h"

namespace symphony::plan {

enum class Schedule : uint8_t {
  kGpipe,        // all forwards, then all backwards
  k1F1B,         // PipeDream-Flush
  kInterleaved,  // 1F1B over vpp virtual stages per GPU (Megatron-LM)
  kZeroBubble,   // ZB-H1 (Qi et al. 2024): weight gradients fill the bubble, 1F1B's memory
  kDualPipe,     // DeepSeek-V3: two directions, computation overlapping the expert all-to-all
};

enum class Precision : uint8_t {
  kFp32,  // fp32 weights, gradients and AdamW moments: the engine's CPU path
  kBf16,  // bf16 weights and GEMMs; fp32 gradients, master weights and moments
  kFp8,   // as bf16, with fp8 GEMMs and an fp8 copy of each weight
};

struct PlanLayout {
  int64_t dp = 1, tp = 1, pp = 1, ep = 1, cp = 1;
  ZeroStage zero = ZeroStage::kNone;
  int64_t vpp = 1;  // virtual stages per GPU (interleaved schedule when > 1)
  int64_t mbs = 1;  // sequences per micro-batch
  Recompute recompute = Recompute::kNone;
  Schedule schedule = Schedule::k1F1B;
  Precision precision = Precision::kBf16;

  int64_t world() const { return dp * cp * tp * pp; }
  int64_t expert_dp() const { return dp * cp * tp / ep; }
  // "dp=8,tp=8,pp=16,ep=1,cp=1,zero=1,vpp=1,mbs=1,recompute=none,schedule=1f1b,precision=bf16"
  std::string to_string() const;
};

// The global batch and sequence a layout must serve.
struct BatchSpec {
  int64_t seq_len = 4096;
  int64_t global_batch_tokens = 4 << 20;
  int64_t sequences() const { return global_batch_tokens / seq_len; }
};

// Parses "key=value,key=value" into a layout: fields it leaves out keep `defaults`' values, and
// dp = 0 (the default) means "the rest of the world". Errors name the bad field and its value:
// "--layout field 'tpp' is unknown; the fields are dp, tp, ...".
Result<PlanLayout> parse_layout(std::string_view text, PlanLayout defaults = {});

// Whether `layout` can run `model` on `num_gpus` GPUs of `gpus_per_node` each with `batch`:
// every factor positive, world == num_gpus, tp divides the heads, KV heads and FFN widths, ep
// divides the experts and dp * cp * tp, pp * vpp <= layers, cp splits the sequence into 2 * cp
// chunks, dp * mbs divides the global batch of sequences, the interleaved schedule gets a number
// of micro-batches divisible by pp. tp beyond one node is allowed only with `tp_across_nodes`.
// Each message names the field ("tp=3 does not divide num_attention_heads 64").
enum class TpPlacement : uint8_t { kWithinNode, kAnywhere };
Status check_layout(const PlanLayout& layout, const ModelCosts& model, const BatchSpec& batch,
                    int64_t num_gpus, int64_t gpus_per_node, TpPlacement tp_placement);

// Micro-batches per step for each pipeline: sequences / (dp * mbs).
inline int64_t num_microbatches(const PlanLayout& l, const BatchSpec& b) {
  return b.sequences() / (l.dp * l.mbs);
}

// Layers held by pipeline stage `stage` (0-based) when `layers` are split over pp * vpp virtual
// stages as evenly as possible, earlier stages taking the remainder (the last stage also runs
// the LM head). Returned as the count over all of the stage's virtual chunks.
int64_t layers_in_stage(int64_t layers, int64_t pp, int64_t vpp, int64_t stage);
// Layers [first, last) of virtual stage `chunk` (0 <= chunk < pp * vpp) under the same split;
// virtual stage chunk runs on GPU stage chunk % pp.
struct LayerRange {
  int64_t first = 0, last = 0;
};
LayerRange virtual_stage_layers(int64_t layers, int64_t virtual_stages, int64_t chunk);

std::string_view schedule_name(Schedule s);
std::string_view precision_name(Precision p);

}  // namespace symphony::plan
