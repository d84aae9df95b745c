#pragma once
// Evaluates one layout: memory per GPU (plan/memory_model.cc) and time per step
// (plan/step_time.cc), then throughput, utilisation, time to train, energy and cost. The
// formulas are stated beside each computation and collected in docs/plan.md.

#include <cstdint>
#include <string>

#include "plan/cluster.h"
#include "plan/collectives.h"
#include "plan/efficiency.h"
#include "plan/expert_dispatch.h"
#include "plan/layout.h"
#include "plan/model_costs.h"

namespace symphony::plan {

// Precision of the gradients bf16 and fp8 training accumulates and reduces over data parallelism:
// fp32 (Megatron's main gradients, 4 bytes per parameter) or bf16 (2 bytes, as with
// grad_reduce_in_fp32 off). fp32 training keeps fp32 gradients either way.
enum class GradPrecision : uint8_t { kFp32, kBf16 };

// Modelling choices that are not part of a layout.
struct PlanOptions {
  TpPlacement tp_placement = TpPlacement::kWithinNode;
  // Routed tokens a GPU receives over the balanced mean, for sizing expert buffers and saved
  // expert activations when the model is dropless (capacity_factor 0); with a capacity factor
  // that factor is used instead.
  double moe_overload = 1.25;
  // Fraction of the overlappable tensor-parallel collectives (forward chunks, backward re-gathers
  // and input-gradient reductions, model/tensor_parallel.h) hidden behind GEMMs. `symphony bench
  // train` measures the engine's: 88-92% of all tp communication on 2 CPU ranks.
  double tp_overlap = 0.8;
  ExpertOverlap ep_overlap = ExpertOverlap::kChunked;
  // How routed tokens cross nodes when the expert group spans them (plan/expert_dispatch.h):
  // pairwise, as Symphony's engine and NCCL's all-to-all, or once per node (DeepEP).
  ExpertDispatch ep_dispatch = ExpertDispatch::kAllToAll;
  // Routed tokens the busiest GPU of an expert group computes over the balanced mean, for time:
  // its expert GEMMs and the all-to-all it receives take this much longer, and the group waits
  // for it. 1: balanced routing (benchmarks that force it, or a well-balanced router).
  double moe_imbalance = 1.0;
  // Host time per expert a GPU holds, per MoE layer and micro-batch (forward and backward
  // together, a third with each pass): per-expert kernel launches, splits and quantization a
  // framework issues one expert at a time after a dropless dispatch has synchronised with the
  // host for the token counts. The host issues an expert while the GPU runs the one before, so a
  // pass's experts take the longer of their GEMMs and this time (the backward's two GEMMs per
  // expert together, unless ZB-H1 runs them as separate passes). 0: one grouped kernel per pass
  // (no per-expert host work). The default, 380 us, is fitted on the fitting set's run with 16
  // experts per GPU (Megatron-Core, Qwen3 235B-A22B on 256 H100s, docs/plan.md).
  double moe_expert_overhead_s = 380e-6;
  Fp8Recipe fp8_recipe = Fp8Recipe::kTensorwise;  // scaling of fp8 GEMMs
  GradPrecision grad_precision = GradPrecision::kFp32;
  // Whether gradient reduction and parameter gathering overlap the backward and forward passes
  // (bucketed, as PyTorch DDP/FSDP and Megatron-Core do), or run after them (Megatron-LM 2021).
  double dp_overlap = 1.0;      // 1: overlapped within the compute windows; 0: fully exposed
  double fragmentation = 0.05;  // allocator margin over the accounted bytes
  double reserved_bytes = 2.0 * (1u << 30);  // CUDA context, cuBLAS workspace, NCCL buffers
  int64_t loss_chunk_tokens = 0;  // rows of logits alive at once; 0 = the whole micro-batch
  int64_t train_tokens = 15'000'000'000'000;  // D, for time to train, GPU-hours and energy
};

// Everything a layout is evaluated against.
struct PlanContext {
  ModelCosts model;
  Cluster cluster;
  Efficiency eff;
  BatchSpec batch;
  PlanOptions options;
};

// Bytes per GPU on the busiest pipeline stage.
struct MemoryBreakdown {
  int stage = 0;  // which stage needs the most
  double weights = 0;
  double grads = 0;
  double optimizer = 0;     // master weights and AdamW moments
  double activations = 0;   // saved for backward, over the in-flight micro-batches
  double logits = 0;        // LM head output and loss (last stage)
  double moe_buffers = 0;   // expert dispatch send/receive buffers
  // Not in total(): the receive buffer a dropless layer would need if every token of the expert
  // group chose this GPU's experts (each token sends at most min(K, E/ep) copies to one GPU).
  double moe_buffers_worst_case = 0;
  double comm_buffers = 0;  // gathered sequence-parallel activations, gradient buckets
  double reserved = 0;      // runtime context and workspaces
  double fragmentation = 0;
  double in_flight_microbatches = 0;
  double total() const {
    return weights + grads + optimizer + activations + logits + moe_buffers + comm_buffers +
           reserved + fragmentation;
  }
  // What the engine's own accounting counts (model/memory_plan.h): no runtime reserve, no
  // allocator margin, no communication buffers.
  double accounted() const { return weights + grads + optimizer + activations + logits; }
};

// Seconds per training step, by cause. step_s is their sum.
struct TimeBreakdown {
  double compute = 0;        // GEMMs, attention and elementwise work of every micro-batch
  double recompute = 0;      // the part of compute spent recomputing activations
  double tp_comm = 0;        // exposed tensor/sequence-parallel collectives
  double ep_comm = 0;        // exposed expert all-to-all
  double ep_comm_intra = 0;  //   of which the intra-node part would take (unhidden) this long
  double ep_comm_inter = 0;  //   and the inter-node part this long
  double cp_comm = 0;        // exposed context-parallel ring exchange
  double expert_gemm = 0;      // of compute: the routed experts' GEMMs (plan/expert_gemm.h)
  double expert_overhead = 0;  // of compute: host time per local expert
  double expert_rows = 0;      // M: routed rows each expert multiplies per micro-batch
  double expert_gemm_rate = 0;  // achieved fraction of the GEMM rate, the experts' three passes
  double pp_comm = 0;        // pipeline sends
  double bubble = 0;         // pipeline fill and drain
  double dp_comm = 0;        // exposed data-parallel / ZeRO collectives
  double optimizer = 0;      // the optimizer step
  double overhead = 0;       // fixed per-step time from calibration
  double step_s = 0;
  Algorithm dp_algorithm = Algorithm::kNone;
  Algorithm tp_algorithm = Algorithm::kNone;
  double communication() const { return tp_comm + ep_comm + cp_comm + pp_comm + dp_comm; }
};

struct Evaluation {
  PlanLayout layout;
  MemoryBreakdown memory;
  TimeBreakdown time;
  bool fits = false;
  int64_t microbatches = 0;
  double tokens_per_s = 0;
  double model_tflops_per_gpu = 0;     // model FLOPs (no recomputation) per second per GPU / 1e12
  double hardware_tflops_per_gpu = 0;  // including recomputation
  double mfu = 0;                      // model FLOP/s over the bf16 peak
  double hfu = 0;                      // hardware FLOP/s over the bf16 peak
  double train_days = 0;               // for options.train_tokens
  double gpu_hours = 0;
  double energy_mwh = 0;  // server power x PUE
  double energy_usd = 0;
  double rental_usd = 0;  // gpu_hours x gpu_hour_usd
};

// REQUIRES: check_layout(layout, ...) is ok for ctx.
MemoryBreakdown plan_memory(const PlanContext& ctx, const PlanLayout& layout);
TimeBreakdown plan_step_time(const PlanContext& ctx, const PlanLayout& layout);
Evaluation evaluate(const PlanContext& ctx, const PlanLayout& layout);

// Parameters one GPU of pipeline stage `stage` holds before ZeRO sharding: dense ones split by
// tp (the embedding on the first stage, the LM head and the MTP modules on the last, and there a
// copy of the embedding when pp > 1 and a tied head or the MTP modules read it), routed experts
// split by ep.
// ZeRO-2/3 gather or reduce a unit whole, and a unit belongs to one replica group (the engine's
// zero/shard_layout.h): dense units (a layer's attention, norms, router and dense or shared
// FFN; the embedding; the LM head; an MTP module's own weights with its layer's dense ones) are
// replicated over dp * cp, expert units (a layer's routed experts) over edp. Each group keeps
// its own buffers, each the size of its largest unit.
struct StageParams {
  double dense = 0;
  double expert = 0;
  double largest_dense_unit = 0;   // on this GPU
  double largest_expert_unit = 0;  // on this GPU; 0 on a stage without MoE layers
  // Units of each group held whole at once: the one in use and the next (prefetch or
  // reduce-scatter in flight), plus, on every stage, one for the embedding when a tied head or
  // the MTP modules read it again (ShardLayout::slots); none of a group the stage has no units
  // of.
  int64_t dense_unit_buffers = 2;
  int64_t expert_unit_buffers = 0;
  int64_t layers = 0;
  // Parameters in those buffers.
  double gathered_units() const {
    return double(dense_unit_buffers) * largest_dense_unit +
           double(expert_unit_buffers) * largest_expert_unit;
  }
};
StageParams stage_params(const ModelCosts& model, const PlanLayout& layout, int64_t stage);

// Stages holding the same numbers of dense and MoE layers, and equally first or last (the last
// also holds the MTP modules), hold the same parameters and take the same time; the memory and
// time models visit the first stage of each kind only (the first has the most micro-batches in
// flight). At most a handful of kinds exist, whatever pp is, which keeps a search of thousands of
// GPUs fast.
struct StageSet {
  static constexpr int kMax = 16;
  int64_t stages[kMax] = {};
  int count = 0;
};
StageSet representative_stages(const ModelCosts& model, const PlanLayout& layout);

// Bytes per parameter, gradients and optimizer state for a precision.
struct StateBytes {
  double weight = 2, grad = 4, optimizer = 12;
};
StateBytes state_bytes(Precision p, GradPrecision grads = GradPrecision::kFp32);
// Bytes per activation element.
inline double activation_bytes(Precision p) { return p == Precision::kFp32 ? 4.0 : 2.0; }

}  // namespace symphony::plan
