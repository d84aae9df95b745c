// The straggler rule on synthetic step timings: healthy noisy ranks raise no alarm in 1000
// steps, a rank slowed by 30% is named within 50 steps, for 2, 4 and 16 ranks.
#include "monitor/straggler_detector.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <vector>

namespace symphony {
namespace {

constexpr int64_t kWindowSteps = 10;  // monitor.rank_stats_every's default

// Per-step compute of a healthy rank: 20 ms times a fixed factor of its device (devices differ:
// 2% standard deviation), with 5% Gaussian jitter per step, and one step in a hundred stalled to
// 1.5x (a page-fault storm, a daemon waking); data waits of a prefetching loader, up to 0.2 ms.
struct NoisyRanks {
  std::mt19937_64 rng;
  std::vector<double> device_speed;  // [rank] a fixed per-rank factor: devices differ a little

  NoisyRanks(int ranks, uint64_t seed) : rng(seed) {
    std::normal_distribution<double> spread(1.0, 0.02);
    for (int r = 0; r < ranks; ++r) device_speed.push_back(spread(rng));
  }
  RankTimes step(int rank, double slowdown) {
    std::normal_distribution<double> jitter(1.0, 0.05);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double compute = 0.020 * device_speed[size_t(rank)] * std::max(0.5, jitter(rng));
    if (u(rng) < 0.01) compute *= 1.5;
    compute *= 1.0 + slowdown;
    const double data = 0.0002 * u(rng);
    return step_times(compute + data, data, 0, {});
  }
};

// Runs `steps` steps of `ranks` ranks, rank `slow` slowed by `slowdown` from step `slow_from`
// on (1-based), judging every kWindowSteps steps. Returns the step of each alarm and its rank.
struct Alarm {
  int64_t step;
  int rank;
  StragglerPhase phase;
};
std::vector<Alarm> simulate(int ranks, int64_t steps, uint64_t seed, int slow = -1,
                            double slowdown = 0, int64_t slow_from = 1) {
  NoisyRanks noise(ranks, seed);
  StragglerDetector detector(StragglerRule{}, std::vector<int>(size_t(ranks), 0));
  std::vector<RankTimes> window(static_cast<size_t>(ranks));
  std::vector<Alarm> alarms;
  for (int64_t s = 1; s <= steps; ++s) {
    for (int r = 0; r < ranks; ++r)
      window[size_t(r)].add(noise.step(r, r == slow && s >= slow_from ? slowdown : 0.0));
    if (s % kWindowSteps != 0) continue;
    std::vector<RankTimes> per_step;
    for (RankTimes& t : window) per_step.push_back(t.per_step()), t = RankTimes{};
    for (const StragglerAlarm& a : detector.observe(per_step))
      alarms.push_back({s, a.rank, a.phase});
  }
  EXPECT_EQ(detector.alarms(), int64_t(alarms.size()));
  return alarms;
}

TEST(StragglerDetector, HealthyRunsRaiseNoAlarmIn1000Steps) {
  for (int ranks : {2, 3, 4, 16}) {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(testing::Message() << ranks << " ranks, seed " << seed);
      const std::vector<Alarm> alarms = simulate(ranks, 1000, seed);
      EXPECT_TRUE(alarms.empty()) << "rank " << alarms.front().rank << " named at step "
                                  << alarms.front().step;
    }
  }
}

TEST(StragglerDetector, RankSlowedBy30PercentIsNamedWithin50Steps) {
  for (int ranks : {2, 3, 4, 16}) {
    for (int64_t slow_from : {1, 200, 555}) {
      for (uint64_t seed = 1; seed <= 10; ++seed) {
        SCOPED_TRACE(testing::Message()
                     << ranks << " ranks, slow from step " << slow_from << ", seed " << seed);
        const int slow = ranks - 1;
        const std::vector<Alarm> alarms =
            simulate(ranks, slow_from + 200, seed, slow, 0.3, slow_from);
        // Named once: it stays named while it stays slow.
        ASSERT_EQ(alarms.size(), 1u)
            << "rank " << alarms.back().rank << " named at step " << alarms.back().step;
        EXPECT_EQ(alarms[0].rank, slow);
        EXPECT_EQ(alarms[0].phase, StragglerPhase::kCompute);
        EXPECT_LE(alarms[0].step - slow_from, 50);
      }
    }
  }
}

TEST(StragglerDetector, TwoRanksCompareEachWithTheOther) {
  // With two ranks a median over both would sit halfway and a MAD over both would scale with the
  // gap itself; each rank is measured against the other alone, with the relative floor.
  std::vector<RankTimes> per_step = {step_times(0.010, 0, 0, {}), step_times(0.013, 0, 0, {})};
  const std::vector<int> classes = {0, 0};
  const StragglerVerdict fast = judge_rank(per_step, classes, 0, StragglerRule{});
  const StragglerVerdict slow = judge_rank(per_step, classes, 1, StragglerRule{});
  EXPECT_TRUE(fast.judged);
  EXPECT_FALSE(fast.slow);
  EXPECT_TRUE(slow.slow);
  EXPECT_DOUBLE_EQ(slow.peer_median_s, 0.010);
  EXPECT_DOUBLE_EQ(slow.margin_s, 0.15 * 0.010);
  // 10% is within the floor.
  per_step[1] = step_times(0.011, 0, 0, {});
  EXPECT_FALSE(judge_rank(per_step, classes, 1, StragglerRule{}).slow);
}

TEST(StragglerDetector, MadWidensTheMarginForNoisyPeers) {
  // Peers spread over 10..14 ms: MAD 1 ms, margin 3.5 * 1.4826 ms, above the 15% floor.
  std::vector<RankTimes> per_step;
  for (double ms : {10.0, 11.0, 12.0, 13.0, 14.0, 17.2})
    per_step.push_back(step_times(ms * 1e-3, 0, 0, {}));
  const std::vector<int> classes(per_step.size(), 0);
  const StragglerVerdict v = judge_rank(per_step, classes, 5, StragglerRule{});
  EXPECT_DOUBLE_EQ(v.peer_median_s, 0.012);
  EXPECT_NEAR(v.margin_s, 3.5 * 1.4826e-3, 1e-12);
  EXPECT_TRUE(v.slow);  // 5.2 ms over, margin 5.19 ms
  per_step[5] = step_times(0.017, 0, 0, {});
  EXPECT_FALSE(judge_rank(per_step, classes, 5, StragglerRule{}).slow);
  per_step[5] = step_times(0.020, 0, 0, {});
  EXPECT_TRUE(judge_rank(per_step, classes, 5, StragglerRule{}).slow);
}

TEST(StragglerDetector, SlowDataLoaderIsNamedAsDataWait) {
  StragglerDetector detector(StragglerRule{}, {0, 0, 0, 0});
  std::vector<Alarm> alarms;
  for (int w = 1; w <= 3; ++w) {
    std::vector<RankTimes> per_step;
    for (int r = 0; r < 4; ++r) {
      const double data = r == 2 ? 0.008 : 0.0001;
      per_step.push_back(step_times(0.020 + data, data, 0, {}));
    }
    for (const StragglerAlarm& a : detector.observe(per_step))
      alarms.push_back({w, a.rank, a.phase});
  }
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].step, 3);  // the third slow window in a row
  EXPECT_EQ(alarms[0].rank, 2);
  EXPECT_EQ(alarms[0].phase, StragglerPhase::kDataWait);
}

