#include "model/param_store.h"

#include <algorithm>
#include <cstring>

namespace symphony {

int64_t ParamInfo::global_run_start() const {
  if (!shard.sharded()) return 0;
  for (int d = 0; d < shard.dim; ++d)
    if (global_shape.dims[size_t(d)] != 1) return -1;
  int64_t inner = 1;
  for (int d = shard.dim + 1; d < global_shape.ndim; ++d) inner *= global_shape.dims[size_t(d)];
  return box_start * inner;
}

int64_t ParamInfo::global_index(int64_t i) const {
  if (!shard.sharded()) return i;
  int64_t inner = 1;
  for (int d = shard.dim + 1; d < shape.ndim; ++d) inner *= shape.dims[size_t(d)];
  const int64_t local_dim = shape.dims[size_t(shard.dim)];
  const int64_t global_dim = global_shape.dims[size_t(shard.dim)];
  const int64_t in = i % inner, rest = i / inner;
  const int64_t mid = rest % local_dim, outer = rest / local_dim;
  return (outer * global_dim + box_start + mid) * inner + in;
}

void ParamStore::begin_block() {
  SYM_CHECK(!allocated_, "ParamStore::begin_block() after allocate()");
  if (blocks_.empty() || blocks_.back().end_unit > blocks_.back().first_unit)
    blocks_.push_back(ParamBlock{int(units_.size()), int(units_.size())});
}

ParamId ParamStore::add(std::string name, Shape global_shape, Decay decay, ShardSpec shard) {
  SYM_CHECK(!allocated_, "ParamStore::add({}) after allocate()", name);
  if (blocks_.empty()) begin_block();
  const ReplicaGroup replicas = replica_group_of(shard);
  ParamBlock& block = blocks_.back();
  if (block.end_unit == block.first_unit || units_.back().replicas != replicas) {
    units_.push_back(ParamUnit{ParamId(infos_.size()), ParamId(infos_.size()), numel_, 0,
                               int(blocks_.size()) - 1, replicas});
    block.end_unit = int(units_.size());
  }
  Shape shape = global_shape;
  int64_t box_start = 0;
  if (shard.sharded()) {
    SYM_CHECK(shard.dim >= 0 && shard.dim < global_shape.ndim, "{}: shard dim {} of a {}-d tensor",
              name, shard.dim, global_shape.ndim);
    const int parts = placement_.blocks(shard);
    const int64_t whole = global_shape.dims[size_t(shard.dim)];
    SYM_CHECK(whole % parts == 0, "{}: dim {} of {} does not split into {} blocks over {}", name,
              shard.dim, whole, parts, axis_name(shard.axis));
    shape.dims[size_t(shard.dim)] = whole / parts;
    box_start = int64_t(placement_.block(shard)) * (whole / parts);
  }
  ParamInfo info{std::move(name), shape,  global_shape,           shard, box_start, numel_, decay,
                 int(units_.size()) - 1,  int(blocks_.size()) - 1};
  // Align every tensor to 16 floats (64 bytes) so rows of vectorised kernels start aligned.
  const int64_t padded = (shape.numel() + 15) / 16 * 16;
  numel_ += padded;
  units_.back().end += 1;
  units_.back().numel += padded;
  infos_.push_back(std::move(info));
  return static_cast<ParamId>(infos_.size() - 1);
}

void ParamStore::allocate(ParamResidency residency) {
  SYM_CHECK(!allocated_, "ParamStore::allocate() called twice");
  allocated_ = true;
  residency_ = residency;
  if (residency.weights == Residency::kFull)
    weights_ = Buffer(dtype_, {numel_}, MemoryCategory::kWeights);
  else
    bound_weights_.assign(units_.size(), nullptr);
  if (residency.grads == Residency::kFull)
    grads_ = Buffer(dtype_, {numel_}, MemoryCategory::kGrads);
  else
    bound_grads_.assign(units_.size(), nullptr);
}

void ParamStore::bind_unit_weights(int u, void* data) {
  SYM_CHECK(residency_.weights == Residency::kWindowed, "binding unit {} of full weights", u);
  bound_weights_[size_t(u)] = data;
}

void ParamStore::bind_unit_grads(int u, void* data) {
  SYM_CHECK(residency_.grads == Residency::kWindowed, "binding unit {} of full gradients", u);
  bound_grads_[size_t(u)] = data;
}

void ParamStore::zero_grads() {
  if (grads_.empty()) return;  // windowed: nothing resident
  // Hundreds of MB for large models: every thread clears a share of the pages.
  char* base = static_cast<char*>(grads_.view().raw());
  const int64_t bytes = grads_.bytes();
  constexpr int64_t kChunk = int64_t(1) << 20;
#pragma omp parallel for schedule(static)
  for (int64_t begin = 0; begin < bytes; begin += kChunk)
    std::memset(base + begin, 0, size_t(std::min(kChunk, bytes - begin)));
}

ParamId ParamStore::find(const std::string& name) const {
  for (size_t i = 0; i < infos_.size(); ++i)
    if (infos_[i].name == name) return static_cast<ParamId>(i);
  return -1;
}

View ParamStore::slice(const Buffer& b, const std::vector<void*>& bound, ParamId id) const {
  const ParamInfo& p = info(id);
  if (bound.empty()) {
    SYM_CHECK(!b.empty(), "tensor {} read before allocate()", p.name);
    // A const store hands out ConstView (the const overloads convert).
    Buffer& mutable_b = const_cast<Buffer&>(b);
    return mutable_b.view().rows(p.offset, p.offset + p.shape.numel()).reshape(p.shape);
  }
  void* base = bound[size_t(p.unit)];
  SYM_CHECK(base != nullptr, "tensor {} used while its unit {} is not resident", p.name, p.unit);
  const int64_t rel = p.offset - unit(p.unit).offset;
  return View(static_cast<char*>(base) + rel * dtype_bytes(dtype_), dtype_, p.shape);
}

}  // namespace symphony
