#include "plan/model_costs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/presets.h"
#include "config/run_config.h"
#include "monitor/flops.h"

namespace symphony::plan {
namespace {

ModelConfig preset_model(const std::string& name, std::vector<std::string> overrides = {}) {
  Result<RunConfig> r = load_run_config(name, overrides);
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
    EXPECT_EQ(m.mtp_params(), counts.mtp);
    EXPECT_EQ(m.mtp_active_params(), counts.mtp_active);
    EXPECT_DOUBLE_EQ(m.model_flops_per_token(), training_flops_per_token(c, 4096));
  }
}

// Multi-token prediction: deepseek-v3-tiny has one module; deepseek-v3-671b has DeepSeek-V3's
// one, and is costed here with none, one and two; tiny (GQA, QK-norm) with two.
TEST(ModelCosts, MtpParamsAndFlopsEqualTheEngine) {
  struct Case {
    const char* preset;
    std::vector<std::string> overrides;
    int64_t modules;
  };
  const Case cases[] = {
      {"deepseek-v3-tiny", {}, 1},
      {"deepseek-v3-671b", {}, 1},
      {"deepseek-v3-671b", {"model.num_nextn_predict_layers=0"}, 0},
      {"deepseek-v3-671b", {"model.num_nextn_predict_layers=1"}, 1},
      {"deepseek-v3-671b", {"model.num_nextn_predict_layers=2"}, 2},
      {"tiny", {"model.num_nextn_predict_layers=2"}, 2},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(fmt::format("{} {}", k.preset, fmt::join(k.overrides, " ")));
    const ModelConfig c = preset_model(k.preset, k.overrides);
    ASSERT_EQ(c.num_nextn_predict_layers, k.modules);
    for (int64_t seq_len : {int64_t(64), int64_t(4096)}) {
      const ModelCosts m = model_costs(c, seq_len);
      EXPECT_EQ(m.num_mtp_modules, k.modules);
      EXPECT_DOUBLE_EQ(m.model_flops_per_token(), training_flops_per_token(c, seq_len));
      const ParamCounts counts = count_params(c);
      EXPECT_EQ(m.total_params(), counts.total);
      EXPECT_EQ(m.active_params(), counts.active);
      EXPECT_EQ(m.mtp_params(), counts.mtp);
      EXPECT_EQ(m.mtp_active_params(), counts.mtp_active);
      // Each module: its layer, eh_proj (2D -> D) and the LM head again, forward and backward.
      ModelConfig without = c;
      without.num_nextn_predict_layers = 0;
      const double d = double(c.hidden_size), v = double(c.vocab_size);
      const double module = 3.0 * (m.mtp_layer().fwd_flops() + 2.0 * 2.0 * d * d + 2.0 * v * d);
      EXPECT_DOUBLE_EQ(
          m.model_flops_per_token(),
          model_costs(without, seq_len).model_flops_per_token() + double(k.modules) * module);
    }
  }
}

TEST(ModelCosts, MtpModuleByHand) {
  // deepseek-v3-671b's module: 3 norms of 7168, eh_proj 7168 x 14336, and a MoE layer.
  const ModelCosts m = model_costs(preset_model("deepseek-v3-671b"), 4096);
  ASSERT_EQ(m.num_mtp_modules, 1);
  EXPECT_EQ(m.mtp.params, 3 * 7168 + 2 * int64_t(7168) * 7168);
  EXPECT_TRUE(m.mtp_layer().moe);
  EXPECT_EQ(m.mtp_params(), m.mtp.params + m.moe.total_params());
  // docs/presets.md: a MoE layer of 11,507,286,016 (585,318,400 active) plus 102,781,952.
  EXPECT_EQ(m.mtp_params(), 11'610'067'968);
  EXPECT_EQ(m.mtp_active_params(), 688'100'352);
  EXPECT_DOUBLE_EQ(m.mtp.fwd_flops, 2.0 * 2 * 7168.0 * 7168 + 2.0 * 129280 * 7168);
  // MtpActs less the layer's input (counted as the layer's residual input); MtpScratch and the
  // residual gradient.
  EXPECT_DOUBLE_EQ(m.mtp.act, 5 * 7168 + 3);
  EXPECT_DOUBLE_EQ(m.mtp.backward_scratch, 5 * 7168);
  // A dense model's modules have dense layers.
  const ModelCosts dense =
      model_costs(preset_model("bench-dense-small", {"model.num_nextn_predict_layers=1"}), 256);
  EXPECT_FALSE(dense.mtp_layer().moe);
  EXPECT_EQ(dense.mtp_params(), dense.mtp.params + dense.dense.total_params());
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
  // DeepSeek-V3 and Kimi K2 (multi-head latent attention) and Ling-1T (docs/presets.md).
  ModelCosts dsv3 = model_costs(preset_model("deepseek-v3-671b"), 4096);
  expect_within(double(dsv3.total_params()), 671.03e9, 0.0005);
  expect_within(double(dsv3.active_params()), 37.55e9, 0.001);
  ModelCosts kimi = model_costs(preset_model("kimi-k2-1t"), 4096);
  expect_within(double(kimi.total_params()), 1026.41e9, 0.0005);
  expect_within(double(kimi.active_params()), 32.86e9, 0.001);
  ModelCosts ling = model_costs(preset_model("ling-1t"), 4096);
  expect_within(double(ling.total_params()), 999.71e9, 0.0005);
  expect_within(double(ling.active_params()), 51.05e9, 0.001);
}

TEST(ModelCosts, MlaAttentionParametersPerLayer) {
  // docs/presets.md: 187,107,328 per layer for DeepSeek-V3 (128 heads), 101,124,096 for Kimi K2.
  const ModelCosts dsv3 = model_costs(preset_model("deepseek-v3-671b"), 4096);
  EXPECT_EQ(dsv3.moe.attn_params, 187'107'328);
  EXPECT_EQ(dsv3.dense.attn_params, 187'107'328);
  const ModelCosts kimi = model_costs(preset_model("kimi-k2-1t"), 4096);
  EXPECT_EQ(kimi.moe.attn_params, 101'124'096);
  // Tensor parallelism splits q_b, kv_b and o by heads; the down-projections q_a (7168 x 1536)
  // and kv_a (7168 x 576) and their norms run whole on every rank; no k, v split by KV heads.
  EXPECT_EQ(dsv3.moe.attn_replicated_params, 7168 * 1536 + 1536 + 7168 * 576 + 512);
  EXPECT_EQ(dsv3.moe.kv_proj_params, 0);
}

// A small model: hidden 64, 4 query heads of 16 and 2 KV heads, one dense layer (SwiGLU 96)
// and the rest MoE (8 experts of 32, top-2, 1 shared).
ModelConfig small_moe(int64_t layers) {
  ModelConfig c;
  c.vocab_size = 1000;
  c.hidden_size = 64;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.intermediate_size = 96;
  c.first_k_dense_replace = 1;
  c.num_experts = 8;
  c.num_experts_per_tok = 2;
  c.moe_intermediate_size = 32;
  c.n_shared_experts = 1;
  return c;
}

// The same with multi-head latent attention, 1 dense and 2 MoE layers.
ModelConfig small_mla(int64_t q_lora_rank) {
  ModelConfig c = small_moe(3);
  c.q_lora_rank = q_lora_rank;
  c.kv_lora_rank = 24;
  c.qk_nope_head_dim = 16;
  c.qk_rope_head_dim = 8;
  c.v_head_dim = 12;
  return c;
}

TEST(ModelCosts, MlaFlopsPerLayerEqualTheEngineCount) {
  const int64_t T = 256;
  for (int64_t q_lora_rank : {int64_t(0), int64_t(40)}) {
    SCOPED_TRACE(q_lora_rank);
    const ModelConfig c = small_mla(q_lora_rank);
    ASSERT_TRUE(c.validate().is_ok()) << c.validate().message();
    const ModelCosts m = model_costs(c, T);
    // monitor/flops.h per layer: 6 x the matmul parameters a token passes through, plus the
    // causal core 3 x H x (Dq + Dv) x (T + 1).
    for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
      SCOPED_TRACE(layer);
      const double engine = 6.0 * double(c.layer_matmul_params(layer)) +
                            3.0 * double(c.attention_core_dims()) * double(T + 1);
      EXPECT_DOUBLE_EQ(3.0 * m.layer(layer).fwd_flops(), engine);
    }
    EXPECT_DOUBLE_EQ(m.model_flops_per_token(), training_flops_per_token(c, T));
    EXPECT_EQ(m.total_params(), count_params(c).total);
    EXPECT_EQ(m.active_params(), count_params(c).active);

    // By hand: q (q_a 64 x 40, q_b 40 x 4*24, or q 64 x 4*24), kv_a 64 x (24 + 8),
    // kv_b 24 x 4*(16 + 12), o 4*12 x 64.
    const int64_t q = q_lora_rank > 0 ? 64 * 40 + 40 * 4 * 24 : 64 * 4 * 24;
    const int64_t matmul = q + 64 * 32 + 24 * 4 * 28 + 4 * 12 * 64;
    EXPECT_DOUBLE_EQ(m.moe.attn_proj_flops, 2.0 * matmul);
    EXPECT_DOUBLE_EQ(m.moe.attn_core_flops, 2.0 * 4 * (24 + 12) * (T + 1) / 2.0);
    EXPECT_EQ(m.moe.attn_params, matmul + (q_lora_rank > 0 ? 40 : 0) + 24);
    // Context parallelism passes the up-projected keys and values of every head.
    EXPECT_DOUBLE_EQ(m.kv_elems_per_token, 4.0 * (24 + 12));
  }
}

TEST(ModelCosts, MlaSavesWhatTheEngineSaves) {
  const ModelConfig c = small_mla(40);
  const ModelCosts m = model_costs(c, 128);
  // The layer input, then MlaActs: normed input and inverse RMS (64 + 1), query latent and its
  // norm (2 x 40 + 1), KV latent and its norm (2 x 24 + 1), q and k (2 x 4 x 24), v and the
  // attention output (2 x 4 x 12), log-sum-exp (4).
  EXPECT_DOUBLE_EQ(m.moe.act_attn, 64 + (64 + 1) + (80 + 1) + (48 + 1) + 192 + 96 + 4);
}

TEST(ModelCosts, FlopsPerLayerByHand) {
  const ModelConfig c = small_moe(2);
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

// The block variants the planner costs count the engine's parameters and model FLOPs.
TEST(ModelCosts, BlockVariantsEqualTheEngineCounts) {
  for (int variant = 0; variant < 6; ++variant) {
    ModelConfig c = preset_model("mixtral-8x7b");
    if (variant == 1) c.mlp_kind = MlpKind::kGelu;
    if (variant == 2) c.mlp_kind = MlpKind::kSquaredRelu;
    if (variant == 3) c.mlp_kind = MlpKind::kGeGlu;
    if (variant == 4) c.parallel_attn = true;
    if (variant == 5) c.sliding_window = 1024, c.sliding_window_pattern = 2;
    SCOPED_TRACE(variant);
    const ModelCosts m = model_costs(c, 4096);
    const ParamCounts counts = count_params(c);
    EXPECT_EQ(m.total_params(), counts.total);
    EXPECT_EQ(m.active_params(), counts.active);
    EXPECT_NEAR(m.model_flops_per_token(), training_flops_per_token(c, 4096),
                1e-12 * m.model_flops_per_token());
  }
}

TEST(ModelCosts, NonGatedMlpCostsTwoMatrices) {
  ModelConfig c = preset_model("small");
  c.num_experts = 0;
  const ModelCosts swiglu = model_costs(c, 256);
  c.mlp_kind = MlpKind::kGelu;
  const ModelCosts gelu = model_costs(c, 256);
  EXPECT_EQ(3 * gelu.dense.dense_ffn_params, 2 * swiglu.dense.dense_ffn_params);
  EXPECT_DOUBLE_EQ(3 * gelu.dense.ffn_flops, 2 * swiglu.dense.ffn_flops);
  // It keeps the up projection and its activation, not a gate as well.
  EXPECT_DOUBLE_EQ(swiglu.dense.act_ffn - gelu.dense.act_ffn, double(c.intermediate_size));
}

TEST(ModelCosts, SlidingWindowShrinksTheAttentionCore) {
  ModelConfig c = preset_model("small");
  c.num_experts = 0;
  const ModelCosts full = model_costs(c, 4096);
  c.sliding_window = 128;  // every layer
  const ModelCosts windowed = model_costs(c, 4096);
  // (w (w + 1) / 2 + (T - w) w) / T keys against (T + 1) / 2.
  const double keys = (128.0 * 129.0 / 2.0 + (4096.0 - 128.0) * 128.0) / 4096.0;
  EXPECT_NEAR(windowed.dense.attn_core_flops / full.dense.attn_core_flops, keys / 2048.5, 1e-12);
  EXPECT_DOUBLE_EQ(windowed.dense.attn_proj_flops, full.dense.attn_proj_flops);
}

}  // namespace
}  // namespace symphony::plan
