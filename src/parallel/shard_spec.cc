#include "parallel/shard_spec.h"

namespace symphony {
namespace {
constexpr Axis kDenseReplicas[] = {Axis::kData, Axis::kContext};
constexpr Axis kDenseBlocks[] = {Axis::kTensor};
constexpr Axis kExpertReplicas[] = {Axis::kExpertData};
constexpr Axis kExpertBlocks[] = {Axis::kExpert, Axis::kExpertTensor};
}  // namespace

ShardPlacement ShardPlacement::of(const ParallelLayout& layout, int rank) {
  ShardPlacement p;
  p.coord = layout.coords(rank);
  for (int a = 0; a < kNumAxes; ++a) p.size[size_t(a)] = layout.size(Axis(a));
  p.pipeline.stages = layout.size(Axis::kPipeline);
  p.pipeline.stage = p.coord[int(Axis::kPipeline)];
  return p;
}

std::string_view replica_group_name(ReplicaGroup group) {
  return group == ReplicaGroup::kDense ? "dp_cp" : "edp";
}

ReplicaGroup replica_group_of(const ShardSpec& shard) {
  return is_expert_axis(shard.axis) ? ReplicaGroup::kExpert : ReplicaGroup::kDense;
}

std::span<const Axis> reduction_axes(ReplicaGroup group) {
  if (group == ReplicaGroup::kDense) return kDenseReplicas;
  return kExpertReplicas;
}

std::span<const Axis> block_axes(ReplicaGroup group) {
  if (group == ReplicaGroup::kDense) return kDenseBlocks;
  return kExpertBlocks;
}

bool ShardPlacement::is_primary(const ShardSpec& s) const {
  if (s.stage_copy) return false;
  for (Axis axis : block_axes(replica_group_of(s))) {
    const int a = int(axis);
    if (axis == s.axis) {
      // Ranks holding one block are consecutive along the axis: the first of them.
      const int copies = size[a] / blocks(s);
      if (coord[a] % copies != 0) return false;
    } else if (axis != s.axis2 && coord[a] != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace symphony
