#include "model/param_store.h"

#include <algorithm>
#include <cstring>

namespace symphony {

int64_t ParamInfo::global_run_start() const {
  // A box is one run when the dims after the first cut one are whole and those before it are 1.
  int d = 0;
  while (d < shape.ndim && shape.dims[size_t(d)] == global_shape.dims[size_t(d)]) ++d;
  if (d == shape.ndim) return 0;
  for (int before = 0; before < d; ++before)
    if (shape.dims[size_t(before)] != 1) return -1;
  for (int after = d + 1; after < shape.ndim; ++after)
    if (shape.dims[size_t(after)] != global_shape.dims[size_t(after)]) return -1;
  int64_t start = 0;
  for (int k = 0; k < shape.ndim; ++k)
    start = start * global_shape.dims[size_t(k)] + box_offset[size_t(k)];
  return start;
}

int64_t ParamInfo::global_index(int64_t i) const {
  if (!shard.sharded()) return i;
  std::array<int64_t, 4> local{};
  for (int k = shape.ndim - 1; k >= 0; --k) {
    local[size_t(k)] = i % shape.dims[size_t(k)];
    i /= shape.dims[size_t(k)];
  }
  int64_t g = 0;
  for (int k = 0; k < shape.ndim; ++k)
    g = g * global_shape.dims[size_t(k)] + box_offset[size_t(k)] + local[size_t(k)];
  return g;
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
  std::array<int64_t, 4> box_offset{};
  auto cut = [&](Axis axis, int dim, int parts, int index) {
    SYM_CHECK(dim >= 0 && dim < global_shape.ndim, "{}: shard dim {} of a {}-d tensor", name, dim,
              global_shape.ndim);
    const int64_t whole = shape.dims[size_t(dim)];
    SYM_CHECK(whole % parts == 0, "{}: dim {} of {} does not split into {} blocks over {}", name,
              dim, whole, parts, axis_name(axis));
    shape.dims[size_t(dim)] = whole / parts;
    box_offset[size_t(dim)] += int64_t(index) * (whole / parts);
  };
  if (shard.sharded()) cut(shard.axis, shard.dim, placement_.blocks(shard), placement_.block(shard));
  if (shard.axis2 != Axis::kNone)
    cut(shard.axis2, shard.dim2, placement_.blocks2(shard), placement_.block2(shard));
  ParamInfo info{std::move(name), shape,  global_shape,           shard, box_offset, numel_, decay,
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

ParamId ParamStore::tensor_at(const Buffer& b, const std::vector<void*>& bound,
                              const void* p) const {
  const int64_t elem = dtype_bytes(dtype_);
  const auto* at = static_cast<const char*>(p);
  for (int u = 0; u < num_units(); ++u) {
    const ParamUnit& pu = unit(u);
    const char* base;
    if (bound.empty()) {
      if (b.empty()) return -1;
      base = static_cast<const char*>(b.view().raw()) + pu.offset * elem;
    } else {
      base = static_cast<const char*>(bound[size_t(u)]);
      if (base == nullptr) continue;
    }
    if (at < base || at >= base + pu.numel * elem) continue;
    const int64_t rel = (at - base) / elem + pu.offset;
    // The unit's tensors lie in id order; the last one starting at or before `rel` holds it
    // unless `rel` is alignment padding after it.
    auto first = infos_.begin() + pu.first, end = infos_.begin() + pu.end;
    auto it = std::upper_bound(first, end, rel,
                               [](int64_t r, const ParamInfo& info) { return r < info.offset; });
    if (it == first) return -1;
    --it;
    return rel < it->offset + it->shape.numel() ? ParamId(it - infos_.begin()) : -1;
  }
  return -1;
}

}  // namespace symphony
