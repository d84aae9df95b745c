// The layer split of pipeline stages (parallel/pipeline_stages.h): chunk ranges of interleaved
// virtual stages, the cost-balanced split against brute force, the checks of an explicit split,
// and the activation slots a schedule needs (parallel/pipeline_schedule.h pipeline_in_flight).
#include "parallel/pipeline_stages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <vector>

#include "core/check.h"
#include "core/rng.h"
#include "parallel/pipeline_schedule.h"

namespace symphony {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PipelineStages, ChunksOfInterleavedVirtualStages) {
  // p = 2, v = 2: virtual stages 0 (rank 0), 1 (rank 1), 2 (rank 0), 3 (rank 1), in sub-layers
  // (two per layer): layers [0, 3), [3, 5), [5, 6), [6, 8).
  PipelineStages s;
  s.stages = 2;
  s.virtual_stages = 2;
  s.sublayers = {6, 4, 2, 4};
  s.stage = 0;
  EXPECT_EQ(s.chunk_layers(0, 8).begin, 0);
  EXPECT_EQ(s.chunk_layers(0, 8).end, 3);
  EXPECT_EQ(s.chunk_layers(1, 8).begin, 5);
  EXPECT_EQ(s.chunk_layers(1, 8).end, 6);
  EXPECT_TRUE(s.is_first(0));
  EXPECT_FALSE(s.is_last(1));
  EXPECT_TRUE(s.holds_embedding());
  EXPECT_FALSE(s.holds_head());
  s.stage = 1;
  EXPECT_EQ(s.chunk_layers(0, 8).begin, 3);
  EXPECT_EQ(s.chunk_layers(1, 8).begin, 6);
  EXPECT_EQ(s.chunk_layers(1, 8).end, 8);
  EXPECT_TRUE(s.is_last(1));
  EXPECT_TRUE(s.holds_head());
  // No pipeline: one chunk of every layer.
  const PipelineStages one;
  EXPECT_EQ(one.chunk_layers(0, 5).end, 5);
  EXPECT_EQ(one.chunk_sublayers(0, 5).end, 10);
  EXPECT_TRUE(one.is_first(0) && one.is_last(0));
}

TEST(PipelineStages, BoundariesInsideALayer) {
  // 4 layers over 3 stages: [0, 1.5) layers, [1.5, 2.5), [2.5, 4): layer 1's attention on stage
  // 0 and its feed-forward on stage 1, layer 2's attention on stage 1 and its feed-forward on 2.
  PipelineStages s;
  s.stages = 3;
  s.sublayers = {3, 2, 3};
  s.stage = 0;
  EXPECT_EQ(s.chunk_layers(0, 4).begin, 0);
  EXPECT_EQ(s.chunk_layers(0, 4).end, 2);
  EXPECT_EQ(layer_part(s.chunk_sublayers(0, 4), 0), LayerPart::kWhole);
  EXPECT_EQ(layer_part(s.chunk_sublayers(0, 4), 1), LayerPart::kAttention);
  s.stage = 1;
  EXPECT_EQ(s.chunk_layers(0, 4).begin, 1);
  EXPECT_EQ(s.chunk_layers(0, 4).end, 3);
  EXPECT_EQ(layer_part(s.chunk_sublayers(0, 4), 1), LayerPart::kFeedForward);
  EXPECT_EQ(layer_part(s.chunk_sublayers(0, 4), 2), LayerPart::kAttention);
  s.stage = 2;
  EXPECT_EQ(s.chunk_layers(0, 4).begin, 2);
  EXPECT_EQ(s.chunk_layers(0, 4).end, 4);
  EXPECT_EQ(layer_part(s.chunk_sublayers(0, 4), 2), LayerPart::kFeedForward);
  EXPECT_EQ(layer_part(s.chunk_sublayers(0, 4), 3), LayerPart::kWhole);
  EXPECT_TRUE(runs_attention(LayerPart::kWhole) && runs_feed_forward(LayerPart::kWhole));
  EXPECT_FALSE(runs_feed_forward(LayerPart::kAttention));
  EXPECT_FALSE(runs_attention(LayerPart::kFeedForward));
  // A stage of one feed-forward: the layer it belongs to.
  s.sublayers = {3, 1, 4};
  s.stage = 1;
  EXPECT_EQ(s.chunk_layers(0, 4).begin, 1);
  EXPECT_EQ(s.chunk_layers(0, 4).end, 2);
  EXPECT_EQ(layer_part(s.chunk_sublayers(0, 4), 1), LayerPart::kFeedForward);
}

// The smallest possible maximum stage cost, by trying every split.
double brute_force_best(const std::vector<double>& cost, int count, double first, double last) {
  const int n = int(cost.size());
  double best = std::numeric_limits<double>::infinity();
  std::vector<int> sizes(size_t(count), 1);
  std::function<void(int, int)> go = [&](int k, int left) {
    if (k == count - 1) {
      if (left < 1) return;
      sizes[size_t(k)] = left;
      double worst = 0;
      int at = 0;
      for (int s = 0; s < count; ++s) {
        double c = 0;
        for (int i = 0; i < sizes[size_t(s)]; ++i) c += cost[size_t(at++)];
        if (s == 0) c += first;
        if (s == count - 1) c += last;
        worst = std::max(worst, c);
      }
      best = std::min(best, worst);
      return;
    }
    for (int size = 1; size <= left - (count - k - 1); ++size) {
      sizes[size_t(k)] = size;
      go(k + 1, left - size);
    }
  };
  go(0, n);
  return best;
}

