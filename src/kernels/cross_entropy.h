#pragma once
// LM head fused with softmax cross-entropy. logits = h · W^T are produced `chunk` rows at a time
// into `scratch`, so the (N, V) logits never exist at once.
//   loss_sum = sum over rows n with targets[n] >= 0 of  logsumexp(logits[n]) - logits[n, t_n]
//   with gradients (when dh is not empty), for g = grad_scale:
//     dlogits[n] = g * (softmax(logits[n]) - onehot(t_n))     (zero for ignored rows)
//     dh  = dlogits · W            (overwritten)
//     dw += dlogits^T · h          (accumulated)
// h: (N, D); w: (V, D); targets: N ids, negative = ignored; dh: (N, D) or empty for eval;
// dw: (V, D) or empty; scratch: (chunk, V), chunk >= 1, dtype of h.
// A HeadGradSink takes the weight-gradient terms in place of dw (cpu kernels only): for each row
// chunk, in order, add(h_chunk, dlogits_chunk) with dw += dlogits_chunk^T · h_chunk due. A
// deferred weight-gradient pass (model/weight_grad_queue.h) runs those GEMMs later, in the same
// order and chunks, so its dw is bitwise the one computed here.
// The GEMMs run in ex.matmul's precision (bf16 in a bf16 run, as Megatron-LM runs its output
// layer); the softmax, the loss and the logit gradients stay fp32 (double in the reference).

#include <cstdint>
#include <span>

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

struct CrossEntropyResult {
  double loss_sum = 0;   // summed over counted rows
  int64_t count = 0;     // rows with a target >= 0
};

class HeadGradSink {
 public:
  virtual void add(ConstView h_chunk, ConstView dlogits_chunk) = 0;

 protected:
  ~HeadGradSink() = default;
};

CrossEntropyResult lm_head_cross_entropy(const Exec& ex, ConstView h, ConstView w,
                                         std::span<const int32_t> targets, double grad_scale,
                                         View scratch, View dh, View dw,
                                         HeadGradSink* sink = nullptr);

// The same loss in two passes, for a pipeline whose last stage runs the loss in its forward pass
// and the LM head's gradients in its backward (GPipe, train/pipeline_step.h):
// lm_head_logit_grads returns the loss and writes every row's logit gradients into dlogits
// (N, V); lm_head_grads then overwrites dh and adds to dw.
// Both walk the rows `chunk` at a time with the fused kernel's GEMMs, so together they are
// bitwise lm_head_cross_entropy with a scratch of `chunk` rows. Fast kernels and f32 only.
CrossEntropyResult lm_head_logit_grads(const Exec& ex, ConstView h, ConstView w,
                                       std::span<const int32_t> targets, double grad_scale,
                                       int64_t chunk, View dlogits);
void lm_head_grads(const Exec& ex, ConstView h, ConstView w, ConstView dlogits, int64_t chunk,
                   View dh, View dw);

namespace ref {
// `matmul` as for cpu:: below: with kBf16 (fp32 views) the GEMM inputs are rounded to bf16.
CrossEntropyResult lm_head_cross_entropy(Precision matmul, ConstView h, ConstView w,
                                         std::span<const int32_t> targets, double grad_scale,
                                         View dh, View dw);
}  // namespace ref
namespace cpu {
// `matmul`: the precision of the three GEMMs (kernels/gemm.h); the softmax and loss stay fp32.
CrossEntropyResult lm_head_cross_entropy(Precision matmul, ConstView h, ConstView w,
                                         std::span<const int32_t> targets, double grad_scale,
                                         View scratch, View dh, View dw,
                                         HeadGradSink* sink = nullptr);
CrossEntropyResult lm_head_logit_grads(Precision matmul, ConstView h, ConstView w,
                                       std::span<const int32_t> targets, double grad_scale,
                                       int64_t chunk, View dlogits);
void lm_head_grads(Precision matmul, ConstView h, ConstView w, ConstView dlogits, int64_t chunk,
                   View dh, View dw);
}  // namespace cpu

}  // namespace symphony
