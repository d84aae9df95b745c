#pragma once
// How a MoE layer runs its local experts' GEMMs: one expert per thread, each on one thread, or
// one expert at a time with every thread in each GEMM.
//
// An expert's GEMMs hold a few hundred rows (tokens x k / experts). Split over every thread, as a
// single GEMM is, they lose a fifth of their speed to the split (bench-moe-small's expert shapes:
// 350-360 bf16 GFLOP/s on two threads against 220 on one, `symphony bench gemm`), and the
// elementwise kernels between them pay a fork-join each. Experts run side by side instead:
// largest first, each expert's segments in order on one thread (its weight gradients accumulate
// segment by segment), the kernels inside running single-threaded (nested OpenMP regions are
// inactive). An expert's results do not depend on the thread that computes it, so a step stays
// bitwise repeatable.
//
// Side by side needs fast kernels (kernels/gemm.h: each thread converts bf16 GEMM inputs into
// its own scratch, reserved up front with cpu::gemm_bf16_reserve_workers) on a BLAS that runs on
// the calling thread inside a parallel region (cpu::blas_runs_nested), no FP8 sites (their
// statistics are one object) and no weight-gradient queue deferring (its records are one list).

#include <cstdint>
#include <functional>
#include <span>

#include "tensor/exec.h"

namespace symphony {

class WeightGradQueue;

// Whether experts run side by side for `ex` (queue: the backward's, or null).
bool experts_side_by_side(const Exec& ex, const WeightGradQueue* queue);

// Calls fn(s) for each non-empty segment s of [first, last), rows [offsets[s], offsets[s + 1]),
// segments expert-major (segment s belongs to expert s / per_expert), each expert's in order; the
// experts side by side when `side_by_side` and more than one thread is available.
void for_each_expert_segment(int64_t first, int64_t last, int64_t per_expert,
                             std::span<const int64_t> offsets, bool side_by_side,
                             const std::function<void(int64_t)>& fn);

}  // namespace symphony