TEST(PipelineStages, BalancedSplitIsOptimal) {
  Rng rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + int(rng.next_u64() % 9), count = 1 + int(rng.next_u64() % uint64_t(n));
    std::vector<double> cost;
    for (int i = 0; i < n; ++i) cost.push_back(1.0 + double(rng.next_u64() % 5));
    const double first = double(rng.next_u64() % 3), last = double(rng.next_u64() % 6);
    const std::vector<int64_t> split = balance_pipeline_layers(cost, count, first, last);
    ASSERT_EQ(int(split.size()), count);
    double worst = 0;
    int64_t at = 0;
    for (int s = 0; s < count; ++s) {
      EXPECT_GE(split[size_t(s)], 1);
      double c = 0;
      for (int64_t i = 0; i < split[size_t(s)]; ++i) c += cost[size_t(at++)];
      if (s == 0) c += first;
      if (s == count - 1) c += last;
      worst = std::max(worst, c);
    }
    EXPECT_EQ(at, n);
    EXPECT_DOUBLE_EQ(worst, brute_force_best(cost, count, first, last));
  }
}

TEST(PipelineStages, HeadCostMovesLayersEarlier) {
  const std::vector<double> equal(8, 1.0);
  EXPECT_THAT(balance_pipeline_layers(equal, 2, 0, 0), ElementsAre(4, 4));
  EXPECT_THAT(balance_pipeline_layers(equal, 2, 0, 2), ElementsAre(5, 3));
  EXPECT_THAT(balance_pipeline_layers(equal, 4, 0, 0), ElementsAre(2, 2, 2, 2));
}

TEST(PipelineStages, ExplicitSplitIsChecked) {
  using Split = std::vector<double>;
  EXPECT_TRUE(check_pipeline_layers(Split{3, 1}, 2, 4).is_ok());
  EXPECT_TRUE(check_pipeline_layers(Split{4, 0}, 2, 4).is_ok());
  EXPECT_TRUE(check_pipeline_layers(Split{2.5, 1.5}, 2, 4).is_ok());
  EXPECT_THAT(sublayer_counts(Split{2.5, 1.5}), ElementsAre(5, 3));
  EXPECT_THAT(check_pipeline_layers(Split{3, 2}, 2, 4).message(),
              HasSubstr("parallel.pp_layers = [3, 2] sums to 5 layers, but "
                        "model.num_hidden_layers = 4"));
  EXPECT_THAT(check_pipeline_layers(Split{2.5, 2}, 2, 4).message(),
              HasSubstr("sums to 4.5 layers"));
  EXPECT_THAT(check_pipeline_layers(Split{4}, 2, 4).message(),
              HasSubstr("has 1 entries; it needs one per virtual stage"));
  EXPECT_THAT(check_pipeline_layers(Split{5, -1}, 2, 4).message(),
              HasSubstr("must not be negative"));
  EXPECT_THAT(check_pipeline_layers(Split{2.25, 1.75}, 2, 4).message(),
              HasSubstr("parallel.pp_layers = [2.25, 1.75]: 2.25 is not a whole or half number"));
}

int in_flight(PipelineSchedule s, int p, int stage, int m, int v = 1) {
  Result<std::vector<PipelineOp>> ops = pipeline_ops(s, p, stage, m, v);
  SYM_CHECK(ops.has_value(), "{}", ops.error().message());
  return pipeline_in_flight(*ops);
}

TEST(PipelineStages, ActivationSlotsOfEachSchedule) {
  for (int stage = 0; stage < 4; ++stage) {
    EXPECT_EQ(in_flight(PipelineSchedule::kGpipe, 4, stage, 8), 8);
    EXPECT_EQ(in_flight(PipelineSchedule::k1F1B, 4, stage, 8), 4 - stage);
    // ZB-H1's Ws free no activations: B does (its inputs are copied for W).
    EXPECT_EQ(in_flight(PipelineSchedule::kZeroBubble, 4, stage, 8), 4 - stage);
  }
  EXPECT_EQ(in_flight(PipelineSchedule::k1F1B, 4, 0, 2), 2);  // fewer micro-batches than stages
  // Interleaved, p = 2, m = 4, v = 2, stage 0 runs F0.0 F1.0 F0.1 F1.1 F2.0 B0.1 F3.0 B1.1 F2.1
  // B0.0 ...: the backwards start on chunk 1, so chunk 0 holds all 4 micro-batches first.
  EXPECT_EQ(in_flight(PipelineSchedule::kInterleaved, 2, 0, 4, 2), 4);
  EXPECT_EQ(in_flight(PipelineSchedule::kInterleaved, 2, 0, 2, 2), 2);  // m = p: all forwards
}

}  // namespace
}  // namespace symphony
