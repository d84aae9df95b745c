#pragma once
// RestartPolicy: when a supervised job may restart, after how long, and on which ranks.
//
// Ranks are counted by slot: slot s is rank s of the job as first launched. An attempt runs on the
// first healthy slots, rank r of the attempt on the r-th of them, so a failure blamed on a rank
// of an attempt is charged to its slot.
//   - Restarts: at most `max_restarts` in all.
//   - Back-off before a restart: backoff_s, doubled after each further failure in a row that made
//     no progress (no newer checkpoint), at most backoff_max_s; a failure after progress starts
//     again from backoff_s.
//   - Shrink (ShrinkMode::kOn): a slot blamed for `failures_to_exclude` failures is left out of
//     every later attempt. Without shrink every attempt runs on all slots.
// Pure bookkeeping: nothing here starts, waits or signals. Thread-safety: none.

#include <cstdint>
#include <span>
#include <vector>

namespace symphony {

enum class ShrinkMode : uint8_t { kOff, kOn };
enum class FailureProgress : uint8_t { kNone, kNewCheckpoint };

struct RestartPolicyOptions {
  int max_restarts = 3;
  double backoff_s = 5;
  double backoff_max_s = 300;
  ShrinkMode shrink = ShrinkMode::kOff;
  int failures_to_exclude = 2;
};

class RestartPolicy {
 public:
  // REQUIRES: world_size >= 1, options.failures_to_exclude >= 1.
  RestartPolicy(const RestartPolicyOptions& options, int world_size);

  // Charges a failed attempt to the slots of its blamed ranks (`attempt_ranks` are ranks of the
  // attempt, mapped through the slots it ran on) and returns the slots this failure left out
  // (shrink only).
  std::vector<int> record_failure(std::span<const int> attempt_ranks, FailureProgress progress);
  // Counts a restart about to happen.
  void record_restart() { ++restarts_; }

  bool may_restart() const { return restarts_ < options_.max_restarts; }
  int restarts() const { return restarts_; }
  // The wait before the next restart.
  double backoff_s() const;
  // Slots not left out, ascending; an attempt of world size w runs on the first w of them.
  const std::vector<int>& healthy_slots() const { return healthy_; }
  std::vector<int> excluded_slots() const;
  int failures_of(int slot) const { return failures_[size_t(slot)]; }
  // The slots an attempt of `world_size` ranks runs on: [rank] -> slot.
  std::vector<int> slots_for(int world_size) const;

 private:
  RestartPolicyOptions options_;
  std::vector<int> failures_;  // [slot]
  std::vector<int> healthy_;
  int restarts_ = 0;
  int failures_without_progress_ = 0;
};

}  // namespace symphony
