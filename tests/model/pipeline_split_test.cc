#include "model/pipeline_split.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <vector>

#include "config/run_config.h"
#include "parallel/pipeline_timeline.h"

namespace symphony {
namespace {

using ::testing::ElementsAre;

ParallelConfig pipeline_of(int64_t pp) {
  ParallelConfig p;
  p.pp = pp;
  return p;
}

TEST(PipelineSplit, TheLastStageTakesFewerLayersWithTheHead) {
  const Result<RunConfig> c = load_run_config("bench-dense-small", {});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  // 8 layers of about 20.6M FLOPs per token each (attention about 6.5M, MLP 14.2M); the LM head
  // about 25.2M. Whole layers split [5, 3] (103.2M against 87.1M); in sub-layers the first stage
  // takes four layers and the fifth one's attention, [9, 7] (89.1M against 101.3M).
  EXPECT_THAT(pipeline_layer_split(c->model, pipeline_of(2), 64, StageUnit::kLayer),
              ElementsAre(5, 3));
  EXPECT_THAT(pipeline_layer_split(c->model, pipeline_of(2), 64), ElementsAre(9, 7));
  // A multi-token prediction module on the last stage adds an eh_proj, a layer and the head
  // again (about 48.9M): [6, 2] is then the most even split of whole layers.
  ModelConfig mtp = c->model;
  mtp.num_nextn_predict_layers = 1;
  EXPECT_THAT(pipeline_layer_split(mtp, pipeline_of(2), 64, StageUnit::kLayer),
              ElementsAre(6, 2));
}

TEST(PipelineSplit, SubLayerSplitIsNeverWorseThanWholeLayers) {
  // The most expensive stage of the sub-layer split costs at most the whole-layer split's.
  for (const char* preset : {"tiny", "small", "bench-dense-small", "bench-moe-small"}) {
    const Result<RunConfig> c = load_run_config(preset, {});
    ASSERT_TRUE(c.has_value()) << c.error().message();
    const ModelConfig& m = c->model;
    for (int64_t pp = 2; pp <= m.num_hidden_layers; ++pp) {
      const int64_t seq = 256;
      const double core = 3.0 * double(m.attention_core_dims()) * double(seq + 1);
      const double attention = 6.0 * double(m.attention_matmul_params()) + core;
      auto stage_costs = [&](const std::vector<int64_t>& counts, bool halves) {
        std::vector<double> costs;
        int64_t at = 0;
        for (int64_t n : counts) {
          double cost = 0;
          for (int64_t u = at; u < at + n; ++u) {
            const int64_t l = halves ? u / 2 : u;
            const double whole = 6.0 * double(m.layer_matmul_params(l)) + core;
            cost += !halves ? whole : u % 2 == 0 ? attention : whole - attention;
          }
          costs.push_back(cost);
          at += n;
        }
        costs.back() += 6.0 * double(m.vocab_size) * double(m.hidden_size);
        return *std::max_element(costs.begin(), costs.end());
      };
      const std::vector<int64_t> layers =
          pipeline_layer_split(m, pipeline_of(pp), seq, StageUnit::kLayer);
      const std::vector<int64_t> sub = pipeline_layer_split(m, pipeline_of(pp), seq);
      ASSERT_EQ(sub.size(), size_t(pp));
      int64_t total = 0;
      for (int64_t n : sub) total += n;
      EXPECT_EQ(total, 2 * m.num_hidden_layers);
      EXPECT_LE(stage_costs(sub, true), stage_costs(layers, false) * (1 + 1e-12))
          << preset << " pp " << pp;
    }
  }
}

TEST(PipelineSplit, InterleavedChunksAreSplitForTheSchedule) {
  // pp = 2, vpp = 2: each rank's total balanced and spread evenly over its chunks in sub-layers
  // would be [5, 4, 4, 3]; chunks of unequal cost idle the ranks between them, and the split
  // whose simulated interleaved step is shortest is [4, 5, 5, 2] (chunks of about 41, 48, 55
  // and 21M FLOPs per token, the last with the 25.2M LM head).
  const Result<RunConfig> c = load_run_config("bench-dense-small", {});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ParallelConfig p = pipeline_of(2);
  p.vpp = 2;
  p.pp_schedule = PipelineSchedule::kInterleaved;
  const std::vector<int64_t> split = pipeline_layer_split(c->model, p, 64);
  EXPECT_THAT(split, ElementsAre(4, 5, 5, 2));
  // Its simulated step is no longer than the evenly spread split's, nor than any other's.
  auto step = [&](const std::vector<int64_t>& units) {
    const ModelConfig& m = c->model;
    const double core = 3.0 * double(m.attention_core_dims()) * 65.0;
    const double attention = 6.0 * double(m.attention_matmul_params()) + core;
    const double mlp = 6.0 * double(m.layer_matmul_params(0)) + core - attention;
    std::vector<StageTimes> chunks;
    int64_t at = 0;
    for (size_t s = 0; s < units.size(); ++s) {
      double cost = s == 0 ? double(m.hidden_size) : 0.0;
      for (int64_t u = at; u < at + units[s]; ++u) cost += u % 2 == 0 ? attention : mlp;
      if (s + 1 == units.size()) cost += 6.0 * double(m.vocab_size) * double(m.hidden_size);
      chunks.push_back({.forward_s = cost / 3, .backward_input_s = 2 * cost / 3});
      at += units[s];
    }
    return simulate_pipeline(PipelineSchedule::kInterleaved, 2, 8, 2, chunks, 0.0)->step_s;
  };
  EXPECT_LT(step(split), 0.97 * step({5, 4, 4, 3}));
  for (int64_t a = 1; a < 14; ++a)
    for (int64_t b = 1; a + b < 15; ++b)
      for (int64_t d = 1; a + b + d < 16; ++d)
        EXPECT_LE(step(split), step({a, b, d, 16 - a - b - d}) * (1 + 1e-9));
}

TEST(PipelineSplit, GivenLayersAreKept) {
  const Result<RunConfig> c = load_run_config("tiny", {});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ParallelConfig p = pipeline_of(2);
  p.pp_layers = {1, 3};
  EXPECT_THAT(pipeline_layer_split(c->model, p, 64), ElementsAre(2, 6));
  EXPECT_THAT(pipeline_layer_split(c->model, p, 64, StageUnit::kLayer), ElementsAre(1, 3));
  p.pp_layers = {1.5, 2.5};
  EXPECT_THAT(pipeline_layer_split(c->model, p, 64), ElementsAre(3, 5));
}

// The head split moves a share of the LM head's cost to the first stage: with half of it there
// the eight layers split evenly, [4, 4].
TEST(PipelineSplit, HeadShareMovesTheHeadsCostToTheFirstStage) {
  const Result<RunConfig> c = load_run_config("bench-dense-small", {});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ParallelConfig p = pipeline_of(2);
  p.pp_schedule = PipelineSchedule::kZeroBubble;
  p.pp_head_share = 0.5;
  EXPECT_THAT(pipeline_layer_split(c->model, p, 64), ElementsAre(8, 8));
}

// The share that evens out two measured stages: none when they are even, more the heavier the
// last stage, less when the first one is heavier, at most 0.9; on the split in use.
TEST(PipelineSplit, HeadShareFromMeasuredStageTimes) {
  const Result<RunConfig> c = load_run_config("bench-dense-small", {});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ParallelConfig p = pipeline_of(2);
  p.pp_schedule = PipelineSchedule::kZeroBubble;
  auto share = [&](double first, double last) {
    const std::vector<double> busy = {first, last};
    return head_share_for_stage_times(c->model, p, 64, busy);
  };
  EXPECT_DOUBLE_EQ(share(1.0, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(share(1.2, 1.0), 0.0);
  const double small = share(1.0, 1.05), large = share(1.0, 1.1);
  EXPECT_GT(small, 0.0);
  EXPECT_NEAR(large, 2 * small, 0.01);  // the difference over a head time near the stage's
  EXPECT_DOUBLE_EQ(share(0.1, 10.0), 0.9);
  // With a share in effect, even stages keep it and a lighter last stage takes some back.
  p.pp_head_share = 0.25;
  p.pp_layers = {4.5, 3.5};
  EXPECT_DOUBLE_EQ(share(1.0, 1.0), 0.25);
  EXPECT_LT(share(1.05, 1.0), 0.25);
  // The last stage of [4.5, 3.5] layers costs about 95M FLOPs per token with three quarters of
  // the LM head's 25.2M: a head of about 0.265 of its time. 5% more on the last stage moves
  // half of the difference: 0.025 / 0.265 of the head.
  EXPECT_NEAR(share(1.0, 1.05) - 0.25, 0.025 / (1.05 * 0.265), 0.01);
}

}  // namespace
}  // namespace symphony
