#include "parallel/shard_spec.h"

namespace symphony {
namespace {
constexpr Axis kDenseReplicas[] = {Axis::kData, Axis::kContext};
constexpr Axis kExpertReplicas[] = {Axis::kExpertData};
constexpr Axis kExpertBlocks[] = {Axis::kExpert, Axis::kExpertTensor};
}  // namespace

ShardPlacement ShardPlacement::of(const ParallelLayout& layout, int rank) {
  ShardPlacement p;
  p.coord = layout.coords(rank);
  for (int a = 0; a < kNumAxes; ++a) p.size[size_t(a)] = layout.size(Axis(a));
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
  if (group == ReplicaGroup::kDense) return {};
  return kExpertBlocks;
}

}  // namespace symphony
