#include "parallel/zero.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/timer.h"
#include "model/init.h"
#include "optim/grad_norm.h"

namespace symphony {

namespace {
// Weight slots: the unit in use and the prefetched next one, plus the embedding when it is also
// the LM head (held through the whole backward pass). Gradient slots: the unit being computed and
// the one reducing, plus the tied embedding.
int slots_needed(const ModelConfig& config) { return config.tie_word_embeddings ? 3 : 2; }
constexpr int64_t kAlign = 16;   // floats: slices start 64-byte aligned
}  // namespace

ParamResidency DataParallel::residency_for(ZeroStage stage) {
  ParamResidency r;
  if (stage >= ZeroStage::kGradients) r.grads = Residency::kWindowed;
  if (stage >= ZeroStage::kParameters) r.weights = Residency::kWindowed;
  return r;
}

int64_t DataParallel::slice_numel(int64_t numel, int64_t dp) {
  return ((numel + dp - 1) / dp + kAlign - 1) / kAlign * kAlign;
}

ShardedMemory DataParallel::plan_memory(const ModelConfig& config, int dp, ZeroStage stage) {
  const int64_t b = 4;  // f32
  int64_t params = 0, shard = 0, max_slice = 0, max_padded = 0;
  for (int64_t n : Transformer::unit_numels(config)) {
    const int64_t s = slice_numel(n, dp);
    params += n;
    shard += s;
    max_slice = std::max(max_slice, s);
    max_padded = std::max(max_padded, s * dp);
  }
  const int64_t slots = slots_needed(config);
  ShardedMemory m;
  m.weights = stage >= ZeroStage::kParameters ? (shard + slots * max_padded) * b : params * b;
  m.grads = stage >= ZeroStage::kGradients ? (shard + slots * max_padded) * b : params * b;
  m.optimizer = 2 * (stage == ZeroStage::kNone ? params : shard) * b;
  if (stage == ZeroStage::kOptimizer || stage == ZeroStage::kGradients) m.communication += max_padded * b;
  if (stage >= ZeroStage::kGradients) m.communication += slots * max_slice * b;
  return m;
}

DataParallel::DataParallel(ZeroStage stage, Comm& dp, Transformer& model,
                           const OptimConfig& optim, double bucket_mb)
    : stage_(stage), dp_(dp), model_(model), store_(model.params()) {
  SYM_CHECK(store_.dtype() == DType::kF32, "data parallelism runs f32 parameters");
  const ParamResidency expected = residency_for(stage);
  SYM_CHECK(store_.residency().weights == expected.weights &&
                store_.residency().grads == expected.grads,
            "the model was not built with DataParallel::residency_for(zero stage {})", int(stage));
  const int64_t p = dp.size(), r = dp.rank();
  const int units = store_.num_units();
  int64_t max_slice = 0;
  for (int u = 0; u < units; ++u) {
    const int64_t s = slice_numel(store_.unit(u).numel, p);
    unit_slice_.push_back(s);
    unit_shard_offset_.push_back(shard_numel_);
    shard_numel_ += s;
    max_slice = std::max(max_slice, s);
    max_padded_unit_ = std::max(max_padded_unit_, s * p);
  }

  if (stage == ZeroStage::kNone) {
    optimizer_ = std::make_unique<AdamW>(optim, store_);
  } else {
    optimizer_ = std::make_unique<AdamW>(optim, DType::kF32, shard_numel_);
  }
  if (stage >= ZeroStage::kParameters)
    shard_weights_ = Buffer(DType::kF32, {shard_numel_}, MemoryCategory::kWeights);
  if (stage >= ZeroStage::kGradients)
    shard_grads_ = Buffer(DType::kF32, {shard_numel_}, MemoryCategory::kGrads);
  if (stage == ZeroStage::kOptimizer || stage == ZeroStage::kGradients)
    gather_scratch_ = Buffer(DType::kF32, {max_padded_unit_}, MemoryCategory::kCommunication);
  if (stage >= ZeroStage::kParameters) {
    weight_slots_.resize(size_t(slots_needed(model.config())));
    for (WeightSlot& slot : weight_slots_)
      slot.data = Buffer(DType::kF32, {max_padded_unit_}, MemoryCategory::kWeights);
  }
  if (stage >= ZeroStage::kGradients) {
    grad_slots_.resize(size_t(slots_needed(model.config())));
    for (GradSlot& slot : grad_slots_) {
      slot.data = Buffer(DType::kF32, {max_padded_unit_}, MemoryCategory::kGrads);
      slot.reduced = Buffer(DType::kF32, {max_slice}, MemoryCategory::kCommunication);
    }
  }

  // This rank's part of every tensor: slice r of each unit, cut at tensor boundaries.
  if (stage != ZeroStage::kNone) {
    for (int u = 0; u < units; ++u) {
      const ParamUnit& unit = store_.unit(u);
      const int64_t s = slice(u), lo = r * s, hi = lo + s;
      for (ParamId id = unit.first; id < unit.end; ++id) {
        const ParamInfo& info = store_.info(id);
        const int64_t t0 = info.offset - unit.offset, t1 = t0 + info.shape.numel();
        const int64_t a = std::max(t0, lo), b = std::min(t1, hi);
        if (a >= b) continue;
        const int64_t shard_at = unit_shard_offset_[size_t(u)] + (a - lo);
        AdamWSegment seg;
        seg.param = stage >= ZeroStage::kParameters
                        ? shard_weights_.view().rows(shard_at, shard_at + (b - a))
                        : store_.unit_params(u).rows(a, b);
        seg.grad = stage >= ZeroStage::kGradients
                       ? shard_grads_.view().rows(shard_at, shard_at + (b - a))
                       : store_.unit_grads(u).rows(a, b);
        seg.state_offset = shard_at;
        seg.decay = info.decay;
        segments_.push_back(seg);
      }
    }
  }

  // Buckets from the LM head back, the order backward finishes units in.
  if (stage <= ZeroStage::kOptimizer) {
    const int64_t bucket_elems = std::max<int64_t>(1, int64_t(bucket_mb * 1024 * 1024 / 4));
    unit_bucket_.assign(size_t(units), 0);
    int end = units;
    int64_t elems = 0;
    for (int u = units - 1; u >= 0; --u) {
      elems += store_.unit(u).numel;
      if (elems >= bucket_elems || u == 0) {
        buckets_.push_back(Bucket{u, end, 0, CommHandle()});
        for (int v = u; v < end; ++v) unit_bucket_[size_t(v)] = int(buckets_.size()) - 1;
        end = u;
        elems = 0;
      }
    }
  }
  model_.set_unit_hooks(this);
}

DataParallel::~DataParallel() { model_.set_unit_hooks(nullptr); }

void DataParallel::note(Status s) {
  if (!s.is_ok() && hook_status_.is_ok()) hook_status_ = std::move(s);
}

void DataParallel::init_params(const ModelConfig& config, uint64_t seed) {
  if (stage_ < ZeroStage::kParameters) {
    symphony::init_params(config, seed, store_);
    return;
  }
  // Each unit is initialised whole in a scratch slot (values depend only on the seed and the
  // tensor name and index), and this rank keeps its slice.
  Buffer& scratch = weight_slots_[0].data;
  const int64_t r = dp_.rank();
  for (int u = 0; u < store_.num_units(); ++u) {
    scratch.zero();
    store_.bind_unit_weights(u, scratch.f32());
    init_unit_params(config, seed, store_, u);
    store_.bind_unit_weights(u, nullptr);
    std::memcpy(shard_weights_.f32() + unit_shard_offset_[size_t(u)], scratch.f32() + r * slice(u),
                size_t(slice(u)) * sizeof(float));
  }
}

std::vector<StateSlice> DataParallel::saved_slices() {
  std::vector<StateSlice> slices;
  const int64_t r = dp_.rank();
  for (int u = 0; u < store_.num_units(); ++u) {
    const ParamUnit& unit = store_.unit(u);
    const int64_t lo = r * slice(u), hi = std::min(lo + slice(u), unit.numel);
    if (lo >= hi) continue;
    StateSlice s;
    s.offset = unit.offset + lo;
    s.numel = hi - lo;
    const int64_t shard_at = unit_shard_offset_[size_t(u)];
    // Stage 0 keeps full moments laid out like the parameters; the others keep the shard.
    const int64_t state_at = stage_ == ZeroStage::kNone ? s.offset : shard_at;
    s.weights = stage_ >= ZeroStage::kParameters ? shard_weights_.f32() + shard_at
                                                 : store_.all_params().f32() + s.offset;
    s.exp_avg = optimizer_->exp_avg().f32() + state_at;
    s.exp_avg_sq = optimizer_->exp_avg_sq().f32() + state_at;
    slices.push_back(s);
  }
  return slices;
}

std::vector<StateSlice> DataParallel::held_slices() {
  if (stage_ != ZeroStage::kNone) return saved_slices();
  std::vector<StateSlice> slices;
  for (int u = 0; u < store_.num_units(); ++u) {
    const ParamUnit& unit = store_.unit(u);
    StateSlice s;
    s.offset = unit.offset;
    s.numel = unit.numel;
    s.weights = store_.all_params().f32() + unit.offset;
    s.exp_avg = optimizer_->exp_avg().f32() + unit.offset;
    s.exp_avg_sq = optimizer_->exp_avg_sq().f32() + unit.offset;
    slices.push_back(s);
  }
  return slices;
}

void DataParallel::begin_step() {
  if (stage_ <= ZeroStage::kOptimizer) {
    store_.zero_grads();
    for (Bucket& b : buckets_) b.units_ready = 0, b.handle = CommHandle();
  } else {
    shard_grads_.zero();
  }
}

void DataParallel::begin_micro_batch(bool last) { last_micro_batch_ = last; }

void DataParallel::before_forward(int unit) {
  if (stage_ < ZeroStage::kParameters) return;
  backward_phase_ = false;
  acquire_weights(unit);
  if (unit + 1 < store_.num_units()) prefetch_weights(unit + 1);
}

void DataParallel::after_forward(int unit) {
  if (stage_ >= ZeroStage::kParameters) release_weights(unit);
}

void DataParallel::before_backward(int unit) {
  backward_phase_ = true;
  if (stage_ >= ZeroStage::kParameters) {
    acquire_weights(unit);
    if (unit > 0) prefetch_weights(unit - 1);
  }
  if (stage_ >= ZeroStage::kGradients) acquire_grads(unit);
}

void DataParallel::after_backward(int unit) {
  if (stage_ <= ZeroStage::kOptimizer) {
    if (last_micro_batch_) unit_grads_ready(unit);
    return;
  }
  release_grads(unit);
  if (stage_ >= ZeroStage::kParameters) release_weights(unit);
}

// ---------------------------------------------------------------------------------------------
// Stage 0 and 1: bucketed all-reduce of the full gradient buffer.

void DataParallel::unit_grads_ready(int unit) {
  Bucket& b = buckets_[size_t(unit_bucket_[size_t(unit)])];
  if (++b.units_ready < b.end_unit - b.first_unit) return;
  const int64_t begin = store_.unit(b.first_unit).offset;
  const int64_t end = store_.unit(b.end_unit - 1).offset + store_.unit(b.end_unit - 1).numel;
  b.handle = dp_.all_reduce_async(store_.all_grads().data<float>() + begin, end - begin,
                                  CommDType::kF32, ReduceOp::kSum);
}

// ---------------------------------------------------------------------------------------------
// Stage 3: gathered weights.

DataParallel::WeightSlot* DataParallel::find_weight_slot(int unit) {
  for (WeightSlot& slot : weight_slots_)
    if (slot.unit == unit) return &slot;
  return nullptr;
}

DataParallel::WeightSlot& DataParallel::free_weight_slot() {
  WeightSlot* best = nullptr;
  for (WeightSlot& slot : weight_slots_) {
    if (slot.users > 0) continue;
    if (best == nullptr || slot.unit == -1 || (best->unit != -1 && slot.last_use < best->last_use))
      best = &slot;
    if (slot.unit == -1) break;
  }
  SYM_CHECK(best != nullptr, "all {} weight slots are in use", weight_slots_.size());
  if (best->unit != -1) {
    note(best->gather.wait());
    store_.bind_unit_weights(best->unit, nullptr);
    best->unit = -1;
  }
  return *best;
}

void DataParallel::start_gather(WeightSlot& slot, int unit) {
  slot.unit = unit;
  slot.last_use = ++use_clock_;
  const int64_t s = slice(unit);
  slot.gather = dp_.all_gather_async(shard_weights_.f32() + unit_shard_offset_[size_t(unit)],
                                     slot.data.f32(), s, CommDType::kF32);
}

void DataParallel::acquire_weights(int unit) {
  WeightSlot* slot = find_weight_slot(unit);
  if (slot == nullptr) {
    slot = &free_weight_slot();
    start_gather(*slot, unit);
  }
  note(slot->gather.wait());
  slot->users += 1;
  slot->last_use = ++use_clock_;
  store_.bind_unit_weights(unit, slot->data.f32());
}

void DataParallel::release_weights(int unit) {
  WeightSlot* slot = find_weight_slot(unit);
  SYM_CHECK(slot != nullptr && slot->users > 0, "releasing weights of unit {} not acquired", unit);
  slot->users -= 1;  // stays bound and cached until its slot is reused
}

void DataParallel::prefetch_weights(int unit) {
  if (find_weight_slot(unit) != nullptr) return;
  for (const WeightSlot& slot : weight_slots_)
    if (slot.users == 0) {
      start_gather(free_weight_slot(), unit);
      return;
    }
}

// ---------------------------------------------------------------------------------------------
// Stage 2 and 3: per-unit gradients reduce-scattered into the shard.

void DataParallel::acquire_grads(int unit) {
  for (GradSlot& slot : grad_slots_)
    if (slot.unit == unit && !slot.reducing) {
      slot.users += 1;  // the tied embedding, already accumulating
      return;
    }
  GradSlot* free = nullptr;
  for (GradSlot& slot : grad_slots_)
    if (slot.unit == -1) {
      free = &slot;
      break;
    }
  if (free == nullptr) {
    for (GradSlot& slot : grad_slots_)
      if (slot.reducing) {
        finish_reduction(slot);
        free = &slot;
        break;
      }
  }
  SYM_CHECK(free != nullptr, "all {} gradient slots are accumulating", grad_slots_.size());
  free->unit = unit;
  free->users = 1;
  std::memset(free->data.f32(), 0, size_t(slice(unit) * dp_.size()) * sizeof(float));
  store_.bind_unit_grads(unit, free->data.f32());
}

void DataParallel::release_grads(int unit) {
  for (GradSlot& slot : grad_slots_) {
    if (slot.unit != unit || slot.reducing) continue;
    if (--slot.users > 0) return;
    store_.bind_unit_grads(unit, nullptr);
    slot.reducing = true;
    slot.handle = dp_.reduce_scatter_async(slot.data.f32(), slot.reduced.f32(), slice(unit),
                                           CommDType::kF32, ReduceOp::kSum);
    return;
  }
  fatal(fmt::format("releasing gradients of unit {} not acquired", unit));
}

void DataParallel::finish_reduction(GradSlot& slot) {
  note(slot.handle.wait());
  const int64_t s = slice(slot.unit);
  float* dst = shard_grads_.f32() + unit_shard_offset_[size_t(slot.unit)];
  const float* src = slot.reduced.f32();
  for (int64_t i = 0; i < s; ++i) dst[i] += src[i];
  slot.unit = -1;
  slot.reducing = false;
  slot.handle = CommHandle();
}

// ---------------------------------------------------------------------------------------------

Status DataParallel::end_backward() {
  Timer wait;
  if (stage_ <= ZeroStage::kOptimizer) {
    if (last_micro_batch_)
      for (Bucket& b : buckets_) {
        SYM_CHECK(b.units_ready == b.end_unit - b.first_unit, "bucket of units [{}, {}) not ready",
                  b.first_unit, b.end_unit);
        note(b.handle.wait());
      }
  } else {
    // Reductions in the order they started.
    for (GradSlot& slot : grad_slots_)
      if (slot.reducing) finish_reduction(slot);
  }
  exposed_comm_s_ = wait.elapsed_s();
  return hook_status_;
}

Result<double> DataParallel::grad_norm() {
  if (stage_ <= ZeroStage::kOptimizer) return grad_norm_local(store_.all_grads());
  const double local = grad_norm_local(shard_grads_.view());
  double sum_sq = local * local;
  SYM_TRY(dp_.all_reduce(std::span(&sum_sq, 1)));
  return std::sqrt(sum_sq);
}

Status DataParallel::all_gather_weights_into_full() {
  const int64_t r = dp_.rank();
  float* scratch = gather_scratch_.f32();
  for (int u = 0; u < store_.num_units(); ++u) {
    const int64_t n = store_.unit(u).numel, s = slice(u);
    float* full = store_.unit_params(u).data<float>();
    const int64_t lo = std::min(r * s, n), hi = std::min(r * s + s, n);
    std::memset(scratch + r * s, 0, size_t(s) * sizeof(float));
    std::memcpy(scratch + r * s, full + lo, size_t(hi - lo) * sizeof(float));
    SYM_TRY(dp_.all_gather(scratch + r * s, scratch, s, CommDType::kF32));
    std::memcpy(full, scratch, size_t(n) * sizeof(float));
  }
  return Status::ok();
}

Status DataParallel::optimizer_step(const Exec& ex, double lr, double grad_scale) {
  SYM_TRY(hook_status_);
  if (stage_ == ZeroStage::kNone) {
    optimizer_->step(ex, store_, lr, grad_scale);
    return Status::ok();
  }
  optimizer_->step(ex, segments_, lr, grad_scale);
  if (stage_ < ZeroStage::kParameters) return all_gather_weights_into_full();
  // The shard changed: every gathered copy is stale.
  for (WeightSlot& slot : weight_slots_) {
    SYM_CHECK(slot.users == 0, "weights of unit {} still in use at the optimizer step", slot.unit);
    if (slot.unit == -1) continue;
    note(slot.gather.wait());
    store_.bind_unit_weights(slot.unit, nullptr);
    slot.unit = -1;
  }
  return hook_status_;
}

Status DataParallel::gather_full_weights() {
  if (stage_ < ZeroStage::kParameters) return Status::ok();
  for (WeightSlot& slot : weight_slots_) {
    if (slot.unit == -1) continue;
    note(slot.gather.wait());
    store_.bind_unit_weights(slot.unit, nullptr);
    slot.unit = -1;
  }
  SYM_TRY(hook_status_);
  full_weights_ = Buffer(DType::kF32, {store_.numel()}, MemoryCategory::kWeights);
  Buffer& scratch = weight_slots_[0].data;
  for (int u = 0; u < store_.num_units(); ++u) {
    const int64_t s = slice(u);
    SYM_TRY(dp_.all_gather(shard_weights_.f32() + unit_shard_offset_[size_t(u)], scratch.f32(), s,
                           CommDType::kF32));
    float* dst = full_weights_.f32() + store_.unit(u).offset;
    std::memcpy(dst, scratch.f32(), size_t(store_.unit(u).numel) * sizeof(float));
    store_.bind_unit_weights(u, dst);
  }
  return Status::ok();
}

void DataParallel::release_full_weights() {
  if (full_weights_.empty()) return;
  for (int u = 0; u < store_.num_units(); ++u) store_.bind_unit_weights(u, nullptr);
  full_weights_ = Buffer();
}

}  // namespace symphony
