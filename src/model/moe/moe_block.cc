#include "model/moe/moe_block.h"

#include <algorithm>

#include "kernels/elementwise.h"
#include "kernels/moe_permute.h"
#include "model/moe/load_balance.h"

namespace symphony {
namespace {
Buffer act(DType dtype, Shape shape) { return Buffer(dtype, shape, MemoryCategory::kActivations); }
View expert_slice(View stacked, int64_t e) {
  return stacked.rows(e, e + 1).reshape({stacked.dim(1), stacked.dim(2)});
}
ConstView expert_slice(ConstView stacked, int64_t e) {
  return stacked.rows(e, e + 1).reshape({stacked.dim(1), stacked.dim(2)});
}
}  // namespace

double MoeStats::max_over_mean() const {
  if (routed.empty()) return 0;
  int64_t total = 0, mx = 0;
  for (int64_t r : routed) total += r, mx = std::max(mx, r);
  return total == 0 ? 0 : double(mx) * double(routed.size()) / double(total);
}

MoeActs::MoeActs(const ModelConfig& c, int64_t rows, DType dtype)
    : logits(act(dtype, {rows, c.num_experts})),
      probs(act(dtype, {rows, c.num_experts})),
      weights(act(dtype, {rows, c.num_experts_per_tok})),
      idx(size_t(rows * c.num_experts_per_tok)),
      xg(act(dtype, {rows * c.num_experts_per_tok, c.hidden_size})),
      yg(act(dtype, {rows * c.num_experts_per_tok, c.hidden_size})),
      experts(dtype, rows * c.num_experts_per_tok, c.moe_intermediate_size),
      dprobs_aux(act(dtype, {rows, c.num_experts})),
      dweights(act(dtype, {rows, c.num_experts_per_tok})),
      dlogits(act(dtype, {rows, c.num_experts})) {
  if (c.n_shared_experts > 0) {
    shared = SwigluActBuffers(dtype, rows, c.n_shared_experts * c.moe_intermediate_size);
    shared_out = act(dtype, {rows, c.hidden_size});
  }
}

MoeBlock::MoeBlock(const ModelConfig& config, const std::string& prefix, ParamStore& store)
    : config_(config) {
  const int64_t d = config.hidden_size, e = config.num_experts, f = config.moe_intermediate_size;
  router_ = store.add(prefix + ".mlp.gate.weight", {e, d}, Decay::kYes);
  gate_ = store.add(prefix + ".mlp.experts.gate_proj", {e, f, d}, Decay::kYes);
  up_ = store.add(prefix + ".mlp.experts.up_proj", {e, f, d}, Decay::kYes);
  down_ = store.add(prefix + ".mlp.experts.down_proj", {e, d, f}, Decay::kYes);
  if (config.n_shared_experts > 0)
    shared_ = std::make_unique<DenseMlp>(prefix + ".mlp.shared_experts", d,
                                         config.n_shared_experts * f, store);
}

SwigluWeights MoeBlock::expert_weights(const ParamStore& store, int64_t e) const {
  return {expert_slice(store.param(gate_), e), expert_slice(store.param(up_), e),
          expert_slice(store.param(down_), e)};
}

SwigluGrads MoeBlock::expert_grads(ParamStore& store, int64_t e) const {
  return {expert_slice(store.grad(gate_), e), expert_slice(store.grad(up_), e),
          expert_slice(store.grad(down_), e)};
}

void MoeBlock::forward(const Exec& ex, const ParamStore& store, ConstView bias, ConstView x,
                       const LossScales& scales, MoeActs& a, View y, MoeStats& stats) const {
  const int64_t n = x.dim(0), e_count = config_.num_experts, k = config_.num_experts_per_tok;
  const TopkNorm norm = config_.norm_topk_prob ? TopkNorm::kNormalize : TopkNorm::kNone;
  View logits = a.logits.view().rows(0, n), probs = a.probs.view().rows(0, n);
  View weights = a.weights.view().rows(0, n);
  std::span<int32_t> idx(a.idx.data(), size_t(n * k));
  linear_forward(ex, x, store.param(router_), logits);
  router_topk_forward(ex, logits, bias, norm, probs, idx, weights);

  int64_t capacity = expert_capacity(config_.capacity_factor, n, k, e_count);
  build_dispatch_plan(idx, n, e_count, k, capacity, a.plan);
  const DispatchPlan& plan = a.plan;
  const int64_t rows = plan.kept_rows();
  View xg = a.xg.view().rows(0, rows), yg = a.yg.view().rows(0, rows);
  moe_gather(ex, x, plan.token_of_row, xg);
  SwigluActs acts = a.experts.view(rows);
  for (int64_t e = 0; e < e_count; ++e) {
    int64_t begin = plan.offsets[size_t(e)], end = plan.offsets[size_t(e + 1)];
    if (begin == end) continue;
    swiglu_mlp_forward(ex, xg.rows(begin, end), expert_weights(store, e), acts.rows(begin, end),
                       yg.rows(begin, end));
  }
  moe_combine(ex, yg, weights, plan.row_of_slot, y);
  if (shared_) {
    View shared_out = a.shared_out.view().rows(0, n);
    swiglu_mlp_forward(ex, x, shared_->weights(store), a.shared.view(n), shared_out);
    add(ex, y, shared_out, y);
  }

  stats.aux_loss += aux_loss_forward_backward(probs, plan.routed, k, config_.router_aux_loss_coef,
                                              scales.aux, a.dprobs_aux.view().rows(0, n));
  stats.z_loss += z_loss_forward_backward(logits, config_.router_z_loss_coef, scales.aux, View());
  for (int64_t e = 0; e < e_count; ++e) stats.routed[size_t(e)] += plan.routed[size_t(e)];
  stats.dropped += plan.dropped;
  stats.tokens += n;
}

void MoeBlock::backward(const Exec& ex, ParamStore& store, ConstView x, ConstView dy,
                        const LossScales& scales, MoeActs& a, View dx) const {
  const int64_t n = x.dim(0), e_count = config_.num_experts, k = config_.num_experts_per_tok;
  const TopkNorm norm = config_.norm_topk_prob ? TopkNorm::kNormalize : TopkNorm::kNone;
  const DispatchPlan& plan = a.plan;
  const int64_t rows = plan.kept_rows();
  if (shared_) {
    swiglu_mlp_backward(ex, x, shared_->weights(store), a.shared.view(n), dy,
                        shared_->grads(store), dx, Accumulate::kNo);
  } else {
    if (dx.dtype() == DType::kF64)
      std::fill_n(dx.data<double>(), dx.numel(), 0.0);
    else
      std::fill_n(dx.data<float>(), dx.numel(), 0.f);
  }
  View weights = a.weights.view().rows(0, n), dweights = a.dweights.view().rows(0, n);
  View xg = a.xg.view().rows(0, rows), yg = a.yg.view().rows(0, rows);
  // yg becomes the gradient of the expert outputs, then xg the gradient of the expert inputs.
  moe_combine_backward(ex, dy, yg, weights, plan.row_of_slot, dweights, yg);
  SwigluActs acts = a.experts.view(rows);
  for (int64_t e = 0; e < e_count; ++e) {
    int64_t begin = plan.offsets[size_t(e)], end = plan.offsets[size_t(e + 1)];
    if (begin == end) continue;
    swiglu_mlp_backward(ex, xg.rows(begin, end), expert_weights(store, e), acts.rows(begin, end),
                        yg.rows(begin, end), expert_grads(store, e), xg.rows(begin, end),
                        Accumulate::kNo);
  }
  moe_scatter_add(ex, xg, plan.row_of_slot, dx);

  View dlogits = a.dlogits.view().rows(0, n);
  ConstView dprobs_aux =
      config_.router_aux_loss_coef != 0 ? ConstView(a.dprobs_aux.view().rows(0, n)) : ConstView();
  std::span<const int32_t> idx(a.idx.data(), size_t(n * k));
  router_topk_backward(ex, a.probs.view().rows(0, n), idx, norm, dweights, dprobs_aux, dlogits);
  z_loss_forward_backward(a.logits.view().rows(0, n), config_.router_z_loss_coef, scales.aux,
                          dlogits);
  linear_backward_weight(ex, x, dlogits, store.grad(router_));
  linear_backward_input(ex, store.param(router_), dlogits, dx, Accumulate::kYes);
}

}  // namespace symphony
