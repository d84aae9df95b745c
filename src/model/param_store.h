#pragma once
// ParamStore: every trainable tensor of a model in one contiguous weights buffer and one
// contiguous gradients buffer with the same layout. Flat storage makes the optimizer, gradient
// norm, zeroing, checkpointing and (later) ZeRO sharding single loops over ranges.
//
// Two phases: modules call add() in their constructors to declare tensors (name, shape, whether
// weight decay applies) and keep the returned ParamId; allocate() then reserves the memory once.
// Names follow Hugging Face conventions ("model.layers.0.self_attn.q_proj.weight").
//
// Sharding (parallel/shard_spec.h): each tensor is declared with its global shape and how it is
// split over the mesh; the store holds this rank's block of it (`shape`), and everything that
// reduces, shards, saves or plans a tensor reads the declaration.
//
// Blocks and units: begin_block() starts a block (the embedding, one decoder layer, the final
// norm with the LM head), what the model announces to its hooks (model/unit_hooks.h). A block
// is cut into units, contiguous runs of tensors with the same replica group: a MoE layer is a
// dense unit (attention, norms, router, shared experts) and an expert unit. Sharded state
// (zero/) gathers, reduces and frees memory unit by unit, each over its replica group. With
// Residency::kWindowed a buffer is not allocated at all: each unit's storage is bound from
// outside (bind_unit_weights / bind_unit_grads) while the unit is in use, and param()/grad() of an
// unbound unit is a checked error.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "parallel/shard_spec.h"
#include "tensor/buffer.h"

namespace symphony {

class WeightGradQueue;

using ParamId = int32_t;

enum class Decay : uint8_t { kNo, kYes };  // AdamW weight decay: matrices yes, norms no

struct ParamInfo {
  std::string name;
  Shape shape;             // this rank's block
  Shape global_shape;      // the whole tensor
  ShardSpec shard;
  std::array<int64_t, 4> box_offset{};  // where the block starts in the global tensor, per dim
  int64_t offset = 0;      // elements from the start of the flat buffers
  Decay decay = Decay::kYes;
  int unit = 0;            // the unit it belongs to
  int block = 0;           // the block it belongs to
  // Element offset of the block within the global row-major tensor when the block is one
  // contiguous run of it (e.g. sharded along dim 0 only, or not at all); -1 otherwise.
  int64_t global_run_start() const;
  // The global row-major element index of local element `i` of the block.
  int64_t global_index(int64_t i) const;
};

struct ParamUnit {
  ParamId first = 0, end = 0;  // tensors [first, end)
  int64_t offset = 0;          // elements from the start of the flat buffers
  int64_t numel = 0;           // elements, alignment padding included
  int block = 0;
  ReplicaGroup replicas = ReplicaGroup::kDense;
};

struct ParamBlock {
  int first_unit = 0, end_unit = 0;  // units [first, end)
};

enum class Residency : uint8_t {
  kFull,      // one buffer for every unit, allocated once
  kWindowed,  // no buffer: units are bound while in use
};
struct ParamResidency {
  Residency weights = Residency::kFull;
  Residency grads = Residency::kFull;
};

class ParamStore {
 public:
  explicit ParamStore(DType dtype, ShardPlacement placement = {})
      : dtype_(dtype), placement_(placement) {}

  // Starts a new block; tensors added before the first call form block 0.
  void begin_block();
  // Declares a tensor of `global_shape`, split by `shard`; the store keeps this rank's block.
  // REQUIRES: the blocks of each cut divide the dimension they cut (validated with the config).
  ParamId add(std::string name, Shape global_shape, Decay decay, ShardSpec shard = {});
  void allocate(ParamResidency residency = {});  // REQUIRES: called once, after every add()

  const std::vector<ParamUnit>& units() const { return units_; }
  const ParamUnit& unit(int u) const { return units_[size_t(u)]; }
  int num_units() const { return int(units_.size()); }
  const std::vector<ParamBlock>& blocks() const { return blocks_; }
  const ParamBlock& block(int b) const { return blocks_[size_t(b)]; }
  int num_blocks() const { return int(blocks_.size()); }
  const ShardPlacement& placement() const { return placement_; }
  // Where the model's linear layers send weight gradients (model/weight_grad_queue.h), or null:
  // accumulate them at once.
  WeightGradQueue* weight_grad_queue() const { return weight_grad_queue_; }
  void set_weight_grad_queue(WeightGradQueue* queue) { weight_grad_queue_ = queue; }
  ParamResidency residency() const { return residency_; }
  // Where unit u's weights / gradients live now (unit(u).numel elements), or nullptr when it is
  // not resident. REQUIRES: the matching residency is kWindowed.
  void bind_unit_weights(int u, void* data);
  void bind_unit_grads(int u, void* data);

  View param(ParamId id) { return slice(weights_, bound_weights_, id); }
  ConstView param(ParamId id) const { return slice(weights_, bound_weights_, id); }
  View grad(ParamId id) { return slice(grads_, bound_grads_, id); }
  ConstView grad(ParamId id) const { return slice(grads_, bound_grads_, id); }

  // REQUIRES for the all_* views and zero_grads(): the residency is kFull.
  View all_params() { return weights_.view(); }
  View all_grads() { return grads_.view(); }
  ConstView all_params() const { return weights_.view(); }
  ConstView all_grads() const { return grads_.view(); }
  void zero_grads();
  // The unit's slice of a full buffer. REQUIRES: that buffer's residency is kFull.
  View unit_params(int u) { return weights_.view().rows(unit(u).offset, unit(u).offset + unit(u).numel); }
  View unit_grads(int u) { return grads_.view().rows(unit(u).offset, unit(u).offset + unit(u).numel); }

  // The tensor whose weights (gradients) now hold the element at `p`, or -1: resolves a view a
  // module handed to a kernel back to its parameter, wherever ZeRO has bound its unit.
  ParamId weight_at(const void* p) const { return tensor_at(weights_, bound_weights_, p); }
  ParamId grad_at(const void* p) const { return tensor_at(grads_, bound_grads_, p); }

  const std::vector<ParamInfo>& infos() const { return infos_; }
  const ParamInfo& info(ParamId id) const { return infos_[static_cast<size_t>(id)]; }
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  // The id of a tensor by name, or -1.
  ParamId find(const std::string& name) const;

 private:
  View slice(const Buffer& b, const std::vector<void*>& bound, ParamId id) const;
  ParamId tensor_at(const Buffer& b, const std::vector<void*>& bound, const void* p) const;

  DType dtype_;
  ShardPlacement placement_;
  WeightGradQueue* weight_grad_queue_ = nullptr;
  std::vector<ParamInfo> infos_;  // [ParamId]
  int64_t numel_ = 0;
  std::vector<ParamUnit> units_;
  std::vector<ParamBlock> blocks_;
  ParamResidency residency_;
  bool allocated_ = false;
  Buffer weights_;
  Buffer grads_;
  std::vector<void*> bound_weights_, bound_grads_;  // [unit] when windowed
};

}  // namespace symphony
