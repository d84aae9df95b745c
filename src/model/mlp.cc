#include "model/mlp.h"

#include "core/check.h"
#include "kernels/bf16_convert.h"
#include "kernels/swiglu.h"
#include "model/weight_grad_queue.h"

namespace symphony {

void swiglu_mlp_forward(const Exec& ex, ConstView x, const SwigluWeights& w, const SwigluActs& acts,
                        View y) {
  linear_forward(ex, x, w.gate, acts.g);
  linear_forward(ex, x, w.up, acts.u);
  swiglu_forward(ex, acts.g, acts.u, acts.a);
  linear_forward(ex, acts.a, w.down, y);
}

void swiglu_mlp_backward(const Exec& ex, ConstView x, const SwigluWeights& w,
                         const SwigluActs& acts, ConstView dy, const SwigluGrads& grads, View dx,
                         Accumulate acc) {
  linear_backward_weight(ex, acts.a, dy, grads.down, grads.queue);
  // `a` is no longer needed: it receives da, then g and u receive dg and du in place.
  linear_backward_input(ex, w.down, dy, acts.a, Accumulate::kNo);
  swiglu_backward(ex, acts.g, acts.u, acts.a, acts.g, acts.u);
  linear_backward_weight(ex, x, acts.g, grads.gate, grads.queue);
  linear_backward_weight(ex, x, acts.u, grads.up, grads.queue);
  linear_backward_input(ex, w.gate, acts.g, dx, acc);
  linear_backward_input(ex, w.up, acts.u, dx, Accumulate::kYes);
}

void swiglu_mlp_backward_weights(const Exec& ex, ConstView x, const SwigluActs& acts,
                                 const SwigluGrads& grads) {
  linear_backward_weight(ex, x, acts.g, grads.gate, grads.queue);
  linear_backward_weight(ex, x, acts.u, grads.up, grads.queue);
}

SwigluActs SwigluScratch::view(int64_t rows, int64_t width) {
  const int64_t one = rows * width;
  SYM_CHECK(3 * one <= buf_.numel(), "SwiGLU scratch of {} elements is too small for {} x {}",
            buf_.numel(), rows, width);
  float* base = buf_.f32();
  return {View(base, DType::kF32, {rows, width}), View(base + one, DType::kF32, {rows, width}),
          View(base + 2 * one, DType::kF32, {rows, width})};
}

SwigluActBuffers::SwigluActBuffers(SwigluScratch& scratch, int64_t rows, int64_t width)
    : packed_(DType::kF32, {bf16_storage_elems(rows, width)}, MemoryCategory::kActivations),
      scratch_(&scratch), rows_(rows), width_(width) {
  SYM_CHECK(scratch.elems() >= numel(rows, width),
            "SwiGLU scratch of {} elements is too small for {} x {}", scratch.elems(), rows, width);
}

uint16_t* SwigluActBuffers::packed(int which) {
  return static_cast<uint16_t*>(static_cast<void*>(packed_.f32())) + which * rows_ * width_;
}

SwigluActs SwigluActBuffers::view(int64_t rows) {
  SYM_CHECK(rows <= rows_, "SwiGLU activations of {} rows hold {}", rows_, rows);
  if (scratch_) {  // laid out for the full capacity, so every row count finds the same rows
    const SwigluActs all = scratch_->view(rows_, width_);
    return {all.g.rows(0, rows), all.u.rows(0, rows), all.a.rows(0, rows)};
  }
  return {g_.view().rows(0, rows), u_.view().rows(0, rows), a_.view().rows(0, rows)};
}

void SwigluActBuffers::save(const Exec& ex, int64_t rows) {
  if (!scratch_) return;
  const SwigluActs work = view(rows);
  const size_t n = size_t(rows * width_);
  bf16_from_f32(ex, {work.g.f32(), n}, {packed(0), n});
  bf16_from_f32(ex, {work.u.f32(), n}, {packed(1), n});
}

SwigluActs SwigluActBuffers::restore(const Exec& ex, int64_t rows) {
  const SwigluActs work = view(rows);
  if (!scratch_) return work;
  const size_t n = size_t(rows * width_);
  f32_from_bf16(ex, {packed(0), n}, {work.g.f32(), n});
  f32_from_bf16(ex, {packed(1), n}, {work.u.f32(), n});
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
