#include "model/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "config/run_config.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;

ModelConfig preset_model(const char* name) {
  Result<RunConfig> r = load_run_config(name, {});
  EXPECT_TRUE(r.has_value()) << name << ": " << r.error().message();
  return r.has_value() ? r->model : ModelConfig{};
}

void expect_within(double value, double expected, double relative) {
  EXPECT_LE(std::abs(value - expected), relative * expected)
      << value << " is not within " << relative * 100 << "% of " << expected;
}

TEST(CountParams, BenchDenseSmallByHand) {
  const int64_t V = 8192, D = 512, L = 8, F = 1536;
  const int64_t embedding = V * D;      // tied with the LM head
  const int64_t attention = 4 * D * D;  // q, k, v, o with 8 x 64 = D
  const int64_t mlp = 3 * D * F;        // gate, up, down
  const int64_t norms = 2 * D;          // before attention and before the MLP
  const int64_t expected = embedding + L * (attention + mlp + norms) + D;  // + final norm
  ASSERT_EQ(expected, 31'465'984);

  const ParamCounts counts = count_params(preset_model("bench-dense-small"));
  EXPECT_EQ(counts.total, expected);
  EXPECT_EQ(counts.active, expected);
  EXPECT_EQ(counts.embedding, embedding);
  EXPECT_EQ(counts.per_layer_attention, attention);
}

TEST(CountParams, BenchMoeSmallActivatesAsManyMlpParamsAsTheDenseOne) {
  const ParamCounts dense = count_params(preset_model("bench-dense-small"));
  const ParamCounts moe = count_params(preset_model("bench-moe-small"));
  const int64_t D = 512, L = 8, E = 8, K = 2, F = 768;
  const int64_t router = E * D;
  EXPECT_EQ(moe.active, dense.active + L * router);
  EXPECT_EQ(moe.total, moe.active + L * (E - K) * 3 * D * F);
  EXPECT_EQ(moe.total, 88'121'856);
}

TEST(CountParams, TinyByHand) {
  const int64_t V = 512, D = 128, Dh = 32, H = 4, Hkv = 2, F = 384, E = 8, K = 2, Fe = 64;
  const int64_t attention = D * H * Dh + 2 * D * Hkv * Dh + H * Dh * D + 2 * Dh;  // + QK-norm
  const int64_t layer_common = attention + 2 * D;
  const int64_t dense_layer = layer_common + 3 * D * F;
  const int64_t expert = 3 * D * Fe;
  const int64_t moe_layer_total = layer_common + E * D + E * expert + 1 * expert;  // + shared
  const int64_t moe_layer_active = layer_common + E * D + K * expert + 1 * expert;
  const int64_t outside = 2 * V * D + D;  // untied embedding and LM head, final norm

  const ParamCounts counts = count_params(preset_model("tiny"));
  EXPECT_EQ(counts.per_layer_attention, attention);
  EXPECT_EQ(counts.total, outside + dense_layer + 3 * moe_layer_total);
  EXPECT_EQ(counts.active, outside + dense_layer + 3 * moe_layer_active);
  EXPECT_EQ(counts.total, 1'143'168);
}

TEST(CountParams, MixtralMatchesThePublishedSize) {
  const ParamCounts counts = count_params(preset_model("mixtral-8x7b"));
  expect_within(static_cast<double>(counts.total), 46.7e9, 0.01);
  expect_within(static_cast<double>(counts.active), 12.9e9, 0.01);
}

TEST(CountParams, Qwen3MoeMatchesThePublishedSize) {
  const ParamCounts small = count_params(preset_model("qwen3-30b-a3b"));
  expect_within(static_cast<double>(small.total), 30.5e9, 0.02);
  expect_within(static_cast<double>(small.active), 3.3e9, 0.02);
  const ParamCounts large = count_params(preset_model("qwen3-235b-a22b"));
  expect_within(static_cast<double>(large.total), 235e9, 0.01);
  expect_within(static_cast<double>(large.active), 22e9, 0.02);
}

// DeepSeek-V3's attention as published (config.json: q_lora_rank 1536, kv_lora_rank 512,
// qk_rope_head_dim 64, qk_nope_head_dim 128, v_head_dim 128, 128 heads, hidden 7168).
ModelConfig deepseek_v3_mla() { return preset_model("deepseek-v3-671b"); }

