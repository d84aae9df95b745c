#include "model/mlp.h"

#include "core/check.h"
#include "kernels/swiglu.h"
#include "model/weight_grad_queue.h"

namespace symphony {

void swiglu_mlp_forward(const Exec& ex, ConstView x, const SwigluWeights& w, const SwigluActs& acts,
                        View y) {
  {
    const Bf16SharedOperand shared(x);
    linear_forward(ex, x, w.gate, acts.g);
    linear_forward(ex, x, w.up, acts.u);
  }
  swiglu_forward(ex, acts.g, acts.u, acts.a);
  linear_forward(ex, acts.a, w.down, y);
}

void swiglu_mlp_backward(const Exec& ex, ConstView x, const SwigluWeights& w,
                         const SwigluActs& acts, ConstView dy, const SwigluGrads& grads, View dx,
                         Accumulate acc) {
  {
    const Bf16SharedOperand shared(dy);
    linear_backward_weight(ex, acts.a, dy, grads.down, grads.queue);
    // `a` is no longer needed: it receives da, then g and u receive dg and du in place.
    linear_backward_input(ex, w.down, dy, acts.a, Accumulate::kNo);
  }
  swiglu_backward(ex, acts.g, acts.u, acts.a, acts.g, acts.u);
  swiglu_mlp_backward_weights(ex, x, acts, grads);
  linear_backward_input(ex, w.gate, acts.g, dx, acc);
  linear_backward_input(ex, w.up, acts.u, dx, Accumulate::kYes);
}

void swiglu_mlp_backward_weights(const Exec& ex, ConstView x, const SwigluActs& acts,
                                 const SwigluGrads& grads) {
  const Bf16SharedOperand shared(x);
  linear_backward_weight(ex, x, acts.g, grads.gate, grads.queue);
  linear_backward_weight(ex, x, acts.u, grads.up, grads.queue);
}

SwigluActs SwigluActBuffers::restore(const Exec& ex, int64_t rows) {
  const SwigluActs work = view(rows);
  if (!bf16()) return work;
  stash_.restore(ex, rows);
  swiglu_forward(ex, work.g, work.u, work.a);
  return work;
}

DenseMlp::DenseMlp(const std::string& prefix, int64_t hidden, int64_t width, ParamStore& store,
                   Split split) {
  const ShardSpec by_output = split == Split::kTensor ? ShardSpec{Axis::kTensor, 0} : ShardSpec{};
  const ShardSpec by_input = split == Split::kTensor ? ShardSpec{Axis::kTensor, 1} : ShardSpec{};
  gate_ = store.add(prefix + ".gate_proj.weight", {width, hidden}, Decay::kYes, by_output);
  up_ = store.add(prefix + ".up_proj.weight", {width, hidden}, Decay::kYes, by_output);
  down_ = store.add(prefix + ".down_proj.weight", {hidden, width}, Decay::kYes, by_input);
  width_ = store.info(gate_).shape.dims[0];
}

SwigluWeights DenseMlp::weights(const ParamStore& store) const {
  return {store.param(gate_), store.param(up_), store.param(down_)};
}

SwigluGrads DenseMlp::grads(ParamStore& store) const {
  return {store.grad(gate_), store.grad(up_), store.grad(down_), store.weight_grad_queue()};
}

}  // namespace symphony
