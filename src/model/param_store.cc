#include "model/param_store.h"

namespace symphony {

ParamId ParamStore::add(std::string name, Shape shape, Decay decay) {
  SYM_CHECK(weights_.empty(), "ParamStore::add({}) after allocate()", name);
  ParamInfo info{std::move(name), shape, numel_, decay};
  // Align every tensor to 16 floats (64 bytes) so rows of vectorised kernels start aligned.
  numel_ += (shape.numel() + 15) / 16 * 16;
  infos_.push_back(std::move(info));
  return static_cast<ParamId>(infos_.size() - 1);
}

void ParamStore::allocate() {
  SYM_CHECK(weights_.empty(), "ParamStore::allocate() called twice");
  weights_ = Buffer(dtype_, {numel_}, MemoryCategory::kWeights);
  grads_ = Buffer(dtype_, {numel_}, MemoryCategory::kGrads);
}

ParamId ParamStore::find(const std::string& name) const {
  for (size_t i = 0; i < infos_.size(); ++i)
    if (infos_[i].name == name) return static_cast<ParamId>(i);
  return -1;
}

View ParamStore::slice(Buffer& b, ParamId id) {
  const ParamInfo& p = info(id);
  return b.view().rows(p.offset, p.offset + p.shape.numel()).reshape(p.shape);
}

ConstView ParamStore::slice(const Buffer& b, ParamId id) const {
  const ParamInfo& p = info(id);
  return b.view().rows(p.offset, p.offset + p.shape.numel()).reshape(p.shape);
}

}  // namespace symphony
