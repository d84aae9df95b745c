#pragma once
// DeviceMesh: the communicators of a ParallelLayout. For every axis a group of the ranks that
// differ only along it, plus the combinations gradients are reduced over: dp_cp (data x context:
// every replica of a parameter that expert parallelism does not split) and dp_cp_ep (the
// replicas of a non-expert parameter). A size-1 group is a SelfComm, so one process runs the
// same code path with no communication.

#include <array>
#include <memory>

#include "core/status.h"
#include "parallel/comm.h"
#include "parallel/layout.h"

namespace symphony {

enum class AxisGroup : uint8_t { kDataContext, kDataContextExpert };

class DeviceMesh {
 public:
  // Collective over `world`: every rank must call it with the same layout.
  // REQUIRES: layout.world_size() == world.size().
  static Result<DeviceMesh> create(const ParallelLayout& layout, Comm& world);

  const ParallelLayout& layout() const { return layout_; }
  Comm& world() { return *world_; }
  Comm& group(Axis axis) { return *groups_[int(axis)]; }
  Comm& group(AxisGroup combo) { return *combos_[int(combo)]; }
  int rank(Axis axis) const { return groups_[int(axis)]->rank(); }
  int size(Axis axis) const { return layout_.size(axis); }

 private:
  DeviceMesh() = default;

  ParallelLayout layout_;
  Comm* world_ = nullptr;
  std::array<std::unique_ptr<Comm>, kNumAxes> groups_;  // [axis]
  std::array<std::unique_ptr<Comm>, 2> combos_;         // [AxisGroup]
};

}  // namespace symphony
