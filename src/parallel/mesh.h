#pragma once
// DeviceMesh: the communicators of a ParallelLayout. For every axis of both factorisations
// (parallel/layout.h) a group of the ranks that differ only along it, plus the replica groups
// of parallel/shard_spec.h that gradients are reduced over: dp x cp for dense parameters, edp for
// experts. A size-1 group is a SelfComm, so one process runs the same code path with no
// communication.

#include <array>
#include <memory>

#include "core/status.h"
#include "parallel/comm.h"
#include "parallel/layout.h"
#include "parallel/shard_spec.h"

namespace symphony {

class DeviceMesh {
 public:
  // Collective over `world`: every rank must call it with the same layout.
  // REQUIRES: layout.world_size() == world.size().
  static Result<DeviceMesh> create(const ParallelLayout& layout, Comm& world);
  // One process: every group is a SelfComm.
  static DeviceMesh single();

  const ParallelLayout& layout() const { return layout_; }
  Comm& world() { return *world_; }
  Comm& group(Axis axis) { return *groups_[int(axis)]; }
  Comm& replicas(ReplicaGroup group) { return *replicas_[int(group)]; }
  int rank(Axis axis) const { return groups_[int(axis)]->rank(); }
  int size(Axis axis) const { return layout_.size(axis); }

 private:
  DeviceMesh() = default;

  ParallelLayout layout_;
  std::unique_ptr<Comm> own_world_;  // single()
  Comm* world_ = nullptr;
  std::array<std::unique_ptr<Comm>, kNumAxes> groups_;             // [axis]
  std::array<std::unique_ptr<Comm>, kNumReplicaGroups> replicas_;  // [ReplicaGroup]
};

}  // namespace symphony
