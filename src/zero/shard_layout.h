#pragma once
// ShardLayout: where each rank keeps its share of the training state under ZeRO, as arithmetic
// over a model's parameter declarations (model/param_store.h) and this rank's placement
// (parallel/shard_spec.h). The sharded state (zero/data_parallel.h), the checkpoint writer and
// reader, the memory plans and the planner all use it, so they agree by construction.
//
// Every unit of n elements is cut into g slices of ceil(n / g) elements (16-float aligned), g the
// size of the unit's replica group (dp x cp for dense units, edp for expert units); the rank at
// position r of that group owns slice r. A rank's shard is its slices of every unit, end to end.

#include <cstdint>
#include <vector>

#include "model/param_store.h"
#include "model/model_config.h"
#include "parallel/layout.h"
#include "parallel/shard_spec.h"

namespace symphony {

// A contiguous run of the flat parameter space (ParamStore offsets) and where this rank keeps its
// weights and AdamW moments. Checkpoints save and load the training state through these.
struct StateSlice {
  int64_t offset = 0;  // first element, in ParamStore::info(id).offset coordinates
  int64_t numel = 0;
  float* weights = nullptr;
  float* exp_avg = nullptr;
  float* exp_avg_sq = nullptr;
};

// Bytes one rank's sharded state allocates, by category: the model's weight and gradient
// buffers (full or windowed), the shards, the unit slots and communication buffers, and the AdamW
// moments. Computed from the declarations alone, the way zero/data_parallel.cc allocates;
// tests/parallel/data_parallel_mpi_test.cc checks it against the measured allocation.
struct ShardedMemory {
  int64_t weights = 0;
  int64_t grads = 0;
  int64_t optimizer = 0;
  int64_t communication = 0;
  int64_t total() const { return weights + grads + optimizer + communication; }
};

class ShardLayout {
 public:
  // `store` may be a declaration (Transformer::declare_params) or the model's own store.
  ShardLayout(const ParamStore& store, const ShardPlacement& placement);

  // Size of the replica group of unit u and this rank's position in it.
  int group_size(int u) const { return group_size_[size_t(store_->unit(u).replicas)]; }
  int group_rank(int u) const { return group_rank_[size_t(store_->unit(u).replicas)]; }
  // Elements per rank of unit u: ceil(numel / group size), 16-float aligned.
  int64_t slice(int u) const { return slice_[size_t(u)]; }
  // slice(u) * group_size(u): the unit padded to whole slices.
  int64_t padded(int u) const { return slice(u) * group_size(u); }
  // Where unit u's slice sits in this rank's shard.
  int64_t shard_offset(int u) const { return shard_offset_[size_t(u)]; }
  int64_t shard_numel() const { return shard_numel_; }
  int64_t max_slice() const { return max_slice_; }
  int64_t max_padded() const { return max_padded_; }
  // The same over the units of one replica group (0 when it has none).
  int64_t max_slice(ReplicaGroup g) const { return group_max_slice_[size_t(g)]; }
  int64_t max_padded(ReplicaGroup g) const { return group_max_padded_[size_t(g)]; }
  // The part of unit u this rank owns, in flat store coordinates: [begin, end), clipped to the
  // unit (empty for a rank past the end of a small unit).
  int64_t owned_begin(int u) const;
  int64_t owned_end(int u) const;
  // Gathered-unit slots ZeRO-2/3 keep for a replica group's units, each max_padded(g) elements:
  // the block in use and the prefetched next one (a block has at most one unit of each group),
  // plus the embedding when the last stage uses it again (tied LM head, MTP), held beside the
  // LM head's block and a layer's.
  int slots(ReplicaGroup g, const ModelConfig& config) const;

  // What one rank's sharded state allocates at `stage`.
  ShardedMemory plan_memory(const ModelConfig& config, ZeroStage stage,
                            Precision grad_dtype = Precision::kFp32) const;

 private:
  const ParamStore* store_;
  std::array<int, kNumReplicaGroups> group_size_{}, group_rank_{};  // [ReplicaGroup]
  std::vector<int64_t> slice_, shard_offset_;                       // [unit]
  int64_t shard_numel_ = 0, max_slice_ = 0, max_padded_ = 0;
  std::array<int64_t, kNumReplicaGroups> group_max_slice_{}, group_max_padded_{};
};

// The replica groups' sizes and this rank's positions, from the placement: dense = dp x cp (dp
// fastest), expert = edp.
int replica_group_size(const ShardPlacement& placement, ReplicaGroup group);
int replica_group_rank(const ShardPlacement& placement, ReplicaGroup group);

// The plan of a rank at `placement` of `config`'s model at `stage`, from its declarations.
ShardedMemory plan_sharded_memory(const ModelConfig& config, const ShardPlacement& placement,
                                  ZeroStage stage, Precision grad_dtype = Precision::kFp32);

}  // namespace symphony
