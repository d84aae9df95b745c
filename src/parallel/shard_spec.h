#pragma once
// How a parameter is split over the mesh, declared once where the parameter is declared
// (model/param_store.h) and read by everything that handles it: gradient reduction, ZeRO
// sharding, the gradient norm, the checkpoint manifest, the memory plan and the planner. Nothing
// recognises a parameter by its name to decide how it is reduced or saved.
//
// A parameter of global shape S with ShardSpec{axis, dim} is cut along `dim` into size(axis)
// equal blocks; the rank at position p on `axis` holds block p, whose element box starts at
// p * S[dim] / size(axis) along `dim` and at 0 elsewhere. Axis::kNone: every rank holds all of it.
// `parts` > 0 says `dim` is made of that many indivisible parts (attention KV heads): when the
// axis is larger, only `parts` blocks exist and size(axis) / parts consecutive ranks hold each
// (KV heads replicated under tensor parallelism). A second cut (`axis2`, `dim2`) splits the block
// again along another dimension: an expert's weights over ep (dim 0) and etp (its hidden width).
//
// The ranks holding the same block are its replicas: the gradient of a block is summed over them
// and ZeRO shards the block's state over them.
//   replicated (kNone) and dense-sharded parameters   replicas over dp x cp  (ReplicaGroup::kDense)
//   expert-sharded parameters (ep, etp)               replicas over edp      (ReplicaGroup::kExpert)
// Copies of a block along the block axes (tp for dense parameters, ep and etp for experts: a
// norm weight on every tensor-parallel rank, a replicated KV head) are not replicas in that
// sense: the model keeps them equal (it sums their gradients over the block axis itself), and
// one of them, the primary copy, is the one counted by the gradient norm and saved.

#include <array>
#include <cstdint>
#include <span>

#include "parallel/layout.h"
#include "parallel/pipeline_stages.h"

namespace symphony {

struct ShardSpec {
  Axis axis = Axis::kNone;   // kNone: replicated
  int dim = 0;               // the tensor dimension cut along `axis`
  int parts = 0;             // indivisible parts of `dim`; 0: no limit
  Axis axis2 = Axis::kNone;  // a second cut, or kNone
  int dim2 = 0;
  // A copy of a tensor whose primary lives on another pipeline stage (the LM head of tied
  // embeddings on the last stage): never the primary copy; the trainer keeps it equal to the
  // primary by summing their gradients.
  bool stage_copy = false;
  bool sharded() const { return axis != Axis::kNone; }
  ShardSpec then(Axis second, int second_dim) const {
    ShardSpec s = *this;
    s.axis2 = second;
    s.dim2 = second_dim;
    return s;
  }
  friend bool operator==(const ShardSpec&, const ShardSpec&) = default;
};

// Where this rank sits on every axis, as far as cutting parameters goes: the layout's sizes and
// this rank's coordinates. The default is one process (every size 1).
struct ShardPlacement {
  std::array<int, kNumAxes> size{1, 1, 1, 1, 1, 1, 1};   // [axis]
  std::array<int, kNumAxes> coord{};                      // [axis]
  // The decoder layers this rank's pipeline stage holds (parallel/pipeline_stages.h). of() sets
  // the stage and the stage count; the split itself (layers) comes from the trainer.
  PipelineStages pipeline;
  static ShardPlacement of(const ParallelLayout& layout, int rank);
  // Distinct blocks along the first cut, and which one this rank holds.
  int blocks(const ShardSpec& s) const {
    if (!s.sharded()) return 1;
    const int n = size[int(s.axis)];
    return s.parts > 0 && s.parts < n ? s.parts : n;
  }
  int block(const ShardSpec& s) const {
    return s.sharded() ? coord[int(s.axis)] * blocks(s) / size[int(s.axis)] : 0;
  }
  // The same along the second cut.
  int blocks2(const ShardSpec& s) const { return s.axis2 != Axis::kNone ? size[int(s.axis2)] : 1; }
  int block2(const ShardSpec& s) const { return s.axis2 != Axis::kNone ? coord[int(s.axis2)] : 0; }
  // Whether this rank holds the primary copy of its block along the block axes of the
  // parameter's replica group (see above): the first rank of those holding the same block.
  bool is_primary(const ShardSpec& s) const;
};

enum class ReplicaGroup : uint8_t { kDense, kExpert };
inline constexpr int kNumReplicaGroups = 2;
std::string_view replica_group_name(ReplicaGroup group);  // "dp_cp", "edp"

ReplicaGroup replica_group_of(const ShardSpec& shard);
// The axes the replicas of a parameter differ on (its gradients are reduced over them).
std::span<const Axis> reduction_axes(ReplicaGroup group);
// The axes its blocks differ on, within a pipeline stage: a value summed over the replica group
// and then over these covers every block of every parameter of the group, each copy of a block
// once (the gradient norm counts primary copies only). Dense: tp; expert: ep, etp.
std::span<const Axis> block_axes(ReplicaGroup group);

}  // namespace symphony
