#include "model/weight_grad_queue.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/check.h"
#include "model/linear.h"

namespace symphony {

void WeightGradQueue::keep_immediate(ParamId id) {
  if (size_t(id) >= immediate_.size()) immediate_.resize(size_t(id) + 1, false);
  immediate_[size_t(id)] = true;
}

void WeightGradQueue::reserve(int passes, int64_t elems) {
  SYM_CHECK(passes >= 0 && elems >= 0, "reserving {} passes of {} floats", passes, elems);
  if (size_t(passes) > passes_.size()) passes_.resize(size_t(passes));
  for (Pass& p : passes_)
    if (p.arena.numel() < elems && p.used == 0)
      p.arena = Buffer(DType::kF32, {elems}, MemoryCategory::kActivations);
}

int64_t WeightGradQueue::capacity() const {
  int64_t n = 0;
  for (const Pass& p : passes_) n += p.arena.numel();
  return n;
}

void WeightGradQueue::begin(int key) {
  SYM_CHECK(key >= 0 && !pending(key), "weight-gradient pass {} is already pending", key);
  pass_for(key);
  key_ = key;
}

WeightGradQueue::Pass& WeightGradQueue::pass_for(int key) {
  for (Pass& p : passes_)
    if (p.key == key) return p;
  for (Pass& p : passes_)
    if (p.key < 0) {
      p.key = key;
      return p;
    }
  passes_.emplace_back();
  passes_.back().key = key;
  return passes_.back();
}

bool WeightGradQueue::pending(int key) const {
  for (const Pass& p : passes_)
    if (p.key == key) return true;
  return false;
}

bool WeightGradQueue::recorded(int key, int block) const {
  for (const Pass& p : passes_)
    if (p.key == key)
      return std::any_of(p.records.begin(), p.records.end(),
                         [&](const Record& r) { return r.block == block; });
  return false;
}

int64_t WeightGradQueue::append(Pass& pass, ConstView v) {
  const int64_t n = v.numel();
  if (pass.arena.empty() || pass.used + n > pass.arena.numel()) {
    // Grows during the first step only: later steps record the same sizes.
    Buffer bigger(DType::kF32, {std::max(2 * pass.arena.numel(), pass.used + n)},
                  MemoryCategory::kActivations);
    if (pass.used > 0) std::memcpy(bigger.f32(), pass.arena.f32(), size_t(pass.used) * 4);
    pass.arena = std::move(bigger);
  }
  std::memcpy(pass.arena.f32() + pass.used, v.f32(), size_t(n) * 4);
  const int64_t at = pass.used;
  pass.used += n;
  return at;
}

void WeightGradQueue::linear_weight(const Exec& ex, ConstView x, ConstView dy, View dw) {
  if (!deferring()) return symphony::linear_backward_weight(ex, x, dy, dw);
  // Which parameter of the current block dw lies in.
  const ParamBlock& block = store_.block(block_);
  for (int u = block.first_unit; u < block.end_unit; ++u) {
    const ParamUnit& unit = store_.unit(u);
    for (ParamId id = unit.first; id < unit.end; ++id) {
      View g = store_.grad(id);
      if (dw.f32() < g.f32() || dw.f32() + dw.numel() > g.f32() + g.numel()) continue;
      if (size_t(id) < immediate_.size() && immediate_[size_t(id)])
        return symphony::linear_backward_weight(ex, x, dy, dw);
      Pass& pass = pass_for(key_);
      Record r{block_, id, dw.f32() - g.f32(), x.dim(0), x.dim(1), dy.dim(1), 0, 0, x.f32()};
      const Record* last = pass.records.empty() ? nullptr : &pass.records.back();
      r.x_at = last && last->x_source == x.f32() && last->rows == r.rows && last->in == r.in
                   ? last->x_at
                   : append(pass, x);
      r.dy_at = append(pass, dy);
      pass.records.push_back(r);
      return;
    }
  }
  SYM_CHECK(false, "a weight gradient outside the parameters of block {}", block_);
}

void WeightGradQueue::run(const Exec& ex, int key, UnitHooks* hooks) {
  Pass* pass = nullptr;
  for (Pass& p : passes_)
    if (p.key == key) pass = &p;
  SYM_CHECK(pass != nullptr, "no weight-gradient pass {} is pending", key);
  int open = -1;
  // Consecutive records of one input convert it once for bf16 GEMMs.
  std::optional<Bf16SharedOperand> shared;
  int64_t shared_x_at = -1;
  for (const Record& r : pass->records) {
    if (r.block != open) {
      shared.reset();
      shared_x_at = -1;
      if (open >= 0 && hooks) hooks->after_weight_grads(open);
      open = r.block;
      if (hooks) hooks->before_weight_grads(open);
    }
    View g = store_.grad(r.id);
    View dw(g.f32() + r.offset, DType::kF32, Shape{r.out, r.in});
    ConstView x(pass->arena.f32() + r.x_at, DType::kF32, Shape{r.rows, r.in});
    ConstView dy(pass->arena.f32() + r.dy_at, DType::kF32, Shape{r.rows, r.out});
    if (r.x_at != shared_x_at) {
      shared.reset();
      shared.emplace(x);
      shared_x_at = r.x_at;
    }
    symphony::linear_backward_weight(ex, x, dy, dw);
  }
  shared.reset();
  if (open >= 0 && hooks) hooks->after_weight_grads(open);
  pass->records.clear();
  pass->used = 0;
  pass->key = -1;
}

void linear_backward_weight(const Exec& ex, ConstView x, ConstView dy, View dw,
                            WeightGradQueue* queue) {
  if (queue) return queue->linear_weight(ex, x, dy, dw);
  linear_backward_weight(ex, x, dy, dw);
}

}  // namespace symphony
