#include "parallel/mesh.h"

#include <string>
#include <vector>

#include "core/check.h"

namespace symphony {

namespace {

// The group over `axes` that contains this rank: color = the group's lowest world rank (the same
// for every member), key = position within the group.
Result<std::unique_ptr<Comm>> make_group(const ParallelLayout& layout, Comm& world,
                                         std::span<const Axis> axes, std::string name) {
  const std::vector<int> ranks = layout.group_ranks(axes, world.rank());
  int group_size = int(ranks.size());
  if (group_size == 1 && world.size() > 1) {
    // Every rank still takes part in the split, which is collective over the world.
    SYM_TRY_ASSIGN(std::unique_ptr<Comm> alone, world.split(world.rank(), 0, name));
    (void)alone;
    return make_self_comm(std::move(name));
  }
  if (group_size == 1) return make_self_comm(std::move(name));
  int color = ranks[0];
  for (int r : ranks) color = std::min(color, r);
  return world.split(color, layout.group_rank(axes, world.rank()), std::move(name));
}

}  // namespace

Result<DeviceMesh> DeviceMesh::create(const ParallelLayout& layout, Comm& world) {
  SYM_CHECK(layout.world_size() == world.size(), "layout for {} ranks, world of {}",
            layout.world_size(), world.size());
  DeviceMesh mesh;
  mesh.layout_ = layout;
  mesh.world_ = &world;
  for (int a = 0; a < kNumAxes; ++a) {
    const Axis axis[] = {Axis(a)};
    SYM_TRY_ASSIGN(mesh.groups_[size_t(a)],
                   make_group(layout, world, axis, std::string(axis_name(Axis(a)))));
  }
  for (int g = 0; g < kNumReplicaGroups; ++g) {
    SYM_TRY_ASSIGN(mesh.replicas_[g],
                   make_group(layout, world, reduction_axes(ReplicaGroup(g)),
                              std::string(replica_group_name(ReplicaGroup(g)))));
  }
  return mesh;
}

DeviceMesh DeviceMesh::single() {
  DeviceMesh mesh;
  Result<ParallelLayout> layout = ParallelLayout::create(ParallelConfig{}, 1);
  SYM_CHECK(layout.has_value(), "{}", layout.error().message());
  mesh.layout_ = *layout;
  mesh.own_world_ = make_self_comm("world");
  mesh.world_ = mesh.own_world_.get();
  for (int a = 0; a < kNumAxes; ++a) mesh.groups_[a] = make_self_comm(std::string(axis_name(Axis(a))));
  for (int g = 0; g < kNumReplicaGroups; ++g)
    mesh.replicas_[g] = make_self_comm(std::string(replica_group_name(ReplicaGroup(g))));
  return mesh;
}

}  // namespace symphony
