#pragma once
// The LM head fused with softmax cross-entropy over a vocabulary split across the ranks of a
// tensor-parallel group (Megatron's vocabulary-parallel cross entropy). Each rank holds the head
// rows [vocab_first, vocab_first + Vl) and computes only those logits, `chunk` rows at a time in
// `scratch`, as kernels/cross_entropy.h does: neither the (N, V) logits nor any row of
// full-vocabulary logits exists on any rank. Per chunk, the ranks exchange two all-reduces of a
// few numbers per row: the row maxima (kMax), then the sums of exp(logit - max) and the target
// logits (kSum, one call).
//   loss_sum = sum over rows n with targets[n] >= 0 of  logsumexp(logits[n]) - logits[n, t_n]
//   with gradients (when dh is not empty), for g = grad_scale and this rank's logits block:
//     dlogits[n] = g * (softmax(logits[n]) - onehot(t_n))[vocab_first, vocab_first + Vl)
//                                                            (zero for ignored rows)
//     dh  = dlogits · w_block     (overwritten): this rank's PART of the input gradient; the
//                                 caller sums it over `tp` (all-reduce, or reduce-scatter)
//     dw += dlogits^T · h         (accumulated): the gradient of this rank's head rows
// h: (N, D), the same values on every rank of `tp`; w_block: (Vl, D); targets: N ids in [0, V) or
// negative (ignored), the same on every rank; scratch: (chunk >= 1, Vl); dh: (N, D) or empty for
// evaluation; dw: (Vl, D) or empty (only with dh); all of one dtype (f32, or f64).
// The blocks of the ranks must tile the vocabulary: every counted target lies in exactly one
// block (checked, fatal otherwise).
//
// The result is the same on every rank (each computes it from the same reduced sums). Every
// rank issues the same collectives (their number depends on N and chunk only), so a failed one
// cannot leave a peer waiting on a call this rank skipped; the first communication failure is
// stored into `status` (a failure already there is kept) and the function returns at once, with
// the result and gradients unspecified.
// Determinism: the result does not depend on the thread count, and for a given group size runs
// are bitwise reproducible. On the fast path the per-row arithmetic is that of
// kernels/cross_entropy_cpu.cc (vectorised exponential, float partial sums added in double), so
// one rank reproduces lm_head_cross_entropy(); f64 tensors and KernelImpl::kRef use exact
// exponentials summed in double and the reference GEMM.
// Memory: besides `scratch`, 4 * chunk doubles of per-row statistics in a thread_local buffer
// of the calling thread, grown on the first call with a larger chunk.
// Thread-safety: the calling thread issues the collectives; other threads may run the function
// concurrently with other communicators and buffers.

#include <cstdint>
#include <span>

#include "core/status.h"
#include "kernels/cross_entropy.h"
#include "parallel/comm.h"
#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

CrossEntropyResult vocab_parallel_cross_entropy(const Exec& ex, Comm& tp, ConstView h,
                                                ConstView w_block, int64_t vocab_first,
                                                std::span<const int32_t> targets, double grad_scale,
                                                View scratch, View dh, View dw, Status& status);

}  // namespace symphony
