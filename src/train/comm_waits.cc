#include "train/comm_waits.h"

namespace symphony {
namespace {

WaitKind wait_kind_of(Axis axis) {
  switch (axis) {
    case Axis::kPipeline:
      return WaitKind::kPipeline;
    case Axis::kData:
    case Axis::kExpertData:
      return WaitKind::kDataParallel;
    case Axis::kContext:
      return WaitKind::kContext;
    case Axis::kTensor:
    case Axis::kExpertTensor:
      return WaitKind::kTensor;
    case Axis::kExpert:
      return WaitKind::kExpert;
    case Axis::kNone:
      break;
  }
  return WaitKind::kOther;
}

}  // namespace

CommWaits::CommWaits(DeviceMesh& mesh) {
  for (int k = 0; k < kNumWaitKinds; ++k) tallies_[size_t(k)] = std::make_shared<CommWaitTally>();
  // The world outlives this run (it may serve several): its own tally is read, not replaced.
  tallies_[size_t(WaitKind::kOther)] = mesh.world().wait_tally();
  for (int a = 0; a < kNumAxes; ++a)
    mesh.group(Axis(a)).set_wait_tally(tallies_[size_t(wait_kind_of(Axis(a)))]);
  for (int g = 0; g < kNumReplicaGroups; ++g)
    mesh.replicas(ReplicaGroup(g)).set_wait_tally(tallies_[size_t(WaitKind::kDataParallel)]);
}

std::array<double, kNumWaitKinds> CommWaits::seconds() const {
  std::array<double, kNumWaitKinds> out{};
  for (int k = 0; k < kNumWaitKinds; ++k) out[size_t(k)] = tallies_[size_t(k)]->seconds();
  return out;
}

}  // namespace symphony
