#pragma once
// The world a job restarts on after ranks were left out (symphony launch --shrink): the largest
// number of ranks, no more than those still available, on which the run's layout stays valid
// with parallel.dp recomputed (every other axis kept) and the global batch stays the same, split
// into whole micro-batches on every data-parallel rank (gradient accumulation makes up for the
// ranks gone). From 4 ranks with a global batch of 4 micro-batches, 3 is refused (4 micro-batches
// do not split over 3 replicas) and 2 taken.
// Pure arithmetic over parallel/layout.h.

#include <cstdint>

#include "config/run_config.h"
#include "core/status.h"

namespace symphony {

struct WorldChoice {
  int world_size = 1;
  int64_t dp = 1;             // parallel.dp on that world
  int64_t micro_batches = 1;  // per data-parallel rank and step (gradient accumulation)
};

// The global batch of `config` on `world_size` ranks, in tokens: train.global_batch_tokens, or
// when that is 0 one micro-batch per data-parallel rank (dp * cp of the layout).
// Failure: the layout's error for that world.
Result<int64_t> global_batch_tokens_on(const RunConfig& config, int world_size);

// The largest world of at most `available` ranks as described above, for a global batch of
// `global_batch_tokens` (> 0). Failure (kInvalidArgument): no world from `available` down to 1
// fits, naming the axes and the batch that rule them out.
Result<WorldChoice> choose_world(const RunConfig& config, int available,
                                 int64_t global_batch_tokens);

}  // namespace symphony
