#pragma once
// Per-rank timing of the training loop and straggler detection (docs/monitoring.md).
// Each step this rank's wall time, data wait, checkpoint stall and communication waits by kind
// (train/comm_waits.h) are summed; the first step of a process (page faults, thread start-up)
// is left out. Every monitor.rank_stats_every steps the sums of every rank are gathered over the
// world, one all_gather of kGatherDoubles doubles per rank, and rank 0 judges the window with the
// straggler detector (monitor/straggler_detector.h; peers: the ranks of the same pipeline
// stage). The trainer writes the window to metrics.jsonl as one row per rank
// (rank_rows()) and a record per straggler named (straggler_record()).
// Thread-safety: none; the training thread only.

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/timer.h"
#include "monitor/monitor_config.h"
#include "monitor/rank_times.h"
#include "monitor/straggler_detector.h"
#include "parallel/mesh.h"
#include "tensor/memory_stats.h"
#include "train/comm_waits.h"

namespace symphony {

struct RankIdentity {
  std::string host;
  int64_t pid = 0;
  int stage = 0;  // pipeline stage: the straggler detector's peer class
};

// One window of every rank, as gathered.
struct RankWindow {
  int64_t step = 0;                    // steps done at its end
  int64_t steps = 0;                   // steps it spans
  std::vector<RankTimes> per_step;     // [rank] per-step means over the window
  std::vector<MemorySnapshot> memory;  // [rank] tensor memory at its end
  std::vector<StragglerAlarm> alarms;  // raised by this window (rank 0 only)
  std::vector<bool> named;             // [rank] named stragglers now (rank 0 only)
};

class RankStats {
 public:
  static constexpr int kHostBytes = 64;  // a host name is gathered truncated to this
  static constexpr int kGatherDoubles = RankTimes::kPackedSize + 2 * kNumMemoryCategories;

  // Collective over mesh.world(): gathers every rank's host, pid and stage. Installs the wait
  // tallies on the mesh's groups (CommWaits: call it before groups are split from them).
  // Failure: a communication error.
  static Result<std::unique_ptr<RankStats>> create(const MonitorConfig& config, DeviceMesh& mesh);

  // Marks the start of a step.
  void begin_step();
  // Time this step waited for the data loader.
  void add_data_wait(double seconds) { data_wait_s_ += seconds; }
  // The test knob monitor.debug_slow_rank / debug_slow_factor / debug_slow_from_step: on that
  // world rank, from that step on, busy-waits debug_slow_factor times the step's compute so far.
  // Nothing on other ranks or earlier steps. step: 1-based.
  void debug_slowdown(int64_t step);
  // Marks the end of a step (its checkpoint save included).
  void end_step(double checkpoint_stall_s);
  // True when `steps_done` ends a window with steps in it: call gather_window() on every rank.
  bool window_due(int64_t steps_done) const;
  // Collective over the world: every rank's window; rank 0 judges it. Starts the next window.
  Result<RankWindow> gather_window(int64_t steps_done);

  const std::vector<RankIdentity>& ranks() const { return ranks_; }  // [world rank]
  int64_t alarms() const { return detector_ ? detector_->alarms() : 0; }

  // metrics.jsonl rows of a window, one per rank.
  std::vector<nlohmann::json> rank_rows(const RankWindow& window) const;
  // The metrics.jsonl record and the log line of a straggler named.
  nlohmann::json straggler_record(int64_t step, const StragglerAlarm& alarm) const;
  std::string straggler_message(const RankWindow& window, const StragglerAlarm& alarm) const;

 private:
  RankStats(const MonitorConfig& config, DeviceMesh& mesh);

  MonitorConfig config_;
  Comm& world_;
  CommWaits waits_;
  std::vector<RankIdentity> ranks_;
  std::optional<StragglerDetector> detector_;  // rank 0
  Timer step_timer_;
  std::array<double, kNumWaitKinds> waits_at_begin_{};
  double data_wait_s_ = 0;
  bool first_step_ = true;
  RankTimes window_;
  std::vector<double> gather_send_, gather_recv_;
};

}  // namespace symphony
