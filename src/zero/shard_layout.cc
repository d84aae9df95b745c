#include "zero/shard_layout.h"

#include <algorithm>

#include "core/check.h"
#include "model/transformer.h"

namespace symphony {
namespace {
constexpr int64_t kAlign = 16;  // floats: slices start 64-byte aligned
}  // namespace

int replica_group_size(const ShardPlacement& p, ReplicaGroup group) {
  int size = 1;
  for (Axis a : reduction_axes(group)) size *= p.size[int(a)];
  return size;
}

int replica_group_rank(const ShardPlacement& p, ReplicaGroup group) {
  int position = 0, scale = 1;
  for (Axis a : reduction_axes(group)) {
    position += p.coord[int(a)] * scale;
    scale *= p.size[int(a)];
  }
  return position;
}

ShardLayout::ShardLayout(const ParamStore& store, const ShardPlacement& placement)
    : store_(&store) {
  for (int g = 0; g < kNumReplicaGroups; ++g) {
    group_size_[size_t(g)] = replica_group_size(placement, ReplicaGroup(g));
    group_rank_[size_t(g)] = replica_group_rank(placement, ReplicaGroup(g));
  }
  for (int u = 0; u < store.num_units(); ++u) {
    const int64_t g = group_size(u), n = store.unit(u).numel;
    const int64_t s = ((n + g - 1) / g + kAlign - 1) / kAlign * kAlign;
    slice_.push_back(s);
    shard_offset_.push_back(shard_numel_);
    shard_numel_ += s;
    max_slice_ = std::max(max_slice_, s);
    max_padded_ = std::max(max_padded_, s * g);
    const size_t r = size_t(store.unit(u).replicas);
    group_max_slice_[r] = std::max(group_max_slice_[r], s);
    group_max_padded_[r] = std::max(group_max_padded_[r], s * g);
  }
  for (const ParamBlock& b : store.blocks())
    for (int u = b.first_unit + 1; u < b.end_unit; ++u)
      for (int v = b.first_unit; v < u; ++v)
        SYM_CHECK(store.unit(u).replicas != store.unit(v).replicas,
                  "block of units {}..{} has two units of one replica group", b.first_unit,
                  b.end_unit);
}

int64_t ShardLayout::owned_begin(int u) const {
  const ParamUnit& unit = store_->unit(u);
  return unit.offset + std::min(int64_t(group_rank(u)) * slice(u), unit.numel);
}

int64_t ShardLayout::owned_end(int u) const {
  const ParamUnit& unit = store_->unit(u);
  return unit.offset + std::min(int64_t(group_rank(u) + 1) * slice(u), unit.numel);
}

int ShardLayout::slots(ReplicaGroup g, const ModelConfig& config) const {
  if (max_padded(g) == 0) return 0;
  const bool embedding_reused =
      config.tie_word_embeddings || config.num_nextn_predict_layers > 0;
  return 2 + (g == ReplicaGroup::kDense && embedding_reused ? 1 : 0);
}

namespace {
// A buffer of n bf16 values, as DataParallel allocates it: whole floats.
int64_t bf16_bytes(int64_t n) { return (n + 1) / 2 * 4; }
}  // namespace

ShardedMemory ShardLayout::plan_memory(const ModelConfig& config, ZeroStage stage,
                                       Precision grad_dtype) const {
  const int64_t b = 4;  // f32
  const int64_t params = store_->numel();
  // Gradient slots' reduced slices: fp32, or with a bf16 wire (groups of more than one rank) the
  // unit and its slice in bf16.
  int64_t slot_elems = 0, reduced_bytes = 0;
  bool any_wire = false;
  for (int g = 0; g < kNumReplicaGroups; ++g) {
    const ReplicaGroup group = ReplicaGroup(g);
    const int64_t n = slots(group, config);
    slot_elems += n * max_padded(group);
    const bool wire = grad_dtype == Precision::kBf16 && group_size_[size_t(g)] > 1;
    any_wire = any_wire || (wire && max_padded(group) > 0);
    reduced_bytes += wire ? n * (bf16_bytes(max_padded(group)) + bf16_bytes(max_slice(group)))
                          : n * max_slice(group) * b;
  }
  ShardedMemory m;
  m.weights = stage >= ZeroStage::kParameters ? (shard_numel_ + slot_elems) * b : params * b;
  m.grads = stage >= ZeroStage::kGradients ? (shard_numel_ + slot_elems) * b : params * b;
  m.optimizer = 2 * (stage == ZeroStage::kNone ? params : shard_numel_) * b;
  if (stage == ZeroStage::kOptimizer || stage == ZeroStage::kGradients)
    m.communication += max_padded_ * b;
  if (stage >= ZeroStage::kGradients) m.communication += reduced_bytes;
  if (stage <= ZeroStage::kOptimizer && any_wire) m.communication += bf16_bytes(params);
  return m;
}

ShardedMemory plan_sharded_memory(const ModelConfig& config, const ShardPlacement& placement,
                                  ZeroStage stage, Precision grad_dtype) {
  const ParamStore store = Transformer::declare_params(config, placement);
  return ShardLayout(store, placement).plan_memory(config, stage, grad_dtype);
}

}  // namespace symphony
