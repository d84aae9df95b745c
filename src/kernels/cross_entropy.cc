#include "kernels/cross_entropy.h"

namespace symphony {
namespace {

// h (N, D), w (V, D) of one dtype, V >= 1, N targets each below V.
void check_inputs(ConstView h, ConstView w, std::span<const int32_t> targets) {
  SYM_CHECK(h.ndim() == 2 && w.ndim() == 2 && h.dim(1) == w.dim(1),
            "cross_entropy: h (N, D) and w (V, D) must share D");
  SYM_CHECK(h.dtype() == w.dtype(), "cross_entropy: h and w dtypes differ");
  const int64_t n = h.dim(0), v = w.dim(0);
  SYM_CHECK(v >= 1, "cross_entropy: empty vocabulary");
  SYM_CHECK(int64_t(targets.size()) == n, "cross_entropy: {} targets for {} rows", targets.size(),
            n);
  for (int32_t t : targets) SYM_CHECK(t < v, "cross_entropy: target {} >= vocab {}", t, v);
}

}  // namespace

CrossEntropyResult lm_head_cross_entropy(const Exec& ex, ConstView h, ConstView w,
                                         std::span<const int32_t> targets, double grad_scale,
                                         View scratch, View dh, View dw,
                                         HeadGradSink* sink) {
  check_inputs(h, w, targets);
  const int64_t v = w.dim(0);
  // Gradients are produced only together with dh; a dw without dh would silently stay unchanged.
  SYM_CHECK(!(dh.empty() && (!dw.empty() || sink)), "cross_entropy: dw given without dh");
  SYM_CHECK(!(sink && !dw.empty()), "cross_entropy: both dw and a weight-gradient sink given");
  if (!dh.empty())
    SYM_CHECK(same_shape(dh, h) && dh.dtype() == h.dtype(), "cross_entropy: dh must match h");
  if (!dw.empty())
    SYM_CHECK(same_shape(dw, w) && dw.dtype() == w.dtype(), "cross_entropy: dw must match w");
  if (ex.impl == KernelImpl::kRef || h.dtype() == DType::kF64) {
    SYM_CHECK(sink == nullptr, "cross_entropy: the reference kernel takes no weight-gradient sink");
    return ref::lm_head_cross_entropy(ex.matmul, h, w, targets, grad_scale, dh, dw);
  }
  SYM_CHECK(scratch.ndim() == 2 && scratch.dim(0) >= 1 && scratch.dim(1) == v &&
                scratch.dtype() == h.dtype(),
            "cross_entropy: scratch must be (chunk >= 1, V = {}) of h's dtype", v);
  return cpu::lm_head_cross_entropy(ex.matmul, h, w, targets, grad_scale, scratch, dh, dw, sink);
}

namespace {

void check_two_pass(const Exec& ex, ConstView h, ConstView w, ConstView dlogits, int64_t chunk) {
  SYM_CHECK(ex.impl != KernelImpl::kRef && h.dtype() == DType::kF32 && w.dtype() == DType::kF32 &&
                dlogits.dtype() == DType::kF32,
            "cross_entropy: the two-pass loss runs the fast f32 kernels only");
  SYM_CHECK(dlogits.ndim() == 2 && dlogits.dim(0) == h.dim(0) && dlogits.dim(1) == w.dim(0),
            "cross_entropy: logit gradients must be (N = {}, V = {})", h.dim(0), w.dim(0));
  SYM_CHECK(chunk >= 1, "cross_entropy: chunk of {} rows", chunk);
}

}  // namespace

CrossEntropyResult lm_head_logit_grads(const Exec& ex, ConstView h, ConstView w,
                                       std::span<const int32_t> targets, double grad_scale,
                                       int64_t chunk, View dlogits) {
  check_inputs(h, w, targets);
  check_two_pass(ex, h, w, dlogits, chunk);
  return cpu::lm_head_logit_grads(ex.matmul, h, w, targets, grad_scale, chunk, dlogits);
}

void lm_head_grads(const Exec& ex, ConstView h, ConstView w, ConstView dlogits, int64_t chunk,
                   View dh, View dw) {
  SYM_CHECK(h.ndim() == 2 && w.ndim() == 2 && h.dim(1) == w.dim(1),
            "cross_entropy: h (N, D) and w (V, D) must share D");
  check_two_pass(ex, h, w, dlogits, chunk);
  SYM_CHECK(same_shape(dh, h) && dh.dtype() == h.dtype(), "cross_entropy: dh must match h");
  SYM_CHECK(same_shape(dw, w) && dw.dtype() == w.dtype(), "cross_entropy: dw must match w");
  cpu::lm_head_grads(ex.matmul, h, w, dlogits, chunk, dh, dw);
}

}  // namespace symphony
