#include "kernels/router_topk.h"

namespace symphony {
namespace {

bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}

}  // namespace

void router_topk_forward(const Exec& ex, ConstView logits, ConstView bias, TopkNorm norm,
                         View probs, std::span<int32_t> idx, View weights) {
  SYM_CHECK(logits.ndim() == 2 && same_shape(logits, probs),
            "router_topk: logits and probs (N, E)");
  SYM_CHECK(weights.ndim() == 2 && weights.dim(0) == logits.dim(0),
            "router_topk: weights must be (N, K)");
  const int64_t n = logits.dim(0), e = logits.dim(1), k = weights.dim(1);
  SYM_CHECK(1 <= k && k <= e, "router_topk: K = {} outside [1, E = {}]", k, e);
  SYM_CHECK(int64_t(idx.size()) == n * k, "router_topk: idx holds {}, need N*K = {}", idx.size(),
            n * k);
  SYM_CHECK(bias.empty() || bias.numel() == e, "router_topk: bias must have E = {} entries", e);
  SYM_CHECK(probs.dtype() == logits.dtype() && weights.dtype() == logits.dtype() &&
                (bias.empty() || bias.dtype() == logits.dtype()),
            "router_topk: mixed dtypes");
  if (use_ref(ex, logits)) return ref::router_topk_forward(logits, bias, norm, probs, idx, weights);
  cpu::router_topk_forward(logits, bias, norm, probs, idx, weights);
}

void router_topk_backward(const Exec& ex, ConstView probs, std::span<const int32_t> idx,
                          TopkNorm norm, ConstView dweights, ConstView dprobs_extra, View dlogits) {
  SYM_CHECK(probs.ndim() == 2 && same_shape(probs, dlogits),
            "router_topk_backward: probs and dlogits (N, E)");
  SYM_CHECK(dweights.ndim() == 2 && dweights.dim(0) == probs.dim(0),
            "router_topk_backward: dweights must be (N, K)");
  const int64_t n = probs.dim(0), e = probs.dim(1), k = dweights.dim(1);
  SYM_CHECK(1 <= k && k <= e, "router_topk_backward: K = {} outside [1, E = {}]", k, e);
  SYM_CHECK(int64_t(idx.size()) == n * k, "router_topk_backward: idx holds {}, need N*K = {}",
            idx.size(), n * k);
  for (int32_t i : idx) SYM_CHECK(0 <= i && i < e, "router_topk_backward: expert {} of {}", i, e);
  SYM_CHECK(dprobs_extra.empty() || same_shape(dprobs_extra, probs),
            "router_topk_backward: dprobs_extra must be empty or (N, E)");
  SYM_CHECK(dweights.dtype() == probs.dtype() && dlogits.dtype() == probs.dtype() &&
                (dprobs_extra.empty() || dprobs_extra.dtype() == probs.dtype()),
            "router_topk_backward: mixed dtypes");
  if (use_ref(ex, probs))
    return ref::router_topk_backward(probs, idx, norm, dweights, dprobs_extra, dlogits);
  cpu::router_topk_backward(probs, idx, norm, dweights, dprobs_extra, dlogits);
}

}  // namespace symphony
