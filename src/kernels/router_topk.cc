#include "kernels/router_topk.h"

#include <cmath>

namespace symphony {
namespace {

bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}

void check_spec(const RouterSpec& spec, int64_t e, int64_t k, const char* op) {
  SYM_CHECK(spec.groups >= 1 && e % spec.groups == 0, "{}: {} groups do not divide E = {}", op,
            spec.groups, e);
  SYM_CHECK(1 <= spec.topk_groups && spec.topk_groups <= spec.groups,
            "{}: topk_groups = {} outside [1, groups = {}]", op, spec.topk_groups, spec.groups);
  SYM_CHECK(1 <= k && k <= spec.topk_groups * (e / spec.groups),
            "{}: K = {} outside [1, {} experts of the {} best groups]", op, k,
            spec.topk_groups * (e / spec.groups), spec.topk_groups);
  SYM_CHECK(spec.scale > 0 && std::isfinite(spec.scale), "{}: scale {} must be positive", op,
            spec.scale);
}

}  // namespace

void router_topk_forward(const Exec& ex, ConstView logits, ConstView bias, const RouterSpec& spec,
                         View scores, std::span<int32_t> idx, View weights) {
  SYM_CHECK(logits.ndim() == 2 && same_shape(logits, scores),
            "router_topk: logits and scores (N, E)");
  SYM_CHECK(weights.ndim() == 2 && weights.dim(0) == logits.dim(0),
            "router_topk: weights must be (N, K)");
  const int64_t n = logits.dim(0), e = logits.dim(1), k = weights.dim(1);
  check_spec(spec, e, k, "router_topk");
  SYM_CHECK(int64_t(idx.size()) == n * k, "router_topk: idx holds {}, need N*K = {}", idx.size(),
            n * k);
  SYM_CHECK(bias.empty() || bias.numel() == e, "router_topk: bias must have E = {} entries", e);
  SYM_CHECK(scores.dtype() == logits.dtype() && weights.dtype() == logits.dtype() &&
                (bias.empty() || bias.dtype() == logits.dtype()),
            "router_topk: mixed dtypes");
  if (use_ref(ex, logits))
    return ref::router_topk_forward(logits, bias, spec, scores, idx, weights);
  cpu::router_topk_forward(logits, bias, spec, scores, idx, weights);
}

void router_topk_backward(const Exec& ex, ConstView scores, std::span<const int32_t> idx,
                          const RouterSpec& spec, ConstView dweights, ConstView dscores_extra,
                          View dlogits) {
  SYM_CHECK(scores.ndim() == 2 && same_shape(scores, dlogits),
            "router_topk_backward: scores and dlogits (N, E)");
  SYM_CHECK(dweights.ndim() == 2 && dweights.dim(0) == scores.dim(0),
            "router_topk_backward: dweights must be (N, K)");
  const int64_t n = scores.dim(0), e = scores.dim(1), k = dweights.dim(1);
  check_spec(spec, e, k, "router_topk_backward");
  SYM_CHECK(int64_t(idx.size()) == n * k, "router_topk_backward: idx holds {}, need N*K = {}",
            idx.size(), n * k);
  for (int32_t i : idx) SYM_CHECK(0 <= i && i < e, "router_topk_backward: expert {} of {}", i, e);
  SYM_CHECK(dscores_extra.empty() || same_shape(dscores_extra, scores),
            "router_topk_backward: dscores_extra must be empty or (N, E)");
  SYM_CHECK(dweights.dtype() == scores.dtype() && dlogits.dtype() == scores.dtype() &&
                (dscores_extra.empty() || dscores_extra.dtype() == scores.dtype()),
            "router_topk_backward: mixed dtypes");
  if (use_ref(ex, scores))
    return ref::router_topk_backward(scores, idx, spec, dweights, dscores_extra, dlogits);
  cpu::router_topk_backward(scores, idx, spec, dweights, dscores_extra, dlogits);
}

}  // namespace symphony
