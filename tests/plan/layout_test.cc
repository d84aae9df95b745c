#include "plan/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/run_config.h"
#include "model/pipeline_split.h"

namespace symphony::plan {
namespace {

using ::testing::HasSubstr;

ModelCosts preset_costs(const char* name, int64_t seq_len) {
  Result<RunConfig> r = load_run_config(name, {});
  EXPECT_TRUE(r.has_value());
  return model_costs(r->model, seq_len);
}

TEST(Layout, ParseRoundTrips) {
  Result<PlanLayout> l = parse_layout(
      "dp=8,tp=4,pp=2,ep=8,cp=2,zero=1,vpp=2,mbs=2,recompute=selective,precision=fp8", 128);
  ASSERT_TRUE(l.has_value()) << l.error().message();
  EXPECT_EQ(l->schedule, PipelineSchedule::kInterleaved);  // vpp > 1 implies it
  EXPECT_EQ(l->zero(), ZeroStage::kOptimizer);
  EXPECT_EQ(l->recompute, Recompute::kSelective);
  Result<PlanLayout> again = parse_layout(l->to_string(), 128);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->to_string(), l->to_string());
}

// An even split (Megatron-LM's default) gives every virtual stage the same number of layers,
// earlier ones the remainder; the balanced one (the engine's) lightens the LM head's stage.
TEST(Layout, EvenAndBalancedStageSplits) {
  const ModelCosts m = preset_costs("qwen3-30b-a3b", 4096);  // 48 layers, a 152K vocabulary
  Result<PlanLayout> even = parse_layout("dp=2,pp=4,split=even", 8);
  ASSERT_TRUE(even.has_value()) << even.error().message();
  EXPECT_EQ(even->stage_split, StageSplit::kEven);
  EXPECT_NE(even->to_string().find(",split=even"), std::string::npos);
  EXPECT_EQ(parse_layout(even->to_string(), 8)->to_string(), even->to_string());
  for (int64_t s = 0; s < 4; ++s) EXPECT_EQ(layers_in_stage(m, *even, s), 12);
  PlanLayout balanced = *even;
  balanced.stage_split = StageSplit::kBalanced;
  EXPECT_LT(layers_in_stage(m, balanced, 3), 12);
  Result<PlanLayout> seven = parse_layout("dp=1,pp=7,split=even", 7);
  ASSERT_TRUE(seven.has_value());
  EXPECT_EQ(layers_in_stage(m, *seven, 0), 7);  // 48 = 6 x 7 + 6: the first six take 7
  EXPECT_EQ(layers_in_stage(m, *seven, 6), 6);
  EXPECT_THAT(parse_layout("split=uneven", 8).error().message(),
              HasSubstr("split='uneven' must be balanced or even"));
}

TEST(Layout, SizesComeFromTheParallelLayout) {
  // dp left out takes the GPUs the other axes leave; edp what ep leaves of dp * cp * tp.
  Result<PlanLayout> l = parse_layout("tp=4,cp=2,ep=16", 256);
  ASSERT_TRUE(l.has_value()) << l.error().message();
  EXPECT_EQ(l->dp(), 32);
  EXPECT_EQ(l->world(), 256);
  EXPECT_EQ(l->expert_dp(), 256 / 16);
  EXPECT_EQ(l->parallel.size(Axis::kExpertData), l->expert_dp());
  EXPECT_EQ(l->pp(), 1);
  EXPECT_EQ(l->zero(), ZeroStage::kNone);
  // A default layout is one GPU.
  EXPECT_EQ(PlanLayout{}.world(), 1);
  EXPECT_EQ(PlanLayout{}.expert_dp(), 1);
}

TEST(Layout, MalformedFieldsAreNamed) {
  auto error = [](const char* text, int64_t gpus = 64) {
    Result<PlanLayout> l = parse_layout(text, gpus);
    return l.has_value() ? std::string() : l.error().message();
  };
  EXPECT_THAT(error("tp=8,tpp=2"), HasSubstr("'tpp' is unknown"));
  EXPECT_THAT(error("tp=eight"), HasSubstr("tp='eight'"));
  EXPECT_THAT(error("zero=4"), HasSubstr("zero=4"));
  EXPECT_THAT(error("recompute=most"), HasSubstr("recompute='most'"));
  EXPECT_THAT(error("pp"), HasSubstr("not key=value"));
  EXPECT_THAT(error("schedule=zigzag"), HasSubstr("schedule='zigzag'"));
  // The parallel sizes, checked by ParallelLayout::create.
  EXPECT_THAT(error("tp=0"), HasSubstr("parallel.tp = 0 must be at least 1"));
  EXPECT_THAT(error("ep=3"), HasSubstr("parallel.ep = 3"));
  EXPECT_THAT(error("dp=8,tp=8,pp=4", 128), HasSubstr("but the world has 128 ranks"));
  EXPECT_THAT(error("tp=3"), HasSubstr("not a multiple of pp*cp*tp = 3"));
  EXPECT_THAT(error("tp=8", 0), HasSubstr("0 GPUs"));
  EXPECT_THAT(error("tp=128"), HasSubstr("parallel.tp = 128 exceeds the world of 64 ranks"));
  EXPECT_THAT(error("tp=65536,pp=65536,cp=65536", 1 << 24),
              HasSubstr("is more than the world's 16777216 ranks"));
}

TEST(Layout, CheckNamesTheViolatedConstraint) {
  const ModelCosts m = preset_costs("mixtral-8x7b", 4096);  // 32 heads, 8 KV heads, 8 experts
  const BatchSpec b{4096, 256 * 4096};
  auto check = [&](const char* text, int64_t gpus) {
    Result<PlanLayout> l = parse_layout(text, gpus);
    EXPECT_TRUE(l.has_value()) << l.error().message();
    return check_layout(*l, m, b, gpus, 8, TpPlacement::kWithinNode).message();
  };
  EXPECT_EQ(check("dp=8,tp=8,pp=4,ep=8", 256), "");
  Result<PlanLayout> of_256 = parse_layout("dp=8,tp=8,pp=4", 256);
  EXPECT_THAT(check_layout(*of_256, m, b, 128, 8, TpPlacement::kWithinNode).message(),
              HasSubstr("but the cluster has 128"));
  EXPECT_THAT(check("dp=32,tp=3,pp=1", 96), HasSubstr("tp=3 does not divide num_attention_heads"));
  // tp beyond the 8 KV heads replicates each (two ranks per KV head): only the node limits it.
  EXPECT_THAT(check("dp=4,tp=16,pp=4", 256), HasSubstr("spans more than one 8-GPU node"));
  // tp must divide the KV heads or be a multiple of them.
  ModelCosts odd = m;
  odd.config.num_attention_heads = 24;
  odd.config.num_key_value_heads = 6;
  Result<PlanLayout> tp4 = parse_layout("dp=64,tp=4", 256);
  EXPECT_THAT(check_layout(*tp4, odd, b, 256, 8, TpPlacement::kWithinNode).message(),
              HasSubstr("tp=4 neither divides num_key_value_heads 6 nor is a multiple of it"));
  Result<PlanLayout> wide = parse_layout("dp=4,tp=16,pp=4", 256);
  EXPECT_THAT(
      check_layout(*wide, preset_costs("kimi-k2-1t", 4096), b, 256, 8, TpPlacement::kWithinNode)
          .message(),
      HasSubstr("--tp-across-nodes"));
  EXPECT_TRUE(
      check_layout(*wide, preset_costs("kimi-k2-1t", 4096), b, 256, 8, TpPlacement::kAnywhere)
          .is_ok());
  // Multi-head latent attention has no KV-head groups: tp splits its 64 heads whatever
  // num_key_value_heads (which it does not read) says.
  ModelCosts kimi = preset_costs("kimi-k2-1t", 4096);
  kimi.config.num_key_value_heads = 3;
  EXPECT_TRUE(check_layout(*wide, kimi, b, 256, 8, TpPlacement::kAnywhere).is_ok());
  EXPECT_THAT(check("dp=32,tp=8,ep=16", 256), HasSubstr("ep=16 does not divide num_experts 8"));
  EXPECT_THAT(check("dp=1,tp=8,pp=64,cp=1", 512), HasSubstr("exceeds the 32 layers"));
  EXPECT_THAT(check("dp=512,tp=1", 512), HasSubstr("does not divide the global batch"));
  EXPECT_THAT(check("dp=64,tp=1,pp=4,schedule=interleaved", 256), HasSubstr("vpp"));
  EXPECT_THAT(check("dp=256,tp=1,cp=1,schedule=zb", 256), HasSubstr("needs pp > 1"));
}

TEST(Layout, StagesAreTheEnginesSplit) {
  for (const char* preset : {"deepseek-v3-671b", "kimi-k2-1t", "mixtral-8x7b", "qwen3-30b-a3b"}) {
    const ModelCosts m = preset_costs(preset, 4096);
    for (int64_t pp : {1, 2, 7, 16}) {
      for (int64_t vpp : {1, 2, 3}) {
        if (pp * vpp > m.num_layers) continue;
        SCOPED_TRACE(fmt::format("{} pp={} vpp={}", preset, pp, vpp));
        PlanLayout l;
        ParallelConfig pc;
        pc.pp = pp;
        l.parallel = *ParallelLayout::create(pc, int(pp));
        l.vpp = vpp;
        if (vpp > 1) l.schedule = PipelineSchedule::kInterleaved;
        ParallelConfig engine = pc;
        engine.vpp = vpp;
        engine.pp_schedule = l.schedule;
        const std::vector<int64_t> split =
            pipeline_layer_split(m.config, engine, m.seq_len, StageUnit::kLayer);
        const std::vector<LayerRange> ranges = virtual_stage_ranges(m, l);
        ASSERT_EQ(ranges.size(), size_t(pp * vpp));
        // Virtual stages tile the layers in order, as the engine's whole-layer split counts them.
        int64_t next = 0, total = 0;
        for (size_t c = 0; c < ranges.size(); ++c) {
          EXPECT_EQ(ranges[c].first, next);
          EXPECT_EQ(ranges[c].last - ranges[c].first, split.empty() ? m.num_layers : split[c]);
          next = ranges[c].last;
        }
        EXPECT_EQ(next, m.num_layers);
        for (int64_t s = 0; s < pp; ++s) total += layers_in_stage(m, l, s);
        EXPECT_EQ(total, m.num_layers);
      }
    }
  }
  // The LM head and DeepSeek-V3's MTP module make its last of 16 stages lighter in layers.
  const ModelCosts v3 = preset_costs("deepseek-v3-671b", 4096);
  PlanLayout l;
  ParallelConfig pc;
  pc.pp = 16;
  l.parallel = *ParallelLayout::create(pc, 16);
  EXPECT_LT(layers_in_stage(v3, l, 15), layers_in_stage(v3, l, 7));
}

}  // namespace
}  // namespace symphony::plan
