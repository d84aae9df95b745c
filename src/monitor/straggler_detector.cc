#include "monitor/straggler_detector.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace symphony {
namespace {

// The factor that turns a median absolute deviation into a standard deviation for normal noise.
constexpr double kMadToSigma = 1.4826;
// The MAD of fewer peers says little about the noise (of two, it is half their gap, which a
// device a few percent faster than the other makes wide): below this the floor alone decides.
constexpr size_t kMinPeersForMad = 4;

double median(std::vector<double> values) {
  const size_t n = values.size();
  const auto mid = values.begin() + std::ptrdiff_t(n / 2);
  std::nth_element(values.begin(), mid, values.end());
  if (n % 2 == 1) return *mid;
  return (*mid + *std::max_element(values.begin(), mid)) / 2;
}

double phase_time(const RankTimes& t, StragglerPhase phase) {
  return phase == StragglerPhase::kCompute ? t.compute_s : t.data_wait_s;
}

// The rule applied to each phase of one rank; empty when the rank has no peers.
std::vector<StragglerVerdict> judge_phases(std::span<const RankTimes> per_step,
                                           std::span<const int> peer_class, int rank,
                                           const StragglerRule& rule) {
  SYM_CHECK(per_step.size() == peer_class.size(), "{} ranks' times, {} peer classes",
            per_step.size(), peer_class.size());
  std::vector<size_t> peers;
  for (size_t q = 0; q < per_step.size(); ++q)
    if (int(q) != rank && peer_class[q] == peer_class[size_t(rank)]) peers.push_back(q);
  if (peers.empty()) return {};
  std::vector<double> values(peers.size());
  for (size_t i = 0; i < peers.size(); ++i) values[i] = per_step[peers[i]].busy_s();
  const double floor_s = rule.min_excess * median(values);
  std::vector<StragglerVerdict> out(kNumStragglerPhases);
  for (int p = 0; p < kNumStragglerPhases; ++p) {
    StragglerVerdict& v = out[size_t(p)];
    v.judged = true;
    v.phase = StragglerPhase(p);
    for (size_t i = 0; i < peers.size(); ++i) values[i] = phase_time(per_step[peers[i]], v.phase);
    v.peer_median_s = median(values);
    for (double& x : values) x = std::abs(x - v.peer_median_s);
    const double mad = peers.size() >= kMinPeersForMad ? median(values) : 0.0;
    v.margin_s = std::max(rule.mad_multiple * kMadToSigma * mad, floor_s);
    v.value_s = phase_time(per_step[size_t(rank)], v.phase);
    // A zero margin (peers that did nothing) judges nothing slow.
    v.slow = v.margin_s > 0 && v.value_s - v.peer_median_s > v.margin_s;
  }
  return out;
}

// How far over its margin a phase is, in margins.
double overshoot(const StragglerVerdict& v) {
  return v.margin_s > 0 ? (v.value_s - v.peer_median_s) / v.margin_s : 0.0;
}

// The verdict reported for a rank: a slow phase before any other, then the furthest over.
StragglerVerdict pick(const std::vector<StragglerVerdict>& phases) {
  if (phases.empty()) return {};
  const StragglerVerdict* best = &phases[0];
  for (const StragglerVerdict& v : phases)
    if (std::pair(v.slow, overshoot(v)) > std::pair(best->slow, overshoot(*best))) best = &v;
  return *best;
}

}  // namespace

std::string_view straggler_phase_name(StragglerPhase phase) {
  return phase == StragglerPhase::kCompute ? "compute" : "data_wait";
}

StragglerVerdict judge_rank(std::span<const RankTimes> per_step, std::span<const int> peer_class,
                            int rank, const StragglerRule& rule) {
  return pick(judge_phases(per_step, peer_class, rank, rule));
}

StragglerDetector::StragglerDetector(StragglerRule rule, std::vector<int> peer_class)
    : rule_(rule),
      peer_class_(std::move(peer_class)),
      streak_(peer_class_.size()),
      named_(peer_class_.size(), false),
      healthy_(peer_class_.size(), 0),
      verdicts_(peer_class_.size()) {
  SYM_CHECK(rule_.windows >= 1, "straggler rule: {} windows", rule_.windows);
}

std::vector<StragglerAlarm> StragglerDetector::observe(std::span<const RankTimes> per_step) {
  SYM_CHECK(per_step.size() == peer_class_.size(), "{} ranks' times for a detector of {} ranks",
            per_step.size(), peer_class_.size());
  std::vector<StragglerAlarm> alarms;
  for (size_t r = 0; r < per_step.size(); ++r) {
    const std::vector<StragglerVerdict> phases = judge_phases(per_step, peer_class_, int(r), rule_);
    verdicts_[r] = pick(phases);
    bool any_slow = false;
    for (int p = 0; p < kNumStragglerPhases; ++p) {
      const bool slow = !phases.empty() && phases[size_t(p)].slow;
      streak_[r][size_t(p)] = slow ? streak_[r][size_t(p)] + 1 : 0;
      any_slow |= slow;
    }
    healthy_[r] = any_slow ? 0 : healthy_[r] + 1;
    // Named until healthy for as many windows as it took to name it: a straggler whose excess
    // hovers at the margin is not named again at every crossing.
    if (named_[r] && healthy_[r] >= rule_.windows) named_[r] = false;
    if (named_[r]) continue;
    // The phase slow longest, once that reaches the rule's windows.
    int phase = -1;
    for (int p = 0; p < kNumStragglerPhases; ++p)
      if (streak_[r][size_t(p)] >= rule_.windows &&
          (phase < 0 || streak_[r][size_t(p)] > streak_[r][size_t(phase)]))
        phase = p;
    if (phase < 0) continue;
    named_[r] = true;
    ++alarms_;
    const StragglerVerdict& v = phases[size_t(phase)];
    alarms.push_back(
        {int(r), v.phase, v.value_s, v.peer_median_s, v.margin_s, streak_[r][size_t(phase)]});
  }
  return alarms;
}

}  // namespace symphony
