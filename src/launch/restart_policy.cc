#include "launch/restart_policy.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace symphony {

RestartPolicy::RestartPolicy(const RestartPolicyOptions& options, int world_size)
    : options_(options), failures_(size_t(world_size), 0) {
  SYM_CHECK(world_size >= 1, "world size {}", world_size);
  SYM_CHECK(options.failures_to_exclude >= 1, "failures_to_exclude {}",
            options.failures_to_exclude);
  for (int s = 0; s < world_size; ++s) healthy_.push_back(s);
}

std::vector<int> RestartPolicy::slots_for(int world_size) const {
  SYM_CHECK(world_size >= 1 && world_size <= int(healthy_.size()), "world size {} of {} healthy",
            world_size, healthy_.size());
  return {healthy_.begin(), healthy_.begin() + world_size};
}

std::vector<int> RestartPolicy::record_failure(std::span<const int> attempt_ranks,
                                               FailureProgress progress) {
  failures_without_progress_ =
      progress == FailureProgress::kNewCheckpoint ? 1 : failures_without_progress_ + 1;
  // The attempt ran on the first healthy slots as they stood when it started.
  const std::vector<int> ran_on = healthy_;
  std::vector<int> excluded;
  for (int rank : attempt_ranks) {
    if (rank < 0 || rank >= int(ran_on.size())) continue;
    const int slot = ran_on[size_t(rank)];
    ++failures_[size_t(slot)];
    if (options_.shrink == ShrinkMode::kOn &&
        failures_[size_t(slot)] >= options_.failures_to_exclude &&
        std::find(excluded.begin(), excluded.end(), slot) == excluded.end())
      excluded.push_back(slot);
  }
  for (int slot : excluded) healthy_.erase(std::find(healthy_.begin(), healthy_.end(), slot));
  std::sort(excluded.begin(), excluded.end());
  return excluded;
}

double RestartPolicy::backoff_s() const {
  const int doublings = std::max(0, failures_without_progress_ - 1);
  return std::min(options_.backoff_max_s,
                  options_.backoff_s * std::pow(2.0, std::min(doublings, 60)));
}

std::vector<int> RestartPolicy::excluded_slots() const {
  std::vector<int> out;
  for (int s = 0; s < int(failures_.size()); ++s)
    if (std::find(healthy_.begin(), healthy_.end(), s) == healthy_.end()) out.push_back(s);
  return out;
}

}  // namespace symphony
