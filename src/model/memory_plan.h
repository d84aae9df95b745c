#pragma once
// Bytes a single training process allocates, by category, computed from the config alone (for
// `symphony train --dry-run` and the planner). The same shapes the constructors allocate:
// tests/model/memory_plan_test.cc checks the plan against the measured allocation exactly.

#include <cstdint>
#include <optional>

#include "model/batch_shape.h"
#include "model/fp8_gemm.h"
#include "model/model_config.h"
#include "model/transformer.h"

namespace symphony {

struct MemoryPlan {
  int64_t weights = 0;
  int64_t grads = 0;
  int64_t optimizer = 0;    // AdamW first and second moments
  int64_t activations = 0;  // saved activations, residual stream, gradient scratch
  int64_t other = 0;        // RoPE table, selection biases
  int64_t total() const { return weights + grads + optimizer + activations + other; }
};

// REQUIRES: plan_training_memory_checked() of the same arguments has a value (true for a config
// that passed RunConfig validation and its own batch shape). `recompute` is kNone or kFull, the
// modes the model implements.
// `placement`: a rank of a parallel layout (parallel/shard_spec.h): its blocks of sharded
// parameters, and under expert parallelism the rows it may receive from its ep group.
// `sequence_parallel`: with tensor parallelism, whether the residual stream is split by rows.
// `saved`: the precision of the saved activations (Transformer's constructor).
MemoryPlan plan_training_memory(const ModelConfig& config, DType dtype, BatchShape shape,
                                Recompute recompute, const ShardPlacement& placement = {},
                                bool sequence_parallel = true, Precision saved = Precision::kFp32);
// As plan_training_memory, or std::nullopt when some byte count overflows int64 (a batch shape or
// sizes no machine holds). REQUIRES: config.validate() is ok; shape.batch, shape.seq_len >= 1;
// `recompute` is kNone or kFull.
std::optional<MemoryPlan> plan_training_memory_checked(const ModelConfig& config, DType dtype,
                                                       BatchShape shape, Recompute recompute,
                                                       const ShardPlacement& placement = {},
                                                       bool sequence_parallel = true,
                                                       Precision saved = Precision::kFp32);

// Elements one deferred weight-gradient pass of model/weight_grad_queue.h records at most on a
// rank of `placement` (its pipeline stage's layers), with micro-batches of `shape`: the inputs and
// output gradients of its linear layers' weight-gradient GEMMs, and of the LM head's when it is
// deferred. Exact for dense layers; MoE layers count every row the rank's experts may receive.
// The transformer reserves `placement.pipeline.deferred` passes of this size, and the plan counts
// them with the activations. Same REQUIRES as plan_training_memory.
int64_t weight_grad_pass_elems(const ModelConfig& config, BatchShape shape,
                               const ShardPlacement& placement, bool sequence_parallel = true);

// Elements of the largest BF16 GEMM's inputs (A and B together) in one training step on a rank of
// `placement`, with micro-batches of `shape`: the conversion scratch of kernels/gemm.h that a run
// with train.precision = "bf16" holds (cpu::gemm_bf16_scratch_bytes of it). Over the linear
// layers' forward (x·W^T), input-gradient (dy·W) and weight-gradient (dy^T·x) GEMMs and the LM
// head's; the router's GEMMs stay fp32. Exact for one rank; an upper bound under tensor
// parallelism (GEMMs over row chunks) and for MoE layers (an expert counted with every row the
// rank may receive for it: each token once). Same REQUIRES as plan_training_memory.
int64_t bf16_gemm_scratch_elems(const ModelConfig& config, BatchShape shape,
                                const ShardPlacement& placement = {},
                                bool sequence_parallel = true);
// The same for the routed experts' GEMMs alone (0 without MoE layers): the scratch each further
// thread holds for experts run side by side (model/moe/expert_threads.h).
int64_t bf16_expert_gemm_scratch_elems(const ModelConfig& config, BatchShape shape,
                                       const ShardPlacement& placement = {});
// The FP8 GEMM workspace (model/fp8_gemm.h) the linear layers need under train.precision =
// "fp8" with `recipe`: every site's three GEMMs at the most rows its layer can see, region by
// region; the trainer reserves it (Fp8Linears::reserve_workspace) before the first step.
Fp8GemmWorkspaceSize fp8_gemm_workspace_plan(const ModelConfig& config, BatchShape shape,
                                             const ShardPlacement& placement,
                                             const Fp8Recipe& recipe);

}  // namespace symphony
