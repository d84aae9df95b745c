#include "launch/world_choice.h"

#include "parallel/layout.h"

namespace symphony {
namespace {

int64_t micro_batch_tokens(const RunConfig& config) {
  return config.train.micro_batch_size * config.train.seq_len;
}

// The ranks that each run their own micro-batches: the dense data-parallel group, dp x cp (as
// the trainer counts them).
int64_t data_ranks(const ParallelLayout& layout) {
  return int64_t(layout.size(Axis::kData)) * layout.size(Axis::kContext);
}

}  // namespace

Result<int64_t> global_batch_tokens_on(const RunConfig& config, int world_size) {
  if (config.train.global_batch_tokens > 0) return config.train.global_batch_tokens;
  SYM_TRY_ASSIGN(const ParallelLayout layout, ParallelLayout::create(config.parallel, world_size));
  return micro_batch_tokens(config) * data_ranks(layout);
}

Result<WorldChoice> choose_world(const RunConfig& config, int available,
                                 int64_t global_batch_tokens) {
  ParallelConfig parallel = config.parallel;
  parallel.dp = 0;  // recomputed for each candidate world
  const int64_t micro_tokens = micro_batch_tokens(config);
  for (int world = available; world >= 1; --world) {
    const Result<ParallelLayout> layout = ParallelLayout::create(parallel, world);
    if (!layout) continue;
    const int64_t per_step = micro_tokens * data_ranks(*layout);
    if (global_batch_tokens % per_step != 0) continue;
    return WorldChoice{world, layout->size(Axis::kData), global_batch_tokens / per_step};
  }
  return Error::invalid(
      "no world of 1 to {} ranks runs the layout (parallel.pp = {}, cp = {}, tp = {}, ep = {}, "
      "etp = {}, dp recomputed) with a global batch of {} tokens in whole micro-batches of {} "
      "tokens (train.micro_batch_size * train.seq_len)",
      available, config.parallel.pp, config.parallel.cp, config.parallel.tp, config.parallel.ep,
      config.parallel.etp, global_batch_tokens, micro_tokens);
}

}  // namespace symphony
