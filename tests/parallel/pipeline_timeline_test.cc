#include "parallel/pipeline_timeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <tuple>

namespace symphony {
namespace {

using ::testing::HasSubstr;
using Kind = PipelineOpKind;

PipelineTimeline simulate(PipelineSchedule s, int p, int m, int v, const StageTimes& t) {
  Result<PipelineTimeline> tl = simulate_pipeline(s, p, m, v, t);
  EXPECT_TRUE(tl.has_value()) << tl.error().message();
  return tl.has_value() ? *tl : PipelineTimeline{};
}

double simulated_bubble(PipelineSchedule s, int p, int m, int v, const StageTimes& t) {
  return simulate(s, p, m, v, t).bubble;
}

TEST(PipelineTimeline, OneFOneBAndGpipeMatchTheClosedForm) {
  for (PipelineSchedule s : {PipelineSchedule::kGpipe, PipelineSchedule::k1F1B})
    for (int p = 1; p <= 8; ++p)
      for (int m = 1; m <= 16; ++m)
        for (double w : {0.0, 0.5}) {
          SCOPED_TRACE(fmt::format("{} p={} m={} w={}", pipeline_schedule_name(s), p, m, w));
          const StageTimes t{.forward_s = 1, .backward_input_s = 1, .backward_weight_s = w};
          const PipelineTimeline tl = simulate(s, p, m, 1, t);
          EXPECT_NEAR(tl.bubble, analytic_bubble(s, p, m, 1, t), 1e-9);
          EXPECT_NEAR(tl.step_s, analytic_pipeline_s(s, p, m, 1, t), 1e-9);
        }
}

TEST(PipelineTimeline, ZeroBubbleMatchesTheClosedForm) {
  // F = B = W, no send time: the bubble is (p - 1) F, a third of 1F1B's (p - 1)(F + B + W).
  const StageTimes t{.forward_s = 1, .backward_input_s = 1, .backward_weight_s = 1};
  for (int p = 1; p <= 8; ++p)
    for (int m = p; m <= 16; ++m) {
      SCOPED_TRACE(fmt::format("p={} m={}", p, m));
      const PipelineTimeline tl = simulate(PipelineSchedule::kZeroBubble, p, m, 1, t);
      EXPECT_NEAR(tl.bubble, analytic_bubble(PipelineSchedule::kZeroBubble, p, m, 1, t), 1e-9);
      EXPECT_NEAR(tl.step_s, 3.0 * m + (p - 1), 1e-9);
    }
}

TEST(PipelineTimeline, ZeroBubbleHalvesOneFOneBsBubble) {
  const StageTimes t{.forward_s = 1, .backward_input_s = 1, .backward_weight_s = 1};
  for (int p : {2, 4}) {
    const double one = simulated_bubble(PipelineSchedule::k1F1B, p, 8, 1, t);
    const double zb = simulated_bubble(PipelineSchedule::kZeroBubble, p, 8, 1, t);
    EXPECT_GT(one, 0) << "p=" << p;
    EXPECT_LE(zb, 0.5 * one) << "p=" << p;
  }
  // Slower weight passes than input passes, and sends: still well under 1F1B.
  const StageTimes uneven{
      .forward_s = 1, .backward_input_s = 1.2, .backward_weight_s = 0.8, .p2p_s = 0.05};
  for (int p : {2, 4})
    EXPECT_LT(simulated_bubble(PipelineSchedule::kZeroBubble, p, 8, 1, uneven),
              0.6 * simulated_bubble(PipelineSchedule::k1F1B, p, 8, 1, uneven))
        << "p=" << p;
}

// The head split (parallel.pp_head_share): the LM head's work, all on the last stage, makes it
// the heavier one; moving half of it to the first stage evens the stages out and the step
// shortens, though the last stage's backward now waits for the first stage's H pass.
TEST(PipelineTimeline, HeadSplitEvensOutAHeavyLastStage) {
  // Layers: F = B = W = 1 per stage. The head: 1 forward, 1 input gradient, 1 weight gradient
  // per micro-batch, inside the last stage's backward and weight passes without the split.
  const StageTimes layers{.forward_s = 1, .backward_input_s = 1, .backward_weight_s = 1};
  StageTimes heavy = layers;
  heavy.backward_input_s += 2;
  heavy.backward_weight_s += 1;
  const std::vector<StageTimes> whole = {layers, heavy};
  // Half the rows each: stage 0 runs its half at once (1.5), the last stage defers its half's
  // weight gradient to W.
  StageTimes first = layers, last = layers;
  first.head_s = 1.5;
  last.head_s = 1;
  last.backward_weight_s += 0.5;
  const std::vector<StageTimes> split = {first, last};
  for (double p2p : {0.0, 0.1}) {
    SCOPED_TRACE(fmt::format("p2p {}", p2p));
    const Result<PipelineTimeline> a =
        simulate_pipeline(PipelineSchedule::kZeroBubble, 2, 8, 1, whole, p2p);
    const Result<PipelineTimeline> b =
        simulate_pipeline(PipelineSchedule::kZeroBubble, 2, 8, 1, split, p2p, true);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_TRUE(b->split_head);
    EXPECT_LT(b->step_s, a->step_s);
    EXPECT_LT(b->bubble, 0.65 * a->bubble);
    // The last stage's backward of each micro-batch starts after both H passes of it (p2p_s
    // after the first stage's), each H after the last stage's forward.
    auto end_of = [&](int rank, PipelineOpKind kind, int i) {
      for (const PipelineEvent& e : b->ranks[size_t(rank)])
        if (e.op.kind == kind && e.op.micro_batch == i) return e.end_s;
      ADD_FAILURE() << "no pass";
      return 0.0;
    };
    for (const PipelineEvent& e : b->ranks[1]) {
      if (e.op.kind != PipelineOpKind::kBackwardInput) continue;
      EXPECT_GE(e.start_s, end_of(1, PipelineOpKind::kHead, e.op.micro_batch) - 1e-12);
      EXPECT_GE(e.start_s, end_of(0, PipelineOpKind::kHead, e.op.micro_batch) + p2p - 1e-12);
    }
    for (int rank : {0, 1})
      for (const PipelineEvent& e : b->ranks[size_t(rank)]) {
        if (e.op.kind != PipelineOpKind::kHead) continue;
        EXPECT_GE(e.start_s, end_of(1, PipelineOpKind::kForward, e.op.micro_batch) +
                                 (rank == 0 ? p2p : 0.0) - 1e-12);
      }
    // A replay of the split simulation (no sends) is that simulation without them.
    if (p2p == 0) {
      const Result<PipelineTimeline> replay = replay_pipeline(*b);
      ASSERT_TRUE(replay.has_value()) << replay.error().message();
      EXPECT_NEAR(replay->step_s, b->step_s, 1e-9);
    }
  }
}

TEST(PipelineTimeline, InterleavingShrinksTheBubble) {
  const StageTimes t{.forward_s = 1, .backward_input_s = 1.5, .backward_weight_s = 0.5};
  for (int p : {2, 4, 8})
    for (int m : {8, 16}) {
      SCOPED_TRACE(fmt::format("p={} m={}", p, m));
      const double one = simulated_bubble(PipelineSchedule::k1F1B, p, m, 1, t);
      double previous = one;
      for (int v : {2, 4}) {
        const double inter = simulated_bubble(PipelineSchedule::kInterleaved, p, m, v, t);
        EXPECT_LT(inter, previous) << "v=" << v;
        // Not above the closed form (m + (p - 1) / v) t, with no sends.
        EXPECT_LE(inter, analytic_bubble(PipelineSchedule::kInterleaved, p, m, v, t) + 1e-9);
        previous = inter;
      }
    }
}

TEST(PipelineTimeline, GpipeSendsDelayTheCriticalPath) {
  // Forwards travel p - 1 hops and backwards p - 1 hops back, each a send later.
  const StageTimes t{.forward_s = 1, .backward_input_s = 2, .p2p_s = 0.1};
  const PipelineTimeline tl = simulate(PipelineSchedule::kGpipe, 4, 6, 1, t);
  EXPECT_NEAR(tl.step_s, (6 + 3) * 3.0 + 2 * 3 * 0.1, 1e-12);
}

// Ranks run one op at a time, in their order; every pass starts after its inputs arrived.
TEST(PipelineTimeline, EventsRespectDependencies) {
  const StageTimes t{.forward_s = 1, .backward_input_s = 1.3, .backward_weight_s = 0.7,
                     .p2p_s = 0.2};
  const std::tuple<PipelineSchedule, int, int, int> cases[] = {
      {PipelineSchedule::kGpipe, 3, 5, 1},
      {PipelineSchedule::k1F1B, 4, 7, 1},
      {PipelineSchedule::kInterleaved, 4, 8, 3},
      {PipelineSchedule::kZeroBubble, 4, 6, 1}};
  for (auto [s, p, m, v] : cases) {
    SCOPED_TRACE(pipeline_schedule_name(s));
    const PipelineTimeline tl = simulate(s, p, m, v, t);
    ASSERT_EQ(tl.ranks.size(), size_t(p));
    std::map<std::tuple<Kind, int, int>, PipelineEvent> by_pass;  // (kind, micro, virtual stage)
    double busy = 0;
    for (int r = 0; r < p; ++r) {
      Result<std::vector<PipelineOp>> ops = pipeline_ops(s, p, r, m, v);
      ASSERT_TRUE(ops.has_value());
      ASSERT_EQ(tl.ranks[size_t(r)].size(), ops->size());
      double free_at = 0;
      for (size_t k = 0; k < ops->size(); ++k) {
        const PipelineEvent& e = tl.ranks[size_t(r)][k];
        EXPECT_EQ(e.op, (*ops)[k]);
        EXPECT_GE(e.start_s, free_at - 1e-12);
        EXPECT_GE(e.end_s, e.start_s);
        EXPECT_LE(e.end_s, tl.step_s + 1e-12);
        free_at = e.end_s;
        busy += e.end_s - e.start_s;
        Kind kind = e.op.kind == Kind::kBackwardInput ? Kind::kBackward : e.op.kind;
        by_pass[{kind, e.op.micro_batch, e.op.chunk * p + r}] = e;
      }
    }
    EXPECT_NEAR(tl.bubble, 1.0 - busy / (p * tl.step_s), 1e-12);
    for (int i = 0; i < m; ++i)
      for (int vs = 0; vs < p * v; ++vs) {
        const PipelineEvent& f = by_pass.at({Kind::kForward, i, vs});
        const PipelineEvent& b = by_pass.at({Kind::kBackward, i, vs});
        if (vs > 0) {
          EXPECT_GE(f.start_s, by_pass.at({Kind::kForward, i, vs - 1}).end_s + 0.2 - 1e-12);
        }
        if (vs + 1 < p * v) {
          EXPECT_GE(b.start_s, by_pass.at({Kind::kBackward, i, vs + 1}).end_s + 0.2 - 1e-12);
        }
        EXPECT_GE(b.start_s, f.end_s - 1e-12);
        if (s == PipelineSchedule::kZeroBubble) {
          EXPECT_GE(by_pass.at({Kind::kBackwardWeight, i, vs}).start_s, b.end_s - 1e-12);
        }
      }
  }
}

TEST(PipelineTimeline, ReplayOfASimulationIsTheSimulation) {
  const StageTimes t{.forward_s = 1, .backward_input_s = 1.25, .backward_weight_s = 0.75};
  for (PipelineSchedule s : {PipelineSchedule::kGpipe, PipelineSchedule::k1F1B,
                             PipelineSchedule::kInterleaved, PipelineSchedule::kZeroBubble})
    for (int p : {1, 2, 4}) {
      const int v = s == PipelineSchedule::kInterleaved ? 2 : 1;
      SCOPED_TRACE(fmt::format("{} p={}", pipeline_schedule_name(s), p));
      const PipelineTimeline sim = simulate(s, p, 8, v, t);
      Result<PipelineTimeline> replay = replay_pipeline(sim);
      ASSERT_TRUE(replay.has_value()) << replay.error().message();
      EXPECT_DOUBLE_EQ(replay->step_s, sim.step_s);
      EXPECT_DOUBLE_EQ(replay->bubble, sim.bubble);
      for (int r = 0; r < p; ++r)
        for (size_t k = 0; k < sim.ranks[size_t(r)].size(); ++k) {
          EXPECT_EQ(replay->ranks[size_t(r)][k].op, sim.ranks[size_t(r)][k].op);
          EXPECT_DOUBLE_EQ(replay->ranks[size_t(r)][k].start_s, sim.ranks[size_t(r)][k].start_s);
        }
    }
}

TEST(PipelineTimeline, ReplayChargesUnequalStagesButNotTheGapsBetweenPasses) {
  // 1F1B, p = 2, m = 8, F = B = 1 on stage 0 and 1.5 on stage 1, as measured with gaps between
  // the passes: the replay closes the gaps. Stage 1 is the bottleneck from the end of stage 0's
  // first forward to the start of its last backward: step 1 + 8 x 3 + 1 = 26, busy 16 + 24.
  const StageTimes t{.forward_s = 1, .backward_input_s = 1};
  PipelineTimeline measured = simulate(PipelineSchedule::k1F1B, 2, 8, 1, t);
  double shift = 0;
  for (PipelineEvent& e : measured.ranks[1]) {
    e.start_s += shift;
    e.end_s = e.start_s + 1.5 * (e.end_s - (e.start_s - shift));
    shift += 0.6;  // a gap after every pass
  }
  Result<PipelineTimeline> replay = replay_pipeline(measured);
  ASSERT_TRUE(replay.has_value()) << replay.error().message();
  EXPECT_DOUBLE_EQ(replay->step_s, 26.0);
  EXPECT_NEAR(replay->bubble, 1.0 - 40.0 / 52.0, 1e-12);
  EXPECT_GT(replay->bubble, analytic_bubble(PipelineSchedule::k1F1B, 2, 8, 1, t));
}

TEST(PipelineTimeline, PerVirtualStageTimes) {
  // Equal chunks: the same timeline as one StageTimes for every rank's v chunks together.
  const StageTimes t{.forward_s = 1, .backward_input_s = 1.25, .backward_weight_s = 0.75};
  for (PipelineSchedule s : {PipelineSchedule::kGpipe, PipelineSchedule::k1F1B,
                             PipelineSchedule::kInterleaved, PipelineSchedule::kZeroBubble}) {
    const int p = 4, v = s == PipelineSchedule::kInterleaved ? 2 : 1;
    SCOPED_TRACE(pipeline_schedule_name(s));
    const StageTimes chunk{.forward_s = t.forward_s / v,
                           .backward_input_s = t.backward_input_s / v,
                           .backward_weight_s = t.backward_weight_s / v};
    const std::vector<StageTimes> chunks(size_t(p * v), chunk);
    Result<PipelineTimeline> each = simulate_pipeline(s, p, 8, v, chunks, 0.1);
    ASSERT_TRUE(each.has_value()) << each.error().message();
    StageTimes with_p2p = t;
    with_p2p.p2p_s = 0.1;
    const PipelineTimeline all = simulate(s, p, 8, v, with_p2p);
    EXPECT_DOUBLE_EQ(each->step_s, all.step_s);
    EXPECT_DOUBLE_EQ(each->bubble, all.bubble);
  }
  // Unequal stages: 1F1B, p = 2, m = 8, F = B = 1 on stage 0 and 1.5 on stage 1, as in the
  // replay above: step 26, busy 16 + 24.
  const std::vector<StageTimes> unequal = {{.forward_s = 1, .backward_input_s = 1},
                                           {.forward_s = 1.5, .backward_input_s = 1.5}};
  Result<PipelineTimeline> tl = simulate_pipeline(PipelineSchedule::k1F1B, 2, 8, 1, unequal, 0);
  ASSERT_TRUE(tl.has_value()) << tl.error().message();
  EXPECT_DOUBLE_EQ(tl->step_s, 26.0);
  EXPECT_NEAR(tl->bubble, 1.0 - 40.0 / 52.0, 1e-12);
  Result<PipelineTimeline> short_list =
      simulate_pipeline(PipelineSchedule::k1F1B, 2, 8, 1, std::span(unequal).first(1), 0);
  ASSERT_FALSE(short_list.has_value());
  EXPECT_THAT(short_list.error().message(), HasSubstr("1 virtual stage times for pp=2 vpp=1"));
}

TEST(PipelineTimeline, ReplayRefusesATimelineThatIsNotTheSchedule) {
  PipelineTimeline measured =
      simulate(PipelineSchedule::k1F1B, 2, 4, 1, StageTimes{.forward_s = 1, .backward_input_s = 1});
  std::swap(measured.ranks[0][1], measured.ranks[0][2]);
  Result<PipelineTimeline> swapped = replay_pipeline(measured);
  ASSERT_FALSE(swapped.has_value());
  EXPECT_THAT(swapped.error().message(), HasSubstr("rank 0: pass 1"));
  measured.ranks[1].pop_back();
  measured.ranks[0] = simulate(PipelineSchedule::k1F1B, 2, 4, 1, {}).ranks[0];
  Result<PipelineTimeline> short_rank = replay_pipeline(measured);
  ASSERT_FALSE(short_rank.has_value());
  EXPECT_THAT(short_rank.error().message(), HasSubstr("rank 1 has 7 passes"));
}

TEST(PipelineTimeline, Errors) {
  Result<PipelineTimeline> bad = simulate_pipeline(PipelineSchedule::k1F1B, 4, 8, 1,
                                                   StageTimes{.forward_s = -1});
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("forward_s = -1"));
  Result<PipelineTimeline> nan = simulate_pipeline(PipelineSchedule::k1F1B, 4, 8, 1,
                                                   StageTimes{.p2p_s = std::nan("")});
  ASSERT_FALSE(nan.has_value());
  EXPECT_THAT(nan.error().message(), HasSubstr("p2p_s"));
  Result<PipelineTimeline> odd = simulate_pipeline(PipelineSchedule::kInterleaved, 4, 6, 2, {});
  ASSERT_FALSE(odd.has_value());
  EXPECT_THAT(odd.error().message(), HasSubstr("parallel.pp_schedule"));
  // No work at all: a zero step and no bubble.
  const PipelineTimeline empty = simulate(PipelineSchedule::k1F1B, 4, 8, 1, {});
  EXPECT_EQ(empty.step_s, 0.0);
  EXPECT_EQ(empty.bubble, 0.0);
}

}  // namespace
}  // namespace symphony
