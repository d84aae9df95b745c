#pragma once
// ParamStore: every trainable tensor of a model in one contiguous weights buffer and one
// contiguous gradients buffer with the same layout. Flat storage makes the optimizer, gradient
// norm, zeroing, checkpointing and (later) ZeRO sharding single loops over ranges.
//
// Two phases: modules call add() in their constructors to declare tensors (name, shape, whether
// weight decay applies) and keep the returned ParamId; allocate() then reserves the memory once.
// Names follow Hugging Face conventions ("model.layers.0.self_attn.q_proj.weight").

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/buffer.h"

namespace symphony {

using ParamId = int32_t;

enum class Decay : uint8_t { kNo, kYes };  // AdamW weight decay: matrices yes, norms no

struct ParamInfo {
  std::string name;
  Shape shape;
  int64_t offset = 0;  // elements from the start of the flat buffers
  Decay decay = Decay::kYes;
};

class ParamStore {
 public:
  explicit ParamStore(DType dtype) : dtype_(dtype) {}

  ParamId add(std::string name, Shape shape, Decay decay);
  void allocate();  // REQUIRES: called once, after every add()

  View param(ParamId id) { return slice(weights_, id); }
  ConstView param(ParamId id) const { return slice(weights_, id); }
  View grad(ParamId id) { return slice(grads_, id); }
  ConstView grad(ParamId id) const { return slice(grads_, id); }

  View all_params() { return weights_.view(); }
  View all_grads() { return grads_.view(); }
  ConstView all_params() const { return weights_.view(); }
  ConstView all_grads() const { return grads_.view(); }
  void zero_grads() { grads_.zero(); }

  const std::vector<ParamInfo>& infos() const { return infos_; }
  const ParamInfo& info(ParamId id) const { return infos_[static_cast<size_t>(id)]; }
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  // The id of a tensor by name, or -1.
  ParamId find(const std::string& name) const;

 private:
  View slice(Buffer& b, ParamId id);
  ConstView slice(const Buffer& b, ParamId id) const;

  DType dtype_;
  std::vector<ParamInfo> infos_;  // [ParamId]
  int64_t numel_ = 0;
  Buffer weights_;
  Buffer grads_;
};

}  // namespace symphony
