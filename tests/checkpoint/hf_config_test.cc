#include "checkpoint/hf_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace symphony {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

ModelConfig small(bool qk_norm, int64_t experts) {
  ModelConfig c;
  c.vocab_size = 300;
  c.hidden_size = 48;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 6;
  c.num_key_value_heads = 2;
  c.head_dim = 10;
  c.max_position_embeddings = 128;
  c.rope_theta = 123456.5;
  c.rms_norm_eps = 3e-6;
  c.qk_norm = qk_norm;
  c.tie_word_embeddings = false;
  c.initializer_range = 0.03;
  c.intermediate_size = 80;
  c.num_experts = experts;
  c.num_experts_per_tok = 3;
  c.moe_intermediate_size = 24;
  c.norm_topk_prob = true;
  c.router_aux_loss_coef = 0.02;
  return c;
}

void expect_same_architecture(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.num_key_value_heads, b.num_key_value_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.initializer_range, b.initializer_range);
  EXPECT_EQ(a.first_k_dense_replace, b.first_k_dense_replace);
  EXPECT_EQ(a.num_experts, b.num_experts);
  if (a.num_experts > 0) {
    EXPECT_EQ(a.num_experts_per_tok, b.num_experts_per_tok);
    EXPECT_EQ(a.moe_intermediate_size, b.moe_intermediate_size);
    EXPECT_EQ(a.norm_topk_prob, b.norm_topk_prob);
    EXPECT_EQ(a.router_aux_loss_coef, b.router_aux_loss_coef);
  }
  if (a.num_experts == 0 || a.first_k_dense_replace > 0) {
    EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  }
}

TEST(HfConfig, EveryArchitectureReadsBackItsOwnConfig) {
  ModelConfig qwen3_moe = small(true, 8);
  qwen3_moe.first_k_dense_replace = 2;
  qwen3_moe.norm_topk_prob = false;
  ModelConfig mixtral = small(false, 4);
  mixtral.tie_word_embeddings = true;
  const std::pair<ModelConfig, HfArch> cases[] = {{qwen3_moe, HfArch::kQwen3Moe},
                                                  {mixtral, HfArch::kMixtral},
                                                  {small(true, 0), HfArch::kQwen3},
                                                  {small(false, 0), HfArch::kLlama}};
  for (const auto& [config, arch] : cases) {
    SCOPED_TRACE(std::string(hf_model_type(arch)));
    ASSERT_EQ(*choose_hf_arch(config), arch);
    const std::string text = hf_config_json_text(config, arch, 7);
    const Json j = Json::parse(text);
    EXPECT_EQ(j["model_type"], hf_model_type(arch));
    EXPECT_EQ(j["architectures"][0], hf_architecture_class(arch));
    EXPECT_EQ(j["eos_token_id"], 7);
    Result<HfModelConfig> back = parse_hf_config(text, "config.json");
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(back->arch, arch);
    expect_same_architecture(config, back->model);
    EXPECT_EQ(back->model.bias_update_rate, 0.0);
    EXPECT_EQ(back->model.capacity_factor, 0.0);
  }
}

TEST(HfConfig, FieldsAreNamedAsTransformersNamesThem) {
  ModelConfig c = small(true, 8);
  c.first_k_dense_replace = 2;
  Json j = Json::parse(hf_config_json_text(c, HfArch::kQwen3Moe, std::nullopt));
  EXPECT_EQ(j["mlp_only_layers"], Json::array({0, 1}));
  EXPECT_EQ(j["decoder_sparse_step"], 1);
  EXPECT_EQ(j["num_experts"], 8);
  EXPECT_EQ(j["moe_intermediate_size"], 24);
  EXPECT_EQ(j["intermediate_size"], 80);
  EXPECT_FALSE(j.contains("eos_token_id"));
  c = small(false, 4);
  j = Json::parse(hf_config_json_text(c, HfArch::kMixtral, std::nullopt));
  EXPECT_EQ(j["num_local_experts"], 4);
  EXPECT_EQ(j["intermediate_size"], 24);  // Mixtral: the expert width
  EXPECT_FALSE(j.contains("num_experts"));
  EXPECT_TRUE(j["sliding_window"].is_null());
}

TEST(HfConfig, AbsentFieldsTakeTheTransformersDefaults) {
  Result<HfModelConfig> llama = parse_hf_config(
      R"({"model_type": "llama", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 128})",
      "config.json");
  ASSERT_TRUE(llama.has_value()) << llama.error().message();
  EXPECT_EQ(llama->model.num_key_value_heads, 4);
  EXPECT_EQ(llama->model.head_dim, 16);
  EXPECT_EQ(llama->model.rope_theta, 10000.0);
  EXPECT_EQ(llama->model.rms_norm_eps, 1e-6);
  EXPECT_FALSE(llama->model.tie_word_embeddings);
  EXPECT_FALSE(llama->model.qk_norm);
  Result<HfModelConfig> mixtral = parse_hf_config(
      R"({"model_type": "mixtral", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 128})",
      "config.json");
  ASSERT_TRUE(mixtral.has_value()) << mixtral.error().message();
  EXPECT_EQ(mixtral->model.rope_theta, 1e6);
  EXPECT_EQ(mixtral->model.rms_norm_eps, 1e-5);
  EXPECT_EQ(mixtral->model.num_experts, 8);
  EXPECT_EQ(mixtral->model.num_experts_per_tok, 2);
  EXPECT_EQ(mixtral->model.moe_intermediate_size, 128);
  EXPECT_TRUE(mixtral->model.norm_topk_prob);
}