TEST(StragglerDetector, ComparesOnlyWithinAPeerClassAndRenamesAfterRecovery) {
  // Two pipeline stages: stage 1 (ranks 2, 3) legitimately computes 50% more than stage 0.
  StragglerDetector detector(StragglerRule{}, {0, 0, 1, 1});
  auto window = [&](double rank3_ms) {
    std::vector<RankTimes> per_step;
    for (double ms : {10.0, 10.0, 15.0, rank3_ms})
      per_step.push_back(step_times(ms * 1e-3, 0, 0, {}));
    return detector.observe(per_step);
  };
  for (int w = 0; w < 5; ++w) EXPECT_TRUE(window(15.0).empty());
  EXPECT_TRUE(window(20.0).empty());
  EXPECT_TRUE(window(20.0).empty());
  std::vector<StragglerAlarm> a = window(20.0);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].rank, 3);
  EXPECT_EQ(a[0].windows, 3);
  EXPECT_TRUE(detector.named(3));
  EXPECT_TRUE(window(20.0).empty());  // still slow: not named again
  EXPECT_TRUE(window(15.0).empty());  // one healthy window: still named
  EXPECT_TRUE(window(20.0).empty());
  EXPECT_TRUE(detector.named(3));
  for (int w = 0; w < 3; ++w) EXPECT_TRUE(window(15.0).empty());  // recovered
  EXPECT_FALSE(detector.named(3));
  window(20.0);
  window(20.0);
  EXPECT_EQ(window(20.0).size(), 1u);
  EXPECT_EQ(detector.alarms(), 2);
}

TEST(StragglerDetector, RankWithoutPeersIsNotJudged) {
  StragglerDetector detector(StragglerRule{}, {0, 1});  // pp = 2, one rank per stage
  for (int w = 0; w < 10; ++w) {
    std::vector<RankTimes> per_step = {step_times(0.010, 0, 0, {}), step_times(0.030, 0, 0, {})};
    EXPECT_TRUE(detector.observe(per_step).empty());
  }
  EXPECT_FALSE(detector.verdicts()[1].judged);
}

}  // namespace
}  // namespace symphony