TEST(CountParams, MlaCountsDeepSeekV3AttentionExactly) {
  const ModelConfig c = deepseek_v3_mla();
  ASSERT_TRUE(c.validate().is_ok()) << c.validate().message();
  ASSERT_TRUE(c.mla());
  const int64_t q_a = 7168 * 1536, q_a_norm = 1536, q_b = 1536 * 128 * 192;
  const int64_t kv_a = 7168 * (512 + 64), kv_a_norm = 512, kv_b = 512 * 128 * (128 + 128);
  const int64_t o = 128 * 128 * 7168;
  const ParamCounts counts = count_params(c);
  EXPECT_EQ(counts.per_layer_attention, q_a + q_a_norm + q_b + kv_a + kv_a_norm + kv_b + o);
  EXPECT_EQ(counts.per_layer_attention, 187'107'328);
  EXPECT_EQ(c.attention_matmul_params(), 187'107'328 - q_a_norm - kv_a_norm);
  EXPECT_EQ(c.q_dim(), 128 * 192);
  EXPECT_EQ(c.attention_core_dims(), 128 * (192 + 128));

  // Without query compression q is one 7168 x 128*192 matrix.
  ModelConfig direct = c;
  direct.q_lora_rank = 0;
  EXPECT_EQ(count_params(direct).per_layer_attention,
            7168 * 128 * 192 + kv_a + kv_a_norm + kv_b + o);
  EXPECT_EQ(direct.attention_matmul_params(), 7168 * 128 * 192 + kv_a + kv_b + o);
}

// The trillion-parameter presets against the figures their publishers give (docs/presets.md
// shows the arithmetic and which figure counts what).
TEST(CountParams, TrillionPresetsMatchThePublishedSizes) {
  // DeepSeek-V3: "671B total" for the main model, without the 14B multi-token-prediction module
  // of the 685B checkpoint. Its "37B activated" is 1.5% below the 37.55B counted here, which
  // takes the embedding, the LM head, every router and the shared and 8 routed experts of each
  // MoE layer.
  const ParamCounts deepseek = count_params(preset_model("deepseek-v3-671b"));
  expect_within(static_cast<double>(deepseek.total), 671e9, 0.01);
  expect_within(static_cast<double>(deepseek.active), 37e9, 0.015);
  // Kimi K2: 1026.5B in the Hugging Face checkpoint (its FP8 block scales included), 32.6B
  // activated in the technical report; no multi-token-prediction module.
  const ParamCounts kimi = count_params(preset_model("kimi-k2-1t"));
  expect_within(static_cast<double>(kimi.total), 1026.5e9, 0.01);
  expect_within(static_cast<double>(kimi.active), 32.6e9, 0.01);
  // Ling-1T: "1T total"; 51B active in inclusionAI's later cards ("about 50B" in its own).
  const ParamCounts ling = count_params(preset_model("ling-1t"));
  expect_within(static_cast<double>(ling.total), 1e12, 0.01);
  expect_within(static_cast<double>(ling.active), 51e9, 0.01);
}

