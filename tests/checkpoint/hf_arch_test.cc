#include "checkpoint/hf_arch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace symphony {
namespace {

using ::testing::HasSubstr;

ModelConfig moe_config() {
  ModelConfig c;
  c.num_experts = 8;
  c.num_experts_per_tok = 2;
  c.qk_norm = true;
  return c;
}

HfArch arch_of(const ModelConfig& c) {
  Result<HfArch> arch = choose_hf_arch(c);
  EXPECT_TRUE(arch.has_value()) << arch.error().message();
  return arch.has_value() ? *arch : HfArch::kLlama;
}

TEST(HfArch, DenseModelsAreQwen3WithQkNormAndLlamaWithout) {
  ModelConfig c;
  c.num_experts = 0;
  c.qk_norm = true;
  EXPECT_EQ(arch_of(c), HfArch::kQwen3);
  c.qk_norm = false;
  EXPECT_EQ(arch_of(c), HfArch::kLlama);
}

TEST(HfArch, MoeWithQkNormIsQwen3MoeWithDenseLayersAndEitherTopkNorm) {
  ModelConfig c = moe_config();
  EXPECT_EQ(arch_of(c), HfArch::kQwen3Moe);
  c.first_k_dense_replace = 2;
  c.norm_topk_prob = false;
  EXPECT_EQ(arch_of(c), HfArch::kQwen3Moe);
}

TEST(HfArch, MoeWithoutQkNormIsMixtral) {
  ModelConfig c = moe_config();
  c.qk_norm = false;
  EXPECT_EQ(arch_of(c), HfArch::kMixtral);
}

TEST(HfArch, MtpModulesWithoutMlaAreRefusedNamingTheKey) {
  for (int64_t experts : {0, 8}) {
    ModelConfig c = moe_config();
    c.num_experts = experts;
    c.num_nextn_predict_layers = 1;
    const Result<HfArch> arch = choose_hf_arch(c);
    ASSERT_FALSE(arch.has_value());
    EXPECT_THAT(arch.error().message(), HasSubstr("model.num_nextn_predict_layers = 1"));
    EXPECT_THAT(arch.error().message(), HasSubstr("deepseek_v3"));
  }
}

TEST(HfArch, SharedExpertsAreRefused) {
  ModelConfig c = moe_config();
  c.n_shared_experts = 1;
  Result<HfArch> arch = choose_hf_arch(c);
  ASSERT_FALSE(arch.has_value());
  EXPECT_EQ(arch.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(arch.error().message(), HasSubstr("model.n_shared_experts = 1"));
  EXPECT_THAT(arch.error().message(), HasSubstr("model.n_shared_experts = 0"));
}

// DeepSeek-V3's model: MLA, sigmoid group-limited routing with routed scaling, shared experts,
// dense leading layers, MTP modules.
ModelConfig mla_config() {
  ModelConfig c = moe_config();
  c.qk_norm = false;
  c.kv_lora_rank = 16;
  c.q_lora_rank = 24;
  c.qk_rope_head_dim = 4;
  c.qk_nope_head_dim = 8;
  c.v_head_dim = 8;
  c.scoring_func = RouterScoring::kSigmoid;
  c.n_group = 4;
  c.topk_group = 2;
  c.routed_scaling_factor = 2.5;
  c.n_shared_experts = 1;
  c.first_k_dense_replace = 1;
  c.num_nextn_predict_layers = 1;
  return c;
}

TEST(HfArch, MultiHeadLatentAttentionIsDeepseekV3) {
  ModelConfig c = mla_config();
  ASSERT_TRUE(c.validate().is_ok()) << c.validate().message();
  EXPECT_EQ(arch_of(c), HfArch::kDeepseekV3);
  c.norm_topk_prob = false;
  c.q_lora_rank = 0;
  c.n_group = 1;
  c.topk_group = 1;
  c.tie_word_embeddings = true;
  EXPECT_EQ(arch_of(c), HfArch::kDeepseekV3);
  c.num_experts = 0;  // dense: every layer a DeepSeek dense MLP
  EXPECT_EQ(arch_of(c), HfArch::kDeepseekV3);
}

TEST(HfArch, WhatDeepseekV3CannotComputeIsRefusedNamingTheKey) {
  struct Case {
    void (*set)(ModelConfig&);
    const char* message;
  };
  for (const Case& c : {
           Case{[](ModelConfig& m) { m.scoring_func = RouterScoring::kSoftmax; },
                "model.scoring_func = \"softmax\" with model.kv_lora_rank = 16"},
           Case{[](ModelConfig& m) { m.n_group = 8, m.topk_group = 4; }, "model.n_group = 8"},
           Case{[](ModelConfig& m) { m.rms_norm_eps = 1e-5; }, "model.rms_norm_eps = 1e-05"},
       }) {
    SCOPED_TRACE(c.message);
    ModelConfig m = mla_config();
    c.set(m);
    ASSERT_TRUE(m.validate().is_ok()) << m.validate().message();
    Result<HfArch> arch = choose_hf_arch(m);
    ASSERT_FALSE(arch.has_value());
    EXPECT_EQ(arch.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(arch.error().message(), HasSubstr(c.message));
  }
  // QK-norm and partial RoPE with MLA never reach export: the config is invalid.
  ModelConfig m = mla_config();
  m.qk_norm = true;
  EXPECT_THAT(m.validate().message(), HasSubstr("model.qk_norm"));
  m = mla_config();
  m.partial_rotary_factor = 0.5;
  EXPECT_THAT(m.validate().message(), HasSubstr("model.partial_rotary_factor"));
}

TEST(HfArch, MixtralCannotHaveDenseLayersOrUnnormalisedWeights) {
  ModelConfig c = moe_config();
  c.qk_norm = false;
  c.first_k_dense_replace = 1;
  Result<HfArch> arch = choose_hf_arch(c);
  ASSERT_FALSE(arch.has_value());
  EXPECT_THAT(arch.error().message(), HasSubstr("model.first_k_dense_replace = 1"));
  c.first_k_dense_replace = 0;
  c.norm_topk_prob = false;
  arch = choose_hf_arch(c);
  ASSERT_FALSE(arch.has_value());
  EXPECT_THAT(arch.error().message(), HasSubstr("model.norm_topk_prob = false"));
}

// Without MLA no supported architecture has DeepSeek-V3's routing or partial RoPE.
TEST(HfArch, PublishedRoutingAndPartialRopeAreRefusedNamingTheKey) {
  struct Case {
    void (*set)(ModelConfig&);
    const char* message;
  };
  for (const Case& c : {
           Case{[](ModelConfig& m) { m.scoring_func = RouterScoring::kSigmoid; },
                "model.scoring_func = \"sigmoid\""},
           Case{[](ModelConfig& m) { m.n_group = 4, m.topk_group = 2; }, "model.n_group = 4"},
           Case{[](ModelConfig& m) { m.routed_scaling_factor = 2.5; },
                "model.routed_scaling_factor = 2.5"},
           Case{[](ModelConfig& m) { m.partial_rotary_factor = 0.5; },
                "model.partial_rotary_factor = 0.5"},
           Case{[](ModelConfig& m) { m.partial_rotary_factor = 0.5, m.num_experts = 0; },
                "model.partial_rotary_factor = 0.5"},
       }) {
    SCOPED_TRACE(c.message);
    ModelConfig m = moe_config();
    c.set(m);
    ASSERT_TRUE(m.validate().is_ok()) << m.validate().message();
    Result<HfArch> arch = choose_hf_arch(m);
    ASSERT_FALSE(arch.has_value());
    EXPECT_EQ(arch.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(arch.error().message(), HasSubstr(c.message));
  }
  // The sequence-wise balance loss is training-only: it does not change the architecture.
  ModelConfig m = moe_config();
  m.router_seq_aux_loss_coef = 0.01;
  EXPECT_EQ(arch_of(m), HfArch::kQwen3Moe);
}

TEST(HfArch, ModelTypesRoundTripAndUnknownOnesNameTheSource) {
  for (HfArch arch : {HfArch::kQwen3Moe, HfArch::kMixtral, HfArch::kQwen3, HfArch::kLlama,
                      HfArch::kDeepseekV3}) {
    Result<HfArch> back = hf_arch_from_model_type(hf_model_type(arch), "x");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, arch);
  }
  Result<HfArch> bad = hf_arch_from_model_type("deepseek_v2", "dir/config.json");
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("dir/config.json: model_type \"deepseek_v2\""));
  EXPECT_THAT(bad.error().message(), HasSubstr("qwen3_moe, mixtral, qwen3, llama, deepseek_v3"));
}

}  // namespace
}  // namespace symphony
