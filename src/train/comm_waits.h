#pragma once
// Attributes the time this rank blocks in communication (parallel/comm.h wait accounting) to the
// kinds of monitor/rank_times.h by the mesh group that carries it:
//   pp -> pipeline; dp, edp and the gradient replica groups -> data_parallel; cp -> context;
//   tp, etp -> tensor; ep -> expert; the world -> other.
// It installs one tally per kind on the mesh's groups; a group split from one of them later
// inherits its tally (the tensor-parallel KV-head group counts as tensor, the tied-embedding
// group, split from the world, as other).
// Thread-safety: seconds() may be called from any thread.

#include <array>
#include <memory>

#include "monitor/rank_times.h"
#include "parallel/mesh.h"

namespace symphony {

class CommWaits {
 public:
  // REQUIRES: called before anything splits groups off the mesh's groups.
  explicit CommWaits(DeviceMesh& mesh);

  // Seconds blocked so far, by kind ([WaitKind]); monotonic.
  std::array<double, kNumWaitKinds> seconds() const;

 private:
  std::array<std::shared_ptr<CommWaitTally>, kNumWaitKinds> tallies_;  // [WaitKind]
};

}  // namespace symphony