TEST(ModelConfigValidate, MlaNamesTheKey) {
  const ModelConfig mla = deepseek_v3_mla();
  struct Case {
    int64_t ModelConfig::*field;
    int64_t value;
    const char* message;
  };
  const Case cases[] = {
      {&ModelConfig::qk_rope_head_dim, 63, "model.qk_rope_head_dim = 63 must be even"},
      {&ModelConfig::qk_rope_head_dim, 0, "model.qk_rope_head_dim = 0 must be positive"},
      {&ModelConfig::qk_nope_head_dim, 0, "model.qk_nope_head_dim = 0 must be positive"},
      {&ModelConfig::v_head_dim, -4, "model.v_head_dim = -4 must be positive"},
      {&ModelConfig::q_lora_rank, -1, "model.q_lora_rank = -1 must be >= 0"},
      {&ModelConfig::kv_lora_rank, -2, "model.kv_lora_rank = -2 must be >= 0"},
      {&ModelConfig::kv_lora_rank, int64_t(1) << 40, "model.kv_lora_rank = 1099511627776 must be "
                                                     "at most"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    ModelConfig config = mla;
    config.*c.field = c.value;
    EXPECT_THAT(config.validate().message(), HasSubstr(c.message));
  }
  // kv_lora_rank alone, without the head widths.
  ModelConfig bare;
  bare.kv_lora_rank = 64;
  EXPECT_THAT(bare.validate().message(),
              HasSubstr("model.qk_rope_head_dim = 0 must be positive: model.kv_lora_rank = 64"));
  // A query rank without MLA, QK-norm with it.
  ModelConfig q_only;
  q_only.q_lora_rank = 32;
  EXPECT_THAT(q_only.validate().message(), HasSubstr("model.q_lora_rank = 32"));
  ModelConfig qk_norm = mla;
  qk_norm.qk_norm = true;
  EXPECT_THAT(qk_norm.validate().message(), HasSubstr("model.qk_norm = true"));
  // MLA does not read head_dim or num_key_value_heads.
  ModelConfig other_heads = mla;
  other_heads.num_key_value_heads = 3;
  other_heads.head_dim = 7;
  EXPECT_TRUE(other_heads.validate().is_ok()) << other_heads.validate().message();
}

TEST(CountParams, DenseModelIsAllActive) {
  ModelConfig config;
  config.num_experts = 0;
  const ParamCounts counts = count_params(config);
  EXPECT_EQ(counts.total, counts.active);
  config.tie_word_embeddings = false;
  EXPECT_EQ(count_params(config).total, counts.total + config.vocab_size * config.hidden_size);
}

TEST(ModelConfigValidate, DefaultsAreValid) { EXPECT_TRUE(ModelConfig{}.validate().is_ok()); }

TEST(ModelConfigValidate, NamesTheKeyAndValues) {
  ModelConfig config;
  config.num_experts = 4;
  config.num_experts_per_tok = 5;
  EXPECT_THAT(config.validate().message(),
              HasSubstr("model.num_experts_per_tok = 5 must be in [1, model.num_experts = 4]"));

  config = ModelConfig{};
  config.num_attention_heads = 12;
  config.num_key_value_heads = 8;
  EXPECT_THAT(config.validate().message(), HasSubstr("model.num_attention_heads = 12"));

  config = ModelConfig{};
  config.vocab_size = -1;
  EXPECT_THAT(config.validate().message(), HasSubstr("model.vocab_size = -1 must be positive"));

  config = ModelConfig{};
  config.rope_theta = std::nan("");
  EXPECT_THAT(config.validate().message(), HasSubstr("model.rope_theta"));
}

// Each router and RoPE key out of range is named with its value.
TEST(ModelConfigValidate, NamesTheRouterAndRopeKeys) {
  struct Case {
    const char* name;
    void (*set)(ModelConfig&);
    const char* message;
  };
  const Case cases[] = {
      {"topk_group above n_group", [](ModelConfig& c) { c.n_group = 4, c.topk_group = 5; },
       "model.topk_group = 5 must be in [1, model.n_group = 4]"},
      {"topk_group 0", [](ModelConfig& c) { c.topk_group = 0; },
       "model.topk_group = 0 must be in [1, model.n_group = 1]"},
      {"n_group 0", [](ModelConfig& c) { c.n_group = 0; }, "model.n_group = 0 must be positive"},
      {"n_group not dividing", [](ModelConfig& c) { c.n_group = 3, c.topk_group = 2; },
       "model.n_group = 3 does not divide model.num_experts = 8"},
      {"top-k beyond the groups",
       [](ModelConfig& c) { c.n_group = 4, c.topk_group = 1, c.num_experts_per_tok = 3; },
       "model.num_experts_per_tok = 3 must be at most model.topk_group * model.num_experts / "
       "model.n_group = 1 * 8 / 4 = 2"},
      {"scaling 0", [](ModelConfig& c) { c.routed_scaling_factor = 0; },
       "model.routed_scaling_factor = 0 must be a positive finite number"},
      {"scaling negative", [](ModelConfig& c) { c.routed_scaling_factor = -2.5; },
       "model.routed_scaling_factor = -2.5"},
      {"scaling NaN", [](ModelConfig& c) { c.routed_scaling_factor = std::nan(""); },
       "model.routed_scaling_factor"},
      {"seq aux negative", [](ModelConfig& c) { c.router_seq_aux_loss_coef = -1; },
       "model.router_seq_aux_loss_coef = -1 must be a finite number >= 0"},
      {"rotary factor above 1", [](ModelConfig& c) { c.partial_rotary_factor = 1.5; },
       "model.partial_rotary_factor = 1.5 must be in (0, 1]"},
      {"rotary factor 0", [](ModelConfig& c) { c.partial_rotary_factor = 0; },
       "model.partial_rotary_factor = 0 must be in (0, 1]"},
      {"rotary dims odd", [](ModelConfig& c) { c.partial_rotary_factor = 0.5, c.head_dim = 6; },
       "model.partial_rotary_factor = 0.5 must be in (0, 1] and rotate an even, positive number "
       "of dims: round(factor * model.head_dim = 6)"},
      {"rotary dims zero", [](ModelConfig& c) { c.partial_rotary_factor = 0.01; },
       "model.partial_rotary_factor = 0.01"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ModelConfig config;
    config.num_experts = 8;
    config.num_experts_per_tok = 2;
    c.set(config);
    EXPECT_THAT(config.validate().message(), HasSubstr(c.message));
  }
}

TEST(ModelConfigValidate, AcceptsPublishedRoutingAndPartialRope) {
  ModelConfig config;  // head_dim 64
  config.num_experts = 256;
  config.num_experts_per_tok = 8;
  config.scoring_func = RouterScoring::kSigmoid;
  config.n_group = 8;
  config.topk_group = 4;
  config.routed_scaling_factor = 2.5;
  config.router_seq_aux_loss_coef = 1e-4;
  config.partial_rotary_factor = 0.5;
  EXPECT_TRUE(config.validate().is_ok()) << config.validate().message();
  EXPECT_EQ(config.rotary_dim(), 32);
  config.num_experts_per_tok = 4 * 32;  // every expert of the 4 best groups
  EXPECT_TRUE(config.validate().is_ok());
  // Dense models ignore the expert count in the groups check.
  config.num_experts = 0;
  config.n_group = 3;
  config.topk_group = 2;
  EXPECT_TRUE(config.validate().is_ok());
}

TEST(ModelConfigValidate, IntermediateSizeMattersOnlyWithDenseLayers) {
  ModelConfig config;
  config.num_experts = 4;
  config.first_k_dense_replace = 0;
  config.intermediate_size = 0;
  EXPECT_TRUE(config.validate().is_ok());
  config.first_k_dense_replace = 1;
  EXPECT_THAT(config.validate().message(), HasSubstr("model.intermediate_size = 0"));
}

TEST(ModelConfigValidate, TopKIsIgnoredForDenseModels) {
  ModelConfig config;
  config.num_experts = 0;
  config.num_experts_per_tok = 0;
  EXPECT_TRUE(config.validate().is_ok());
}

TEST(ModelConfigValidate, BoundsEachSizeNamingTheKey) {
  constexpr int64_t kHuge = std::numeric_limits<int64_t>::max();
  struct Case {
    int64_t ModelConfig::*field;
    int64_t value;
    const char* message;
  };
  const Case cases[] = {
      {&ModelConfig::num_hidden_layers, int64_t(1) << 31,
       "model.num_hidden_layers = 2147483648 must be at most 65536"},
      {&ModelConfig::num_hidden_layers, kHuge,
       "model.num_hidden_layers = 9223372036854775807 must be at most 65536"},
      {&ModelConfig::vocab_size, int64_t(1) << 31, "model.vocab_size = 2147483648 must be at most"},
      {&ModelConfig::hidden_size, kHuge, "model.hidden_size = 9223372036854775807 must be at most"},
      {&ModelConfig::num_attention_heads, kHuge, "model.num_attention_heads = 9223372036854775807"},
      {&ModelConfig::head_dim, int64_t(1) << 40, "model.head_dim = 1099511627776 must be at most"},
      {&ModelConfig::intermediate_size, kHuge, "model.intermediate_size = 9223372036854775807"},
      {&ModelConfig::num_experts, kHuge,
       "model.num_experts = 9223372036854775807 must be at most 1048576"},
      {&ModelConfig::max_position_embeddings, kHuge, "model.max_position_embeddings = "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    ModelConfig config;
    config.*c.field = c.value;
    EXPECT_THAT(config.validate().message(), HasSubstr(c.message));
  }
}

TEST(ModelConfigValidate, BoundsTheParameterCount) {
  // Every size within its own bound, their product beyond 2^63.
  ModelConfig config;
  config.hidden_size = kMaxHiddenSize;
  config.num_hidden_layers = kMaxHiddenLayers;
  config.num_experts = kMaxExperts;
  config.moe_intermediate_size = kMaxIntermediateSize;
  EXPECT_EQ(count_params_checked(config), std::nullopt);
  const Status overflow = config.validate();
  EXPECT_THAT(overflow.message(), HasSubstr("model: more than 2^63 parameters"));
  EXPECT_THAT(overflow.message(), HasSubstr("model.num_experts = 1048576"));
  EXPECT_THAT(overflow.message(), HasSubstr("exceed the limit of 2^56"));

  // Computable, but beyond the limit.
  config = ModelConfig{};
  config.hidden_size = kMaxHiddenSize;
  config.intermediate_size = kMaxIntermediateSize;
  config.num_hidden_layers = 8192;  // 8192 * 3 * 2^44 > 2^56
  ASSERT_TRUE(count_params_checked(config).has_value());
  EXPECT_THAT(config.validate().message(), HasSubstr("parameters (model.vocab_size = 8192"));

  // The largest configs of the presets are far inside.
  EXPECT_TRUE(preset_model("kimi-k2-1t").validate().is_ok());
  EXPECT_TRUE(preset_model("ling-1t").validate().is_ok());
}

TEST(CountParams, MtpModulesCountApartByHand) {
  const ModelConfig base = preset_model("tiny");
  ModelConfig config = base;
  config.num_nextn_predict_layers = 2;
  const ParamCounts without = count_params(base), with = count_params(config);
  // The main model's counts do not change.
  EXPECT_EQ(with.total, without.total);
  EXPECT_EQ(with.active, without.active);
  EXPECT_EQ(without.mtp, 0);
  EXPECT_EQ(without.mtp_active, 0);
  // Each module: enorm, hnorm, shared_head.norm, eh_proj and a MoE layer as tiny's last ones.
  const int64_t D = 128, Dh = 32, H = 4, Hkv = 2, E = 8, K = 2, Fe = 64;
  const int64_t attention = D * H * Dh + 2 * D * Hkv * Dh + H * Dh * D + 2 * Dh;
  const int64_t expert = 3 * D * Fe;
  const int64_t own = 3 * D + 2 * D * D;
  const int64_t layer_common = attention + 2 * D + E * D + expert;  // + router, shared expert
  EXPECT_EQ(with.mtp, 2 * (own + layer_common + E * expert));
  EXPECT_EQ(with.mtp_active, 2 * (own + layer_common + K * expert));
  // A dense model's modules have dense layers.
  config.num_experts = 0;
  const int64_t dense = count_params(config).mtp;
  EXPECT_EQ(dense, 2 * (own + attention + 2 * D + 3 * D * config.intermediate_size));
  EXPECT_EQ(count_params(config).mtp_active, dense);
}

TEST(ModelConfigValidate, MtpKeysAreCheckedNamingTheKey) {
  ModelConfig config;
  config.num_nextn_predict_layers = -1;
  EXPECT_THAT(config.validate().message(), HasSubstr("model.num_nextn_predict_layers = -1"));
  config.num_nextn_predict_layers = kMaxHiddenLayers;
  EXPECT_THAT(config.validate().message(), HasSubstr("model.num_nextn_predict_layers = 65536"));
  config.num_nextn_predict_layers = 1;
  EXPECT_TRUE(config.validate().is_ok());
  for (double bad : {-0.1, std::nan(""), std::numeric_limits<double>::infinity()}) {
    config.mtp_loss_weight = bad;
    EXPECT_THAT(config.validate().message(), HasSubstr("model.mtp_loss_weight"));
  }
  config.mtp_loss_weight = 0;
  EXPECT_TRUE(config.validate().is_ok());
}

TEST(CountParams, EveryMoeLayerAddsTheSame) {
  // tiny: layer 0 dense, layers 1-3 MoE.
  ModelConfig config = preset_model("tiny");
  ASSERT_EQ(config.num_hidden_layers, 4);
  ASSERT_EQ(config.first_k_dense_replace, 1);
  const int64_t four = count_params(config).total;
  config.num_hidden_layers = 1;
  const int64_t moe_layer = (four - count_params(config).total) / 3;
  config.num_hidden_layers = 1004;
  EXPECT_EQ(count_params(config).total, four + 1000 * moe_layer);
  // The count is closed-form: the largest layer count costs no more than a small one.
  config.num_hidden_layers = kMaxHiddenLayers;
  EXPECT_EQ(count_params(config).total, four + (kMaxHiddenLayers - 4) * moe_layer);
}

// Non-gated feed-forwards have an up and a down matrix, gated ones three; a parallel block has
// one norm. D = 8, F = 16, two layers, 2 heads of 4 with 1 KV head, untied vocabulary of 10.
TEST(CountParams, MlpKindsAndParallelBlocksByHand) {
  ModelConfig c;
  c.vocab_size = 10;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  c.intermediate_size = 16;
  c.num_experts = 0;
  c.tie_word_embeddings = false;
  const int64_t attention = 8 * 8 + 8 * 4 * 2 + 8 * 8;  // q, k, v, o
  const int64_t outside = 2 * 10 * 8 + 8;               // embedding, head, final norm
  for (MlpKind kind : {MlpKind::kSwiGlu, MlpKind::kGeGlu}) {
    c.mlp_kind = kind;
    EXPECT_EQ(count_params(c).total, outside + 2 * (2 * 8 + attention + 3 * 8 * 16));
    EXPECT_EQ(c.layer_matmul_params(0), attention + 3 * 8 * 16);
  }
  for (MlpKind kind : {MlpKind::kGelu, MlpKind::kRelu, MlpKind::kSquaredRelu}) {
    SCOPED_TRACE(std::string(mlp_kind_name(kind)));
    c.mlp_kind = kind;
    EXPECT_EQ(c.mlp_matrices(), 2);
    EXPECT_EQ(count_params(c).total, outside + 2 * (2 * 8 + attention + 2 * 8 * 16));
    EXPECT_EQ(c.layer_matmul_params(1), attention + 2 * 8 * 16);
  }
  c.parallel_attn = true;
  EXPECT_EQ(count_params(c).total, outside + 2 * (8 + attention + 2 * 8 * 16));
  // Experts take the same kind.
  c.parallel_attn = false;
  c.num_experts = 4;
  c.num_experts_per_tok = 2;
  c.moe_intermediate_size = 16;
  EXPECT_EQ(count_params(c).active,
            outside + 2 * (2 * 8 + attention + 4 * 8 + 2 * 2 * 8 * 16));
}

TEST(ModelConfig, SlidingWindowAttendedKeys) {
  ModelConfig c;
  c.num_hidden_layers = 4;
  // Full causal attention: (T + 1) / 2 keys per query.
  EXPECT_DOUBLE_EQ(c.attended_keys_mean(0, 4), 2.5);
  c.sliding_window = 2;  // every layer: positions 0..3 see 1, 2, 2, 2 keys
  for (int64_t l = 0; l < 4; ++l) EXPECT_DOUBLE_EQ(c.attended_keys_mean(l, 4), 1.75);
  EXPECT_DOUBLE_EQ(c.attended_keys_mean(0, 2), 1.5);  // a window beyond the sequence: full
  c.sliding_window_pattern = 2;  // layers 1, 3 attend fully (GPT-OSS, Gemma 2)
  EXPECT_TRUE(c.is_sliding_layer(0));
  EXPECT_FALSE(c.is_sliding_layer(1));
  EXPECT_TRUE(c.is_sliding_layer(2));
  EXPECT_DOUBLE_EQ(c.attended_keys_mean(1, 4), 2.5);
}

TEST(ModelConfigValidate, SlidingWindowKeysAreNamed) {
  ModelConfig c;
  c.sliding_window = -1;
  EXPECT_THAT(c.validate().message(), HasSubstr("model.sliding_window = -1"));
  c.sliding_window = 128;
  c.sliding_window_pattern = -2;
  EXPECT_THAT(c.validate().message(), HasSubstr("model.sliding_window_pattern = -2"));
  c.sliding_window_pattern = 2;
  EXPECT_TRUE(c.validate().is_ok());
}

}  // namespace
}  // namespace symphony
