#pragma once
// How a parameter is split over the mesh, declared once where the parameter is declared
// (model/param_store.h) and read by everything that handles it: gradient reduction, ZeRO
// sharding, the gradient norm, the checkpoint manifest, the memory plan and the planner. Nothing
// recognises a parameter by its name to decide how it is reduced or saved.
//
// A parameter of global shape S with ShardSpec{axis, dim} is cut along `dim` into size(axis)
// equal blocks; the rank at position p on `axis` holds block p, whose element box starts at
// p * S[dim] / size(axis) along `dim` and at 0 elsewhere. Axis::kNone: every rank holds all of it.
//
// The ranks holding the same block are its replicas: the gradient of a block is summed over them
// and ZeRO shards the block's state over them.
//   replicated (kNone) and dense-sharded parameters   replicas over dp x cp  (ReplicaGroup::kDense)
//   expert-sharded parameters (ep, etp)               replicas over edp      (ReplicaGroup::kExpert)

#include <array>
#include <cstdint>
#include <span>

#include "parallel/layout.h"

namespace symphony {

struct ShardSpec {
  Axis axis = Axis::kNone;  // kNone: replicated
  int dim = 0;              // the tensor dimension cut along `axis`
  bool sharded() const { return axis != Axis::kNone; }
  friend bool operator==(const ShardSpec&, const ShardSpec&) = default;
};

// Where this rank sits on every axis, as far as cutting parameters goes: the layout's sizes and
// this rank's coordinates. The default is one process (every size 1).
struct ShardPlacement {
  std::array<int, kNumAxes> size{1, 1, 1, 1, 1, 1, 1};   // [axis]
  std::array<int, kNumAxes> coord{};                      // [axis]
  static ShardPlacement of(const ParallelLayout& layout, int rank);
  int blocks(const ShardSpec& s) const { return s.sharded() ? size[int(s.axis)] : 1; }
  int block(const ShardSpec& s) const { return s.sharded() ? coord[int(s.axis)] : 0; }
};

enum class ReplicaGroup : uint8_t { kDense, kExpert };
inline constexpr int kNumReplicaGroups = 2;
std::string_view replica_group_name(ReplicaGroup group);  // "dp_cp", "edp"

ReplicaGroup replica_group_of(const ShardSpec& shard);
// The axes the replicas of a parameter differ on (its gradients are reduced over them).
std::span<const Axis> reduction_axes(ReplicaGroup group);
// The axes its distinct blocks differ on, within a pipeline stage: a value summed over the
// replica group and then over these covers every block of every parameter of the group once
// (the gradient norm). Dense: none yet (tensor parallelism adds tp); expert: ep, etp.
std::span<const Axis> block_axes(ReplicaGroup group);

}  // namespace symphony
