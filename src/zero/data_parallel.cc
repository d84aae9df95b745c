#include "zero/data_parallel.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/timer.h"
#include "kernels/bf16_bits.h"
#include "kernels/bf16_convert.h"
#include "model/init.h"

namespace symphony {

ParamResidency DataParallel::residency_for(ZeroStage stage) {
  ParamResidency r;
  if (stage >= ZeroStage::kGradients) r.grads = Residency::kWindowed;
  if (stage >= ZeroStage::kParameters) r.weights = Residency::kWindowed;
  return r;
}

DataParallel::DataParallel(ZeroStage stage, DeviceMesh& mesh, Transformer& model,
                           const OptimConfig& optim, double bucket_mb, Precision grad_dtype)
    : stage_(stage), grad_dtype_(grad_dtype), mesh_(mesh), model_(model), store_(model.params()),
      shards_(model.params(), ShardPlacement::of(mesh.layout(), mesh.world().rank())) {
  SYM_CHECK(store_.dtype() == DType::kF32, "data parallelism runs f32 parameters");
  SYM_CHECK(grad_dtype != Precision::kFp8, "gradients are reduced in fp32 or bf16");
  const ParamResidency expected = residency_for(stage);
  SYM_CHECK(store_.residency().weights == expected.weights &&
                store_.residency().grads == expected.grads,
            "the model was not built with DataParallel::residency_for(zero stage {})", int(stage));
  for (Axis axis : {Axis::kExpert, Axis::kExpertTensor})
    SYM_CHECK(store_.placement().size[int(axis)] == mesh.size(axis) &&
                  store_.placement().coord[int(axis)] == mesh.rank(axis),
              "the model was built for another {} placement than the mesh's", axis_name(axis));
  for (int u = 0; u < store_.num_units(); ++u)
    SYM_CHECK(comm_of(u).size() == shards_.group_size(u) && comm_of(u).rank() == shards_.group_rank(u),
              "unit {}: the shard layout does not match the mesh's {} group", u,
              comm_of(u).name());
  const int units = store_.num_units();
  const int64_t shard_numel = shards_.shard_numel(), max_padded = shards_.max_padded();
  if (stage == ZeroStage::kNone) {
    optimizer_ = std::make_unique<AdamW>(optim, store_);
  } else {
    optimizer_ = std::make_unique<AdamW>(optim, DType::kF32, shard_numel);
  }
  if (stage >= ZeroStage::kParameters)
    shard_weights_ = Buffer(DType::kF32, {shard_numel}, MemoryCategory::kWeights);
  if (stage >= ZeroStage::kGradients)
    shard_grads_ = Buffer(DType::kF32, {shard_numel}, MemoryCategory::kGrads);
  if (stage == ZeroStage::kOptimizer || stage == ZeroStage::kGradients)
    gather_scratch_ = Buffer(DType::kF32, {max_padded}, MemoryCategory::kCommunication);
  // bf16 patterns held in f32 buffers of half the length.
  auto bf16_buffer = [](int64_t elems) {
    return Buffer(DType::kF32, {(elems + 1) / 2}, MemoryCategory::kCommunication);
  };
  bool any_wire = false;
  for (int g = 0; g < kNumReplicaGroups; ++g) {
    const ReplicaGroup group = ReplicaGroup(g);
    any_wire = any_wire || (shards_.max_padded(group) > 0 && bf16_wire(group));
  }
  for (int g = 0; g < kNumReplicaGroups; ++g) {
    const ReplicaGroup group = ReplicaGroup(g);
    for (int i = 0; i < shards_.slots(group, model.config()); ++i) {
      if (stage >= ZeroStage::kParameters) {
        weight_slots_.emplace_back();
        weight_slots_.back().group = group;
        weight_slots_.back().data =
            Buffer(DType::kF32, {shards_.max_padded(group)}, MemoryCategory::kWeights);
      }
      if (stage >= ZeroStage::kGradients) {
        grad_slots_.emplace_back();
        GradSlot& slot = grad_slots_.back();
        slot.group = group;
        slot.data = Buffer(DType::kF32, {shards_.max_padded(group)}, MemoryCategory::kGrads);
        if (bf16_wire(group)) {
          slot.wire = bf16_buffer(shards_.max_padded(group));
          slot.wire_reduced = bf16_buffer(shards_.max_slice(group));
        } else {
          slot.reduced =
              Buffer(DType::kF32, {shards_.max_slice(group)}, MemoryCategory::kCommunication);
        }
      }
    }
  }

  // This rank's part of every tensor: its slice of each unit, cut at tensor boundaries.
  if (stage != ZeroStage::kNone) {
    for (int u = 0; u < units; ++u) {
      const ParamUnit& unit = store_.unit(u);
      const int64_t lo = shards_.owned_begin(u) - unit.offset;
      const int64_t hi = shards_.owned_end(u) - unit.offset;
      for (ParamId id = unit.first; id < unit.end; ++id) {
        const ParamInfo& info = store_.info(id);
        const int64_t t0 = info.offset - unit.offset, t1 = t0 + info.shape.numel();
        const int64_t a = std::max(t0, lo), b = std::min(t1, hi);
        if (a >= b) continue;
        const int64_t shard_at = shards_.shard_offset(u) + (a - lo);
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

  // Buckets from the LM head back, the order backward finishes units in; one open bucket per
  // replica group, since a bucket is reduced over one group. bucket_mb counts the bytes sent.
  if (stage <= ZeroStage::kOptimizer) {
    if (any_wire) wire_grads_ = bf16_buffer(store_.numel());
    const int64_t wire_bytes = grad_dtype == Precision::kBf16 ? 2 : 4;
    const int64_t bucket_elems =
        std::max<int64_t>(1, int64_t(bucket_mb * 1024 * 1024 / double(wire_bytes)));
    unit_bucket_.assign(size_t(units), 0);
    std::array<int, kNumReplicaGroups> open;
    open.fill(-1);
    std::array<int64_t, kNumReplicaGroups> elems{};
    for (int u = units - 1; u >= 0; --u) {
      const int g = int(store_.unit(u).replicas);
      if (open[size_t(g)] == -1) {
        buckets_.push_back(Bucket{});
        open[size_t(g)] = int(buckets_.size()) - 1;
        elems[size_t(g)] = 0;
      }
      buckets_[size_t(open[size_t(g)])].units.push_back(u);
      unit_bucket_[size_t(u)] = open[size_t(g)];
      elems[size_t(g)] += store_.unit(u).numel;
      if (elems[size_t(g)] >= bucket_elems) open[size_t(g)] = -1;
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
  // Each unit is initialised whole in a scratch slot (values depend only on the seed, the tensor
  // name and the element's global index), and this rank keeps its slice.
  for (int u = 0; u < store_.num_units(); ++u) {
    Buffer& scratch = scratch_slot(u).data;
    scratch.zero();
    store_.bind_unit_weights(u, scratch.f32());
    init_unit_params(config, seed, store_, u);
    store_.bind_unit_weights(u, nullptr);
    std::memcpy(shard_weights_.f32() + shards_.shard_offset(u),
                scratch.f32() + shards_.group_rank(u) * slice(u), size_t(slice(u)) * sizeof(float));
  }
}

std::vector<StateSlice> DataParallel::saved_slices() {
  std::vector<StateSlice> slices;
  for (int u = 0; u < store_.num_units(); ++u) {
    const int64_t begin = shards_.owned_begin(u), end = shards_.owned_end(u);
    if (begin >= end) continue;
    StateSlice s;
    s.offset = begin;
    s.numel = end - begin;
    const int64_t shard_at = shards_.shard_offset(u);
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
    for (Bucket& b : buckets_) {
      b.units_ready = 0;
      b.handles.clear();
      b.wire_runs.clear();
    }
  } else {
    shard_grads_.zero();
  }
}

void DataParallel::begin_micro_batch(bool last) { last_micro_batch_ = last; }

void DataParallel::before_forward(int block) {
  if (stage_ < ZeroStage::kParameters) return;
  backward_phase_ = false;
  const ParamBlock& b = store_.block(block);
  for (int u = b.first_unit; u < b.end_unit; ++u) acquire_weights(u);
  if (block + 1 < store_.num_blocks()) {
    const ParamBlock& next = store_.block(block + 1);
    for (int u = next.first_unit; u < next.end_unit; ++u) prefetch_weights(u);
  }
}

void DataParallel::after_forward(int block) {
  if (stage_ < ZeroStage::kParameters) return;
  const ParamBlock& b = store_.block(block);
  for (int u = b.first_unit; u < b.end_unit; ++u) release_weights(u);
}

void DataParallel::before_backward(int block) {
  backward_phase_ = true;
  const ParamBlock& b = store_.block(block);
  if (stage_ >= ZeroStage::kParameters) {
    for (int u = b.first_unit; u < b.end_unit; ++u) acquire_weights(u);
    if (block > 0) {
      const ParamBlock& prev = store_.block(block - 1);
      for (int u = prev.first_unit; u < prev.end_unit; ++u) prefetch_weights(u);
    }
  }
  if (stage_ >= ZeroStage::kGradients)
    for (int u = b.first_unit; u < b.end_unit; ++u) acquire_grads(u);
}

void DataParallel::after_backward(int block) {
  const ParamBlock& b = store_.block(block);
  // Units from the last: the order buckets count them in.
  for (int u = b.end_unit - 1; u >= b.first_unit; --u) {
    if (stage_ <= ZeroStage::kOptimizer) {
      if (last_micro_batch_) unit_grads_ready(u);
      continue;
    }
    release_grads(u);
    if (stage_ >= ZeroStage::kParameters) release_weights(u);
  }
}

void DataParallel::after_input_grads(int block) {
  // Stages 2 and 3 reduce-scatter the part computed so far (the weight pass adds the rest with a
  // second reduce-scatter: the sum is the same); stage 3 frees the weights, which W does not read.
  if (stage_ <= ZeroStage::kOptimizer) return;
  const ParamBlock& b = store_.block(block);
  for (int u = b.end_unit - 1; u >= b.first_unit; --u) {
    release_grads(u);
    if (stage_ >= ZeroStage::kParameters) release_weights(u);
  }
}

void DataParallel::before_weight_grads(int block) {
  backward_phase_ = true;
  if (stage_ <= ZeroStage::kOptimizer) return;
  const ParamBlock& b = store_.block(block);
  for (int u = b.first_unit; u < b.end_unit; ++u) acquire_grads(u);
}

void DataParallel::after_weight_grads(int block) {
  const ParamBlock& b = store_.block(block);
  for (int u = b.end_unit - 1; u >= b.first_unit; --u) {
    if (stage_ <= ZeroStage::kOptimizer) {
      if (last_micro_batch_) unit_grads_ready(u);
    } else {
      release_grads(u);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Stage 0 and 1: bucketed all-reduce of the full gradient buffer.

void DataParallel::unit_grads_ready(int unit) {
  Bucket& b = buckets_[size_t(unit_bucket_[size_t(unit)])];
  if (++b.units_ready < int(b.units.size())) return;
  // One all-reduce per run of units contiguous in memory (b.units runs from the head back).
  Comm& comm = comm_of(b.units[0]);
  float* grads = store_.all_grads().data<float>();
  size_t i = 0;
  while (i < b.units.size()) {
    size_t j = i + 1;
    while (j < b.units.size() && b.units[j] + 1 == b.units[j - 1]) ++j;
    const ParamUnit& first = store_.unit(b.units[j - 1]);
    const ParamUnit& last = store_.unit(b.units[i]);
    const int64_t begin = first.offset, end = last.offset + last.numel;
    if (bf16_wire(b.units[0])) {
      uint16_t* wire = reinterpret_cast<uint16_t*>(wire_grads_.f32()) + begin;
      cpu::bf16_from_f32({grads + begin, size_t(end - begin)}, {wire, size_t(end - begin)});
      b.wire_runs.emplace_back(begin, end);
      b.handles.push_back(
          comm.all_reduce_async(wire, end - begin, CommDType::kBf16, ReduceOp::kSum));
    } else {
      b.handles.push_back(
          comm.all_reduce_async(grads + begin, end - begin, CommDType::kF32, ReduceOp::kSum));
    }
    i = j;
  }
}

// ---------------------------------------------------------------------------------------------
// Stage 3: gathered weights.

DataParallel::WeightSlot* DataParallel::find_weight_slot(int unit) {
  for (WeightSlot& slot : weight_slots_)
    if (slot.unit == unit) return &slot;
  return nullptr;
}

DataParallel::WeightSlot& DataParallel::scratch_slot(int unit) {
  for (WeightSlot& slot : weight_slots_)
    if (slot.group == store_.unit(unit).replicas) return slot;
  fatal(fmt::format("no weight slot for unit {}", unit));
}

DataParallel::WeightSlot& DataParallel::free_weight_slot(ReplicaGroup group) {
  WeightSlot* best = nullptr;
  for (WeightSlot& slot : weight_slots_) {
    if (slot.users > 0 || slot.group != group) continue;
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
  slot.gather = comm_of(unit).all_gather_async(shard_weights_.f32() + shards_.shard_offset(unit),
                                               slot.data.f32(), s, CommDType::kF32);
}

void DataParallel::acquire_weights(int unit) {
  WeightSlot* slot = find_weight_slot(unit);
  if (slot == nullptr) {
    slot = &free_weight_slot(store_.unit(unit).replicas);
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
  const ReplicaGroup group = store_.unit(unit).replicas;
  for (const WeightSlot& slot : weight_slots_)
    if (slot.users == 0 && slot.group == group) {
      start_gather(free_weight_slot(group), unit);
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
  const ReplicaGroup group = store_.unit(unit).replicas;
  GradSlot* free = nullptr;
  for (GradSlot& slot : grad_slots_)
    if (slot.unit == -1 && slot.group == group) {
      free = &slot;
      break;
    }
  if (free == nullptr) {
    for (GradSlot& slot : grad_slots_)
      if (slot.reducing && slot.group == group) {
        finish_reduction(slot);
        free = &slot;
        break;
      }
  }
  SYM_CHECK(free != nullptr, "all {} gradient slots are accumulating", grad_slots_.size());
  free->unit = unit;
  free->users = 1;
  std::memset(free->data.f32(), 0, size_t(shards_.padded(unit)) * sizeof(float));
  store_.bind_unit_grads(unit, free->data.f32());
}

void DataParallel::release_grads(int unit) {
  for (GradSlot& slot : grad_slots_) {
    if (slot.unit != unit || slot.reducing) continue;
    if (--slot.users > 0) return;
    store_.bind_unit_grads(unit, nullptr);
    slot.reducing = true;
    if (bf16_wire(unit)) {
      const int64_t n = shards_.padded(unit);
      uint16_t* wire = reinterpret_cast<uint16_t*>(slot.wire.f32());
      cpu::bf16_from_f32({slot.data.f32(), size_t(n)}, {wire, size_t(n)});
      slot.handle = comm_of(unit).reduce_scatter_async(
          wire, slot.wire_reduced.f32(), slice(unit), CommDType::kBf16, ReduceOp::kSum);
    } else {
      slot.handle = comm_of(unit).reduce_scatter_async(
          slot.data.f32(), slot.reduced.f32(), slice(unit), CommDType::kF32, ReduceOp::kSum);
    }
    return;
  }
  fatal(fmt::format("releasing gradients of unit {} not acquired", unit));
}

void DataParallel::finish_reduction(GradSlot& slot) {
  note(slot.handle.wait());
  const int64_t s = slice(slot.unit);
  float* dst = shard_grads_.f32() + shards_.shard_offset(slot.unit);
  if (bf16_wire(slot.unit)) {
    const uint16_t* src = reinterpret_cast<const uint16_t*>(slot.wire_reduced.f32());
    for (int64_t i = 0; i < s; ++i) dst[i] += f32_from_bf16_bits(src[i]);
  } else {
    const float* src = slot.reduced.f32();
    for (int64_t i = 0; i < s; ++i) dst[i] += src[i];
  }
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
        SYM_CHECK(b.units_ready == int(b.units.size()), "bucket of {} units: {} ready",
                  b.units.size(), b.units_ready);
        for (CommHandle& h : b.handles) note(h.wait());
        float* grads = store_.all_grads().data<float>();
        const uint16_t* wire = reinterpret_cast<const uint16_t*>(wire_grads_.f32());
        for (auto [begin, end] : b.wire_runs)
          cpu::f32_from_bf16({wire + begin, size_t(end - begin)},
                             {grads + begin, size_t(end - begin)});
      }
  } else {
    // Reductions in the order they started.
    for (GradSlot& slot : grad_slots_)
      if (slot.reducing) finish_reduction(slot);
  }
  exposed_comm_s_ = wait.elapsed_s();
  return hook_status_;
}

ConstView DataParallel::owned_grads(int u) const {
  const int64_t begin = shards_.owned_begin(u), end = shards_.owned_end(u);
  if (stage_ <= ZeroStage::kOptimizer) return store_.all_grads().rows(begin, end);
  const int64_t at = shards_.shard_offset(u);
  return shard_grads_.view().rows(at, at + (end - begin));
}

Status DataParallel::sum_owned_grads(int u, Comm& group) {
  // Stage 0 steps every element of the unit on every rank, so all of it takes the sum.
  if (stage_ == ZeroStage::kNone) {
    View whole = store_.unit_grads(u);
    return group.all_reduce(std::span<float>(whole.f32(), size_t(whole.numel())));
  }
  const int64_t begin = shards_.owned_begin(u), end = shards_.owned_end(u);
  View g = stage_ <= ZeroStage::kOptimizer
               ? store_.all_grads().rows(begin, end)
               : shard_grads_.view().rows(shards_.shard_offset(u),
                                          shards_.shard_offset(u) + (end - begin));
  return group.all_reduce(std::span<float>(g.f32(), size_t(g.numel())));
}

Status DataParallel::all_gather_weights_into_full() {
  float* scratch = gather_scratch_.f32();
  for (int u = 0; u < store_.num_units(); ++u) {
    const int64_t n = store_.unit(u).numel, s = slice(u), r = shards_.group_rank(u);
    float* full = store_.unit_params(u).data<float>();
    const int64_t lo = std::min(r * s, n), hi = std::min(r * s + s, n);
    std::memset(scratch + r * s, 0, size_t(s) * sizeof(float));
    std::memcpy(scratch + r * s, full + lo, size_t(hi - lo) * sizeof(float));
    SYM_TRY(comm_of(u).all_gather(scratch + r * s, scratch, s, CommDType::kF32));
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
  for (int u = 0; u < store_.num_units(); ++u) {
    Buffer& scratch = scratch_slot(u).data;
    const int64_t s = slice(u);
    SYM_TRY(comm_of(u).all_gather(shard_weights_.f32() + shards_.shard_offset(u), scratch.f32(),
                                  s, CommDType::kF32));
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
