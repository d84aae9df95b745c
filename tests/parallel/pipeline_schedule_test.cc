#include "parallel/pipeline_schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace symphony {
namespace {

using ::testing::HasSubstr;
using Kind = PipelineOpKind;

struct Config {
  PipelineSchedule schedule;
  int stages, micro_batches, virtual_stages;
};

// Every valid (schedule, p, m, v) with p <= 8, m <= 16, v <= 3.
std::vector<Config> all_configs() {
  std::vector<Config> out;
  for (PipelineSchedule s : {PipelineSchedule::kGpipe, PipelineSchedule::k1F1B,
                             PipelineSchedule::kInterleaved, PipelineSchedule::kZeroBubble})
    for (int p = 1; p <= 8; ++p)
      for (int m = 1; m <= 16; ++m)
        for (int v = 1; v <= 3; ++v)
          if (check_pipeline_schedule(s, p, m, v).is_ok()) out.push_back({s, p, m, v});
  return out;
}

std::string describe(const Config& c) {
  return fmt::format("{} p={} m={} v={}", pipeline_schedule_name(c.schedule), c.stages,
                     c.micro_batches, c.virtual_stages);
}

std::vector<PipelineOp> ops_of(const Config& c, int stage) {
  Result<std::vector<PipelineOp>> ops =
      pipeline_ops(c.schedule, c.stages, stage, c.micro_batches, c.virtual_stages);
  EXPECT_TRUE(ops.has_value()) << ops.error().message();
  return ops.has_value() ? *ops : std::vector<PipelineOp>{};
}

bool is_backward(Kind k) { return k == Kind::kBackward || k == Kind::kBackwardInput; }

// Peak over the op order of forwards run minus passes of `ends` kind run: activations held.
int peak_in_flight(const std::vector<PipelineOp>& ops, bool (*ends)(Kind)) {
  int held = 0, peak = 0;
  for (const PipelineOp& op : ops) {
    if (op.kind == Kind::kForward) ++held;
    if (ends(op.kind)) --held;
    peak = std::max(peak, held);
  }
  return peak;
}
bool is_weight(Kind k) { return k == Kind::kBackwardWeight || k == Kind::kBackward; }

TEST(PipelineSchedule, EveryPassRunsOnceAndInOrder) {
  const std::vector<Config> configs = all_configs();
  ASSERT_EQ(configs.size(), 468u);  // 3 * 8 * 16, plus interleaved with p dividing m, v = 2, 3
  for (const Config& c : configs) {
    const bool split = c.schedule == PipelineSchedule::kZeroBubble;
    for (int stage = 0; stage < c.stages; ++stage) {
      SCOPED_TRACE(fmt::format("{} stage {}", describe(c), stage));
      const std::vector<PipelineOp> ops = ops_of(c, stage);
      ASSERT_EQ(ops.size(), size_t(c.micro_batches * c.virtual_stages * (split ? 3 : 2)));
      std::map<std::tuple<Kind, int, int>, size_t> position;  // (kind, micro-batch, chunk)
      for (size_t k = 0; k < ops.size(); ++k) {
        const PipelineOp& op = ops[k];
        ASSERT_TRUE(op.micro_batch >= 0 && op.micro_batch < c.micro_batches);
        ASSERT_TRUE(op.chunk >= 0 && op.chunk < c.virtual_stages);
        if (split) {
          ASSERT_NE(op.kind, Kind::kBackward);
        } else {
          ASSERT_NE(op.kind, Kind::kBackwardInput);
          ASSERT_NE(op.kind, Kind::kBackwardWeight);
        }
        ASSERT_TRUE(position.emplace(std::tuple{op.kind, op.micro_batch, op.chunk}, k).second)
            << "repeated " << pipeline_op_letter(op.kind) << op.micro_batch << "." << op.chunk;
      }
      for (int i = 0; i < c.micro_batches; ++i)
        for (int chunk = 0; chunk < c.virtual_stages; ++chunk) {
          const size_t f = position.at({Kind::kForward, i, chunk});
          const size_t b = position.at({split ? Kind::kBackwardInput : Kind::kBackward, i, chunk});
          EXPECT_LT(f, b);
          if (split) {
            EXPECT_LT(b, position.at({Kind::kBackwardWeight, i, chunk}));
          }
        }
    }
  }
}

TEST(PipelineSchedule, ActivationsInFlight) {
  for (int p = 1; p <= 8; ++p)
    for (int m = 1; m <= 16; ++m) {
      int one_f_one_b_peak = 0, zero_bubble_peak = 0;
      for (int stage = 0; stage < p; ++stage) {
        SCOPED_TRACE(fmt::format("p={} m={} stage {}", p, m, stage));
        const auto gpipe = ops_of({PipelineSchedule::kGpipe, p, m, 1}, stage);
        const auto one = ops_of({PipelineSchedule::k1F1B, p, m, 1}, stage);
        const auto zb = ops_of({PipelineSchedule::kZeroBubble, p, m, 1}, stage);
        EXPECT_EQ(peak_in_flight(gpipe, is_backward), m);
        EXPECT_EQ(peak_in_flight(one, is_backward), std::min(p - stage, m));
        // ZB-H1 frees the activations B needs at the same points as 1F1B ...
        EXPECT_EQ(peak_in_flight(zb, is_backward), peak_in_flight(one, is_backward));
        one_f_one_b_peak = std::max(one_f_one_b_peak, peak_in_flight(one, is_weight));
        zero_bubble_peak = std::max(zero_bubble_peak, peak_in_flight(zb, is_weight));
      }
      // ... and, holding W's inputs longer on later stages, never more than 1F1B's stage 0.
      EXPECT_EQ(one_f_one_b_peak, std::min(p, m));
      EXPECT_LE(zero_bubble_peak, one_f_one_b_peak) << "p=" << p << " m=" << m;
    }
}

TEST(PipelineSchedule, ZeroBubbleIsOneFOneBWithWeightPassesMoved) {
  for (int p = 1; p <= 8; ++p)
    for (int m = 1; m <= 16; ++m)
      for (int stage = 0; stage < p; ++stage) {
        std::vector<PipelineOp> zb = ops_of({PipelineSchedule::kZeroBubble, p, m, 1}, stage);
        std::vector<PipelineOp> w;
        std::erase_if(zb, [&w](const PipelineOp& op) {
          if (op.kind == Kind::kBackwardWeight) w.push_back(op);
          return op.kind == Kind::kBackwardWeight;
        });
        for (PipelineOp& op : zb)
          if (op.kind == Kind::kBackwardInput) op.kind = Kind::kBackward;
        EXPECT_EQ(zb, ops_of({PipelineSchedule::k1F1B, p, m, 1}, stage));
        for (int i = 0; i < m; ++i) EXPECT_EQ(w[size_t(i)].micro_batch, i);  // in order
      }
}

TEST(PipelineSchedule, OneFOneBOrder) {
  // p = 4, m = 6, stage 1: two warm-up forwards, four F-B pairs, two cool-down backwards.
  const std::vector<PipelineOp> want = {
      {Kind::kForward, 0, 0},  {Kind::kForward, 1, 0},  {Kind::kForward, 2, 0},
      {Kind::kBackward, 0, 0}, {Kind::kForward, 3, 0},  {Kind::kBackward, 1, 0},
      {Kind::kForward, 4, 0},  {Kind::kBackward, 2, 0}, {Kind::kForward, 5, 0},
      {Kind::kBackward, 3, 0}, {Kind::kBackward, 4, 0}, {Kind::kBackward, 5, 0}};
  EXPECT_EQ(ops_of({PipelineSchedule::k1F1B, 4, 6, 1}, 1), want);
}

TEST(PipelineSchedule, ZeroBubbleOrder) {
  // p = 3, m = 4, last stage: no warm-up, two Ws lagging, which run at the very end.
  const std::vector<PipelineOp> want = {
      {Kind::kForward, 0, 0},        {Kind::kBackwardInput, 0, 0},  {Kind::kForward, 1, 0},
      {Kind::kBackwardInput, 1, 0},  {Kind::kForward, 2, 0},        {Kind::kBackwardInput, 2, 0},
      {Kind::kBackwardWeight, 0, 0}, {Kind::kForward, 3, 0},        {Kind::kBackwardInput, 3, 0},
      {Kind::kBackwardWeight, 1, 0}, {Kind::kBackwardWeight, 2, 0}, {Kind::kBackwardWeight, 3, 0}};
  EXPECT_EQ(ops_of({PipelineSchedule::kZeroBubble, 3, 4, 1}, 2), want);
}

TEST(PipelineSchedule, HeadSplitOrder) {
  // p = 2, m = 4. The last stage scores its rows right after each forward; stage 0 scores the
  // first micro-batch's rows before its first backward and each next one's right after a
  // backward.
  auto F = [](int i) { return PipelineOp{Kind::kForward, i, 0}; };
  auto B = [](int i) { return PipelineOp{Kind::kBackwardInput, i, 0}; };
  auto W = [](int i) { return PipelineOp{Kind::kBackwardWeight, i, 0}; };
  auto H = [](int i) { return PipelineOp{Kind::kHead, i, 0}; };
  const std::vector<PipelineOp> stage0 = {F(0), F(1), H(0), B(0), H(1), W(0), F(2), B(1),
                                          H(2), W(1), F(3), B(2), H(3), W(2), B(3), W(3)};
  const std::vector<PipelineOp> stage1 = {F(0), H(0), B(0), F(1), H(1), B(1), W(0), F(2),
                                          H(2), B(2), W(1), F(3), H(3), B(3), W(2), W(3)};
  for (int stage : {0, 1}) {
    const Result<std::vector<PipelineOp>> ops =
        pipeline_ops(PipelineSchedule::kZeroBubble, 2, stage, 4, 1, true);
    ASSERT_TRUE(ops.has_value()) << ops.error().message();
    EXPECT_EQ(*ops, stage == 0 ? stage0 : stage1);
  }
  EXPECT_EQ(pipeline_op_letter(Kind::kHead), "H");
}

TEST(PipelineSchedule, HeadSplitRunsEachHeadOnceBetweenItsForwardAndBackward) {
  for (int m = 1; m <= 16; ++m)
    for (int stage : {0, 1}) {
      SCOPED_TRACE(fmt::format("m={} stage {}", m, stage));
      const Result<std::vector<PipelineOp>> split =
          pipeline_ops(PipelineSchedule::kZeroBubble, 2, stage, m, 1, true);
      ASSERT_TRUE(split.has_value()) << split.error().message();
      // Without its H passes the order is ZB-H1's, and holds as many activations.
      std::vector<PipelineOp> rest;
      std::map<int, size_t> head_at, backward_at, forward_at;
      for (size_t k = 0; k < split->size(); ++k) {
        const PipelineOp& op = (*split)[k];
        if (op.kind == Kind::kHead) {
          EXPECT_TRUE(head_at.emplace(op.micro_batch, k).second) << "H" << op.micro_batch;
          continue;
        }
        rest.push_back(op);
        if (op.kind == Kind::kForward) forward_at[op.micro_batch] = k;
        if (op.kind == Kind::kBackwardInput) backward_at[op.micro_batch] = k;
      }
      EXPECT_EQ(rest, ops_of({PipelineSchedule::kZeroBubble, 2, m, 1}, stage));
      EXPECT_EQ(pipeline_in_flight(*split), pipeline_in_flight(rest));
      ASSERT_EQ(head_at.size(), size_t(m));
      for (int i = 0; i < m; ++i) {
        EXPECT_LT(head_at[i], backward_at[i]) << "H" << i;
        if (stage == 1) {
          EXPECT_EQ(head_at[i], forward_at[i] + 1) << "H" << i;
        }
        // Stage 0 scores a micro-batch after its own forward, so the last stage's forward of it
        // can have ended.
        if (stage == 0) {
          EXPECT_GT(head_at[i], forward_at[i]) << "H" << i;
        }
      }
    }
}

TEST(PipelineSchedule, InterleavedFollowsMegatron) {
  // p = 2, v = 2, m = 4. Passes go in groups of p micro-batches per chunk; backward passes visit
  // the chunks in reverse. Stage 0 warms up with 2 (p - 1) + (v - 1) p = 4 forwards, stage 1
  // with 2.
  auto F = [](int i, int c) { return PipelineOp{Kind::kForward, i, c}; };
  auto B = [](int i, int c) { return PipelineOp{Kind::kBackward, i, c}; };
  const std::vector<PipelineOp> stage0 = {F(0, 0), F(1, 0), F(0, 1), F(1, 1), F(2, 0), B(0, 1),
                                          F(3, 0), B(1, 1), F(2, 1), B(0, 0), F(3, 1), B(1, 0),
                                          B(2, 1), B(3, 1), B(2, 0), B(3, 0)};
  const std::vector<PipelineOp> stage1 = {F(0, 0), F(1, 0), F(0, 1), B(0, 1), F(1, 1), B(1, 1),
                                          F(2, 0), B(0, 0), F(3, 0), B(1, 0), F(2, 1), B(2, 1),
                                          F(3, 1), B(3, 1), B(2, 0), B(3, 0)};
  EXPECT_EQ(ops_of({PipelineSchedule::kInterleaved, 2, 4, 2}, 0), stage0);
  EXPECT_EQ(ops_of({PipelineSchedule::kInterleaved, 2, 4, 2}, 1), stage1);
  // m = p: every forward first.
  const std::vector<PipelineOp> all_warmup = {F(0, 0), F(1, 0), F(0, 1), F(1, 1),
                                              B(0, 1), B(1, 1), B(0, 0), B(1, 0)};
  EXPECT_EQ(ops_of({PipelineSchedule::kInterleaved, 2, 2, 2}, 1), all_warmup);
}

TEST(PipelineSchedule, ErrorsNameTheKeys) {
  auto message = [](PipelineSchedule s, int p, int m, int v) {
    Result<std::vector<PipelineOp>> r = pipeline_ops(s, p, 0, m, v);
    EXPECT_FALSE(r.has_value());
    if (r.has_value()) return std::string();
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    return r.error().message();
  };
  const std::string interleaved = message(PipelineSchedule::kInterleaved, 4, 6, 2);
  EXPECT_THAT(interleaved, HasSubstr("parallel.pp = 4 with 6 micro-batches"));
  EXPECT_THAT(interleaved, HasSubstr("parallel.pp_schedule = \"interleaved\""));
  EXPECT_THAT(interleaved, HasSubstr("train.global_batch_tokens"));
  EXPECT_THAT(message(PipelineSchedule::k1F1B, 4, 8, 2),
              HasSubstr("parallel.vpp = 2 needs parallel.pp_schedule = \"interleaved\""));
  EXPECT_THAT(message(PipelineSchedule::kInterleaved, 4, 8, 1),
              HasSubstr("parallel.vpp of at least 2"));
  EXPECT_THAT(message(PipelineSchedule::kDualPipe, 4, 8, 1),
              HasSubstr("parallel.pp_schedule = \"dualpipe\""));
  EXPECT_THAT(message(PipelineSchedule::k1F1B, 0, 8, 1), HasSubstr("parallel.pp = 0"));
  EXPECT_THAT(message(PipelineSchedule::k1F1B, 4, 0, 1), HasSubstr("train.global_batch_tokens"));
  EXPECT_THAT(message(PipelineSchedule::k1F1B, 4, 8, 0), HasSubstr("parallel.vpp = 0"));
  // The head split runs under ZB-H1 with two stages only.
  for (auto [schedule, p] : {std::pair{PipelineSchedule::k1F1B, 2},
                             std::pair{PipelineSchedule::kGpipe, 2},
                             std::pair{PipelineSchedule::kZeroBubble, 4}}) {
    const Status s = check_pipeline_schedule(schedule, p, 8, 1, true);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("parallel.pp_head_share needs parallel.pp"));
  }
  EXPECT_TRUE(check_pipeline_schedule(PipelineSchedule::kZeroBubble, 2, 8, 1, true).is_ok());
  // Fewer micro-batches than stages is legal, only wasteful.
  EXPECT_TRUE(check_pipeline_schedule(PipelineSchedule::k1F1B, 8, 2, 1).is_ok());
  EXPECT_TRUE(check_pipeline_schedule(PipelineSchedule::kZeroBubble, 8, 2, 1).is_ok());
}

