#include "plan/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/run_config.h"

namespace symphony::plan {
namespace {

using ::testing::HasSubstr;

ModelCosts preset_costs(const char* name, int64_t seq_len) {
  Result<RunConfig> r = load_run_config(name, {});
  EXPECT_TRUE(r.has_value());
  return model_costs(r->model, seq_len);
}

TEST(Layout, ParseRoundTrips) {
  Result<PlanLayout> l =
      parse_layout("dp=8,tp=4,pp=2,ep=8,cp=2,zero=1,vpp=2,mbs=2,recompute=selective,precision=fp8");
  ASSERT_TRUE(l.has_value()) << l.error().message();
  EXPECT_EQ(l->schedule, Schedule::kInterleaved);  // vpp > 1 implies it
  Result<PlanLayout> again = parse_layout(l->to_string());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->to_string(), l->to_string());
  // dp left out means "the rest of the world" (0 until the caller fills it).
  EXPECT_EQ(parse_layout("tp=8")->dp, 0);
}

TEST(Layout, MalformedFieldsAreNamed) {
  EXPECT_THAT(parse_layout("tp=8,tpp=2").error().message(), HasSubstr("'tpp' is unknown"));
  EXPECT_THAT(parse_layout("tp=eight").error().message(), HasSubstr("tp='eight'"));
  EXPECT_THAT(parse_layout("zero=4").error().message(), HasSubstr("zero=4"));
  EXPECT_THAT(parse_layout("recompute=most").error().message(), HasSubstr("recompute='most'"));
  EXPECT_THAT(parse_layout("pp").error().message(), HasSubstr("not key=value"));
  EXPECT_THAT(parse_layout("schedule=zigzag").error().message(), HasSubstr("schedule='zigzag'"));
}

TEST(Layout, CheckNamesTheViolatedConstraint) {
  const ModelCosts m = preset_costs("mixtral-8x7b", 4096);  // 32 heads, 8 KV heads, 8 experts
  const BatchSpec b{4096, 256 * 4096};
  auto check = [&](const char* text, int64_t gpus) {
    Result<PlanLayout> l = parse_layout(text);
    EXPECT_TRUE(l.has_value());
    return check_layout(*l, m, b, gpus, 8, TpPlacement::kWithinNode).message();
  };
  EXPECT_EQ(check("dp=8,tp=8,pp=4,ep=8", 256), "");
  EXPECT_THAT(check("dp=8,tp=8,pp=4", 128), HasSubstr("but the cluster has 128"));
  EXPECT_THAT(check("dp=32,tp=3,pp=1", 96), HasSubstr("tp=3 does not divide num_attention_heads"));
  EXPECT_THAT(check("dp=4,tp=16,pp=4", 256), HasSubstr("num_key_value_heads 8"));
  Result<PlanLayout> wide = parse_layout("dp=4,tp=16,pp=4");
  EXPECT_THAT(
      check_layout(*wide, preset_costs("kimi-k2-1t", 4096), b, 256, 8, TpPlacement::kWithinNode)
          .message(),
      HasSubstr("--tp-across-nodes"));
  EXPECT_TRUE(
      check_layout(*wide, preset_costs("kimi-k2-1t", 4096), b, 256, 8, TpPlacement::kAnywhere)
          .is_ok());
  EXPECT_THAT(check("dp=32,tp=8,ep=16", 256), HasSubstr("ep=16 does not divide num_experts 8"));
  EXPECT_THAT(check("dp=1,tp=8,pp=64,cp=1", 512), HasSubstr("exceeds the 32 layers"));
  EXPECT_THAT(check("dp=512,tp=1", 512), HasSubstr("does not divide the global batch"));
  EXPECT_THAT(check("dp=64,tp=1,pp=4,schedule=interleaved", 256), HasSubstr("vpp"));
  EXPECT_THAT(check("dp=256,tp=1,cp=1,schedule=zb", 256), HasSubstr("needs pp > 1"));
}

TEST(Layout, UnevenStagesDifferByAtMostOneLayer) {
  for (int64_t layers : {61, 126, 32}) {
    for (int64_t pp : {1, 2, 7, 16}) {
      for (int64_t vpp : {1, 2, 3}) {
        if (pp * vpp > layers) continue;
        int64_t total = 0, lo = layers, hi = 0;
        for (int64_t s = 0; s < pp; ++s) {
          const int64_t n = layers_in_stage(layers, pp, vpp, s);
          total += n;
          lo = std::min(lo, n);
          hi = std::max(hi, n);
        }
        EXPECT_EQ(total, layers);
        EXPECT_LE(hi - lo, vpp);
        // Virtual stages tile the layers in order.
        int64_t next = 0;
        for (int64_t v = 0; v < pp * vpp; ++v) {
          LayerRange r = virtual_stage_layers(layers, pp * vpp, v);
          EXPECT_EQ(r.first, next);
          EXPECT_GE(r.last - r.first, layers / (pp * vpp));
          next = r.last;
        }
        EXPECT_EQ(next, layers);
      }
    }
  }
}

}  // namespace
}  // namespace symphony::plan
