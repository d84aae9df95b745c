#include "plan/model_costs.h"

#include <gtest/gtest.h>

#include <cmath>

#include "config/presets.h"
#include "config/run_config.h"
#include "monitor/flops.h"

namespace symphony::plan {
namespace {

ModelConfig preset_model(const std::string& name) {
  Result<RunConfig> r = load_run_config(name, {});
  EXPECT_TRUE(r.has_value()) << name << ": " << r.error().message();
  return r.has_value() ? r->model : ModelConfig{};
}

void expect_within(double value, double expected, double relative) {
  EXPECT_LE(std::abs(value - expected), relative * expected)
      << value << " is not within " << relative * 100 << "% of " << expected;
}

TEST(ModelCosts, ParamsAndFlopsEqualTheEngineForEveryPreset) {
  for (const std::string& name : list_presets()) {
    SCOPED_TRACE(name);
    const ModelConfig c = preset_model(name);
    const ModelCosts m = model_costs(c, 4096);
    const ParamCounts counts = count_params(c);
    EXPECT_EQ(m.total_params(), counts.total);
    EXPECT_EQ(m.active_params(), counts.active);
    EXPECT_DOUBLE_EQ(m.model_flops_per_token(), training_flops_per_token(c, 4096));
  }
}

TEST(ModelCosts, PublishedSizes) {
  // Mixtral 8x7B: 46.7B total, 12.9B active.
  ModelCosts mixtral = model_costs(preset_model("mixtral-8x7b"), 4096);
  expect_within(double(mixtral.total_params()), 46.70e9, 0.001);
  expect_within(double(mixtral.active_params()), 12.88e9, 0.001);
  // Qwen3-30B-A3B: 30.5B total, 3.3B active.
  ModelCosts qwen = model_costs(preset_model("qwen3-30b-a3b"), 4096);
  expect_within(double(qwen.total_params()), 30.53e9, 0.001);
  expect_within(double(qwen.active_params()), 3.35e9, 0.002);
  // DeepSeek-V3 and Kimi K2 with MLA: 671.03B / 37.55B and 1026.41B / 32.86B
  // (docs/presets.md: the preset counts minus the MHA-over-MLA excess).
  ModelCosts dsv3 = with_mla(model_costs(preset_model("deepseek-v3-671b"), 4096), MlaDims{});
  expect_within(double(dsv3.total_params()), 671.03e9, 0.0005);
  expect_within(double(dsv3.active_params()), 37.55e9, 0.001);
  ModelCosts kimi = with_mla(model_costs(preset_model("kimi-k2-1t"), 4096), MlaDims{});
  expect_within(double(kimi.total_params()), 1026.41e9, 0.0005);
  expect_within(double(kimi.active_params()), 32.86e9, 0.001);
}

TEST(ModelCosts, MlaAttentionParametersPerLayer) {
  // docs/presets.md: 187,107,328 per layer for DeepSeek-V3 (128 heads), 101,124,096 for Kimi K2.
  ModelCosts dsv3 = with_mla(model_costs(preset_model("deepseek-v3-671b"), 4096), MlaDims{});
  EXPECT_EQ(dsv3.moe.attn_params, 187'107'328);
  ModelCosts kimi = with_mla(model_costs(preset_model("kimi-k2-1t"), 4096), MlaDims{});
  EXPECT_EQ(kimi.moe.attn_params, 101'124'096);
}

TEST(ModelCosts, FlopsPerLayerByHand) {
  ModelConfig c;
  c.vocab_size = 1000;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.intermediate_size = 96;
  c.first_k_dense_replace = 1;
  c.num_experts = 8;
  c.num_experts_per_tok = 2;
  c.moe_intermediate_size = 32;
  c.n_shared_experts = 1;
  const int64_t T = 128;
  const ModelCosts m = model_costs(c, T);
  // Attention projections: q and o are 64 x 64, k and v 64 x 32.
  EXPECT_DOUBLE_EQ(m.dense.attn_proj_flops, 2.0 * (2 * 64 * 64 + 2 * 64 * 32));
  // Causal core: 4 heads x (QK^T + PV) of 16-wide heads over (T + 1) / 2 keys on average.
  EXPECT_DOUBLE_EQ(m.dense.attn_core_flops, 4.0 * 2.0 * 2.0 * 16 * (T + 1) / 2.0);
  EXPECT_DOUBLE_EQ(m.dense.ffn_flops, 2.0 * 3 * 64 * 96);
  // Router, 2 routed and 1 shared expert.
  EXPECT_DOUBLE_EQ(m.moe.ffn_flops, 2.0 * (8 * 64 + 3 * 3 * 64 * 32));
  EXPECT_EQ(m.moe.routed_expert_params, 8 * 3 * 64 * 32);
  EXPECT_DOUBLE_EQ(m.lm_head_flops, 2.0 * 1000 * 64);
  EXPECT_DOUBLE_EQ(m.model_flops_per_token(),
                   3.0 * (m.dense.fwd_flops() + m.moe.fwd_flops() + m.lm_head_flops));
}

TEST(ModelCosts, SumLayersSplitsDenseAndMoe) {
  ModelCosts m = model_costs(preset_model("deepseek-v3-671b"), 4096);  // 3 dense + 58 MoE
  auto one = [](const LayerCosts&) { return 1.0; };
  auto moe = [](const LayerCosts& l) { return l.moe ? 1.0 : 0.0; };
  EXPECT_DOUBLE_EQ(m.sum_layers(0, 61, one), 61);
  EXPECT_DOUBLE_EQ(m.sum_layers(0, 61, moe), 58);
  EXPECT_DOUBLE_EQ(m.sum_layers(2, 5, moe), 2);
}

}  // namespace
}  // namespace symphony::plan