TEST(HfConfig, RopeParametersOfTransformers5AreRead) {
  Result<HfModelConfig> c = parse_hf_config(
      R"({"model_type": "qwen3", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "head_dim": 8, "intermediate_size": 128,
          "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}})",
      "config.json");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->model.rope_theta, 1e6);
  EXPECT_TRUE(c->model.qk_norm);
}

// A valid qwen3_moe config.json with `patch` merged over it.
std::string qwen3_moe_with(const Json& patch) {
  Json j = Json::parse(hf_config_json_text(small(true, 8), HfArch::kQwen3Moe, std::nullopt));
  j.merge_patch(patch);
  return j.dump();
}

TEST(HfConfig, WhatSymphonyDoesNotComputeIsRefusedNamingTheField) {
  const std::pair<Json, std::string> cases[] = {
      {{{"model_type", "gpt2"}}, "model_type \"gpt2\" is not supported"},
      {Json::parse(R"({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}})"), "rope_scaling"},
      {Json::parse(R"({"rope_parameters": {"rope_type": "llama3"}})"), "rope_type"},
      {{{"attention_bias", true}}, "attention_bias = true is not supported"},
      {{{"hidden_act", "gelu"}}, "hidden_act = \"gelu\""},
      {{{"use_sliding_window", true}}, "use_sliding_window"},
      {{{"mlp_only_layers", {1}}}, "layer 1 is dense"},
      {{{"decoder_sparse_step", 2}}, "decoder_sparse_step = 2"},
      {{{"vocab_size", nullptr}}, "missing field vocab_size"},
      {{{"head_dim", nullptr}}, "missing field head_dim"},
      {{{"hidden_size", "64"}}, "hidden_size = \"64\" is not an integer"},
      {{{"tie_word_embeddings", 1}}, "tie_word_embeddings = 1 is not true or false"},
      {{{"num_key_value_heads", 4}}, "model.num_key_value_heads"},
      {{{"partial_rotary_factor", 0.5}}, "partial_rotary_factor = 0.5 is not supported"},
  };
  for (const auto& [patch, expected] : cases) {
    SCOPED_TRACE(patch.dump());
    Result<HfModelConfig> c = parse_hf_config(qwen3_moe_with(patch), "hf/config.json");
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(c.error().message(), HasSubstr("hf/config.json"));
    EXPECT_THAT(c.error().message(), HasSubstr(expected));
  }
  Result<HfModelConfig> c = parse_hf_config("{not json", "hf/config.json");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message(), HasSubstr("hf/config.json: invalid JSON"));
}

TEST(HfConfig, WholeHeadRotaryFactorIsAccepted) {
  for (const Json& factor : {Json(1.0), Json(1), Json(nullptr)}) {
    SCOPED_TRACE(factor.dump());
    Result<HfModelConfig> c =
        parse_hf_config(qwen3_moe_with({{"partial_rotary_factor", factor}}), "hf/config.json");
    ASSERT_TRUE(c.has_value()) << c.error().message();
    EXPECT_EQ(c->model.partial_rotary_factor, 1.0);
  }
}

TEST(HfConfig, MixtralSlidingWindowIsAcceptedOnlyWhenItCoversEveryPosition) {
  Json j = Json::parse(hf_config_json_text(small(false, 4), HfArch::kMixtral, std::nullopt));
  j["sliding_window"] = 128;
  EXPECT_TRUE(parse_hf_config(j.dump(), "config.json").has_value());
  j["sliding_window"] = 64;
  Result<HfModelConfig> c = parse_hf_config(j.dump(), "config.json");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message(), HasSubstr("sliding_window = 64"));
}

TEST(HfConfig, HugeSizesAreRefusedNamingTheFieldBeforeAnythingIsSizedByThem) {
  const std::pair<Json, std::string> cases[] = {
      {{{"num_hidden_layers", int64_t(1) << 62}},
       "model.num_hidden_layers = 4611686018427387904 must be at most 65536"},
      {{{"vocab_size", int64_t(1) << 40}}, "model.vocab_size = 1099511627776 must be at most"},
      {{{"hidden_size", INT64_MAX}}, "model.hidden_size = 9223372036854775807 must be at most"},
      {{{"num_experts", INT64_MAX}}, "model.num_experts = 9223372036854775807 must be at most"},
      {{{"num_attention_heads", int64_t(1) << 40}, {"num_key_value_heads", 1}},
       "model.num_attention_heads = 1099511627776 must be at most"},
      {{{"hidden_size", 1 << 20},
        {"num_hidden_layers", 1 << 16},
        {"num_experts", 1 << 20},
        {"moe_intermediate_size", 1 << 24}},
       "model: more than 2^63 parameters"},
  };
  for (const auto& [patch, expected] : cases) {
    SCOPED_TRACE(patch.dump());
    Result<HfModelConfig> c = parse_hf_config(qwen3_moe_with(patch), "hf/config.json");
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(c.error().message(), HasSubstr("hf/config.json: " + expected));
  }
}

}  // namespace
}  // namespace symphony
