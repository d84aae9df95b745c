#pragma once
// Whether a training run fits the machine, decided before anything is allocated: the bytes each
// process will allocate (the memory plan that `symphony train --dry-run` prints) against the
// memory available to the process (core/host_memory.h). A run that cannot fit is refused with
// both figures and its largest category, instead of being killed by the OOM killer minutes in.

#include <cstdint>
#include <string_view>

#include "config/run_config.h"
#include "core/host_memory.h"
#include "core/status.h"
#include "parallel/layout.h"
#include "parallel/shard_spec.h"

namespace symphony {

// Bytes one training process allocates, by category: model/memory_plan.h's plan, with each rank's
// sharded weights, gradients and moments (zero/shard_layout.h) under `layout`: its blocks of
// expert-parallel parameters, ZeRO shards over each replica group; activations include the bf16
// GEMM scratch (gemm_scratch_bytes).
struct ProcessMemory {
  int64_t weights = 0;
  int64_t grads = 0;
  int64_t optimizer = 0;
  int64_t communication = 0;
  int64_t activations = 0;
  int64_t other = 0;
  int64_t total() const {
    return weights + grads + optimizer + communication + activations + other;
  }
};
// Bytes of the bf16 GEMM conversion scratch (kernels/gemm.h) a training process of `config` holds
// on a rank of `placement` (with routed experts, the further OpenMP threads' too, where experts
// run side by side: model/moe/expert_threads.h), with, under "fp8", the FP8 GEMM workspace
// (memory_plan.h fp8_gemm_workspace_plan): 0 when train.precision is "fp32". The trainer
// reserves both up front (reserve_bf16_gemm_scratch for the first); they are counted with the
// activations.
int64_t gemm_scratch_bytes(const RunConfig& config, const ShardPlacement& placement = {});
// Grows the bf16 GEMM conversion scratch of this thread and of its OpenMP team's other threads
// to what gemm_scratch_bytes counts, so that no step (or evaluation) allocates it. Nothing under
// "fp32".
void reserve_bf16_gemm_scratch(const RunConfig& config, const ShardPlacement& placement = {});

// The ranks of pipeline stage `stage` (parallel/pipeline_stages.h: its layers, the embedding on
// the first, the LM head on the last, one activation slot per micro-batch its schedule keeps in
// flight). Errors: the schedule cannot run the step's micro-batches (train/model_layout.h).
Result<ProcessMemory> plan_stage_memory(const RunConfig& config, const ParallelLayout& layout,
                                        int stage);
// The most any rank needs: the largest stage's. REQUIRES: validate(config) is ok, `layout` was
// made from config.parallel and plan_stage_memory succeeds.
ProcessMemory plan_process_memory(const RunConfig& config, const ParallelLayout& layout);

// Refuses (kInvalidArgument) a run whose `processes_on_host` processes, each needing
// plan_process_memory(), need more than host.available(), naming both figures, the largest
// category and what to change; `override_hint` ends the message ("pass --ignore-memory-check").
// Nothing is refused when the available memory is unknown. Errors of the parallel layout against
// `world_size` are returned as ParallelLayout::create gives them.
Status check_training_memory(const RunConfig& config, int world_size, int processes_on_host,
                             const HostMemory& host, std::string_view override_hint);

// As above, for this process: the memory read now (read_host_memory()) and the processes the MPI
// launcher started on this host (OMPI_COMM_WORLD_LOCAL_SIZE from OpenMPI, MPI_LOCALNRANKS from
// MPICH's Hydra; 1 when neither is set).
Status check_training_memory(const RunConfig& config, int world_size,
                             std::string_view override_hint);

}  // namespace symphony