TEST(PipelineSchedule, Names) {
  for (PipelineSchedule s : {PipelineSchedule::kGpipe, PipelineSchedule::k1F1B,
                             PipelineSchedule::kInterleaved, PipelineSchedule::kZeroBubble,
                             PipelineSchedule::kDualPipe})
    EXPECT_EQ(parse_pipeline_schedule(pipeline_schedule_name(s)), s);
  EXPECT_EQ(pipeline_schedule_name(PipelineSchedule::kZeroBubble), "zb-h1");
  EXPECT_EQ(parse_pipeline_schedule("zb"), PipelineSchedule::kZeroBubble);
  EXPECT_EQ(parse_pipeline_schedule("1F1B"), std::nullopt);
  EXPECT_EQ(parse_pipeline_schedule(""), std::nullopt);
}

TEST(PipelineSchedule, AnalyticStepTimes) {
  const StageTimes t{.forward_s = 1, .backward_input_s = 1.5, .backward_weight_s = 0.5,
                     .p2p_s = 0.25};
  // t = 3 + 2 v p2p.
  EXPECT_DOUBLE_EQ(analytic_pipeline_s(PipelineSchedule::k1F1B, 4, 8, 1, t), 11 * 3.5);
  EXPECT_DOUBLE_EQ(analytic_pipeline_s(PipelineSchedule::kGpipe, 4, 8, 1, t), 11 * 3.5);
  EXPECT_DOUBLE_EQ(analytic_pipeline_s(PipelineSchedule::kInterleaved, 4, 8, 2, t),
                   (8 + 1.5) * 4.0);
  EXPECT_DOUBLE_EQ(analytic_pipeline_s(PipelineSchedule::kZeroBubble, 4, 8, 1, t),
                   8 * 3.5 + 3 * 2.0);
  EXPECT_DOUBLE_EQ(analytic_pipeline_s(PipelineSchedule::kDualPipe, 4, 8, 1, t),
                   8 * 3.0 + 1 * 2.5);
  EXPECT_DOUBLE_EQ(analytic_pipeline_s(PipelineSchedule::kZeroBubble, 1, 8, 1, t), 8 * 3.0);
  EXPECT_DOUBLE_EQ(analytic_bubble(PipelineSchedule::k1F1B, 4, 8, 1, t), 3.0 / 11.0);
  EXPECT_DOUBLE_EQ(analytic_bubble(PipelineSchedule::k1F1B, 1, 8, 1, t), 0.0);
  EXPECT_DOUBLE_EQ(analytic_bubble(PipelineSchedule::k1F1B, 4, 8, 1, StageTimes{}), 0.0);
  // W larger than F + B: ZB-H1 has no bubble left.
  const StageTimes heavy_w{.forward_s = 1, .backward_input_s = 1, .backward_weight_s = 3};
  EXPECT_DOUBLE_EQ(analytic_bubble(PipelineSchedule::kZeroBubble, 4, 8, 1, heavy_w), 0.0);
}

}  // namespace
}  // namespace symphony
