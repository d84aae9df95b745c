#pragma once
// Finds a rank that holds the others back. Every window (monitor.rank_stats_every steps) each
// rank's per-step times (monitor/rank_times.h) are compared with those of its peers: the other
// ranks of the same peer class (the same pipeline stage, whose work is the same).
//
// The rule, for rank r and phase p (its compute, or its wait for data):
//   median_p = median over the peers of their time in p
//   MAD_p    = median over the peers of |time - median_p|
//   margin_p = max(mad_multiple * 1.4826 * MAD_p, min_excess * median over the peers of busy_s)
//              (the MAD term only with at least 4 peers)
//   r is slow in p when time_r(p) - median_p > margin_p.
// 1.4826 * MAD estimates a standard deviation from the median absolute deviation, which a
// straggler among the peers does not inflate; the relative floor keeps the margin above the
// jitter of a healthy rank when the peers agree too well, and alone decides when they are too few
// for their MAD to estimate the noise (of two peers it is half their gap). Each
// rank is compared with the others only, so with two ranks a slow rank is measured against the
// healthy one, never against a median it has dragged up.
// A rank slow in the same phase for `windows` windows in a row is named once (an alarm); it
// stays named until it has been slow in no phase for `windows` windows in a row, and can then be
// named again.
// A rank without peers (alone in its class) is not judged.
// Thread-safety: none.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "monitor/rank_times.h"

namespace symphony {

enum class StragglerPhase : uint8_t { kCompute, kDataWait };
constexpr int kNumStragglerPhases = 2;
std::string_view straggler_phase_name(StragglerPhase phase);  // "compute", "data_wait"

struct StragglerRule {
  double mad_multiple = 3.5;
  double min_excess = 0.15;
  int64_t windows = 3;
};

// One rank in one window.
struct StragglerVerdict {
  bool judged = false;  // it has peers
  bool slow = false;
  StragglerPhase phase = StragglerPhase::kCompute;  // the phase most over its margin
  double value_s = 0;                               // its per-step time in that phase
  double peer_median_s = 0;                         // the peers' median in that phase
  double margin_s = 0;                              // the excess allowed
};

struct StragglerAlarm {
  int rank = 0;
  StragglerPhase phase = StragglerPhase::kCompute;
  double value_s = 0, peer_median_s = 0, margin_s = 0;  // of the window that raised it
  int64_t windows = 0;                                  // slow windows in a row
};

// The rule for one rank of one window. per_step: [rank] per-step times; peer_class: [rank].
StragglerVerdict judge_rank(std::span<const RankTimes> per_step, std::span<const int> peer_class,
                            int rank, const StragglerRule& rule);

class StragglerDetector {
 public:
  // peer_class: [rank] the class each rank is compared within.
  StragglerDetector(StragglerRule rule, std::vector<int> peer_class);

  // Judges one window. per_step: [rank] per-step times (RankTimes::per_step()). Returns the
  // alarms it raises, by rank. REQUIRES: one entry per rank of the constructor's peer_class.
  std::vector<StragglerAlarm> observe(std::span<const RankTimes> per_step);

  // Named and not yet healthy for rule.windows windows in a row.
  bool named(int rank) const { return named_[size_t(rank)]; }
  int64_t alarms() const { return alarms_; }  // raised since construction
  // The last window's verdicts, [rank].
  const std::vector<StragglerVerdict>& verdicts() const { return verdicts_; }

 private:
  StragglerRule rule_;
  std::vector<int> peer_class_;
  std::vector<std::array<int64_t, kNumStragglerPhases>> streak_;  // [rank][phase] slow windows
  std::vector<bool> named_;                                       // [rank]
  std::vector<int64_t> healthy_;            // [rank] windows in a row slow in no phase
  std::vector<StragglerVerdict> verdicts_;  // [rank]
  int64_t alarms_ = 0;
};

}  // namespace symphony
