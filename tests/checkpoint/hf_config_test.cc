#include "checkpoint/hf_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include <fmt/format.h>

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

// A small DeepSeek-V3 model: MLA, one dense layer, sigmoid group-limited routing, a shared
// expert, one MTP module.
ModelConfig deepseek() {
  ModelConfig c = small(false, 8);
  c.num_key_value_heads = c.num_attention_heads;
  c.rms_norm_eps = 1e-6;
  c.q_lora_rank = 24;
  c.kv_lora_rank = 16;
  c.qk_rope_head_dim = 4;
  c.qk_nope_head_dim = 6;
  c.v_head_dim = 10;
  c.head_dim = c.qk_rope_head_dim;
  c.first_k_dense_replace = 1;
  c.n_shared_experts = 2;
  c.scoring_func = RouterScoring::kSigmoid;
  c.routed_scaling_factor = 2.5;
  c.n_group = 4;
  c.topk_group = 2;
  c.norm_topk_prob = false;
  c.num_nextn_predict_layers = 1;
  c.router_aux_loss_coef = 0.0;  // DeepseekV3Config has no field for it
  return c;
}

void expect_same_deepseek(const ModelConfig& a, const ModelConfig& b) {
  expect_same_architecture(a, b);
  EXPECT_EQ(a.q_lora_rank, b.q_lora_rank);
  EXPECT_EQ(a.kv_lora_rank, b.kv_lora_rank);
  EXPECT_EQ(a.qk_rope_head_dim, b.qk_rope_head_dim);
  EXPECT_EQ(a.qk_nope_head_dim, b.qk_nope_head_dim);
  EXPECT_EQ(a.v_head_dim, b.v_head_dim);
  EXPECT_EQ(a.num_nextn_predict_layers, b.num_nextn_predict_layers);
  if (a.num_experts > 0) {
    EXPECT_EQ(a.n_shared_experts, b.n_shared_experts);
    EXPECT_EQ(a.scoring_func, b.scoring_func);
    EXPECT_EQ(a.routed_scaling_factor, b.routed_scaling_factor);
    EXPECT_EQ(a.n_group, b.n_group);
    EXPECT_EQ(a.topk_group, b.topk_group);
  }
}

TEST(HfConfig, DeepseekV3ReadsBackItsOwnConfig) {
  ModelConfig no_q_lora = deepseek();
  no_q_lora.q_lora_rank = 0;
  no_q_lora.tie_word_embeddings = true;
  ModelConfig dense = deepseek();
  dense.num_experts = 0;
  dense.first_k_dense_replace = 0;
  for (const ModelConfig& config : {deepseek(), no_q_lora, dense}) {
    SCOPED_TRACE(fmt::format("q_lora_rank {} experts {}", config.q_lora_rank, config.num_experts));
    ASSERT_TRUE(config.validate().is_ok()) << config.validate().message();
    ASSERT_EQ(*choose_hf_arch(config), HfArch::kDeepseekV3);
    const std::string text = hf_config_json_text(config, HfArch::kDeepseekV3, 7);
    Result<HfModelConfig> back = parse_hf_config(text, "config.json");
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(back->arch, HfArch::kDeepseekV3);
    expect_same_deepseek(config, back->model);
    EXPECT_EQ(back->model.router_seq_aux_loss_coef, 0.0);
    EXPECT_EQ(back->model.bias_update_rate, 0.0);
  }
}

TEST(HfConfig, DeepseekV3FieldsAreNamedAsDeepseekV3ConfigNamesThem) {
  ModelConfig c = deepseek();
  Json j = Json::parse(hf_config_json_text(c, HfArch::kDeepseekV3, std::nullopt));
  EXPECT_EQ(j["architectures"][0], "DeepseekV3ForCausalLM");
  EXPECT_EQ(j["n_routed_experts"], 8);
  EXPECT_EQ(j["n_shared_experts"], 2);
  EXPECT_EQ(j["num_experts_per_tok"], 3);
  EXPECT_EQ(j["first_k_dense_replace"], 1);
  EXPECT_EQ(j["moe_intermediate_size"], 24);
  EXPECT_EQ(j["intermediate_size"], 80);
  EXPECT_EQ(j["q_lora_rank"], 24);
  EXPECT_EQ(j["kv_lora_rank"], 16);
  EXPECT_EQ(j["qk_rope_head_dim"], 4);
  EXPECT_EQ(j["qk_nope_head_dim"], 6);
  EXPECT_EQ(j["v_head_dim"], 10);
  EXPECT_EQ(j["num_key_value_heads"], 6);  // every head its own keys
  EXPECT_EQ(j["n_group"], 4);
  EXPECT_EQ(j["topk_group"], 2);
  EXPECT_EQ(j["routed_scaling_factor"], 2.5);
  EXPECT_EQ(j["norm_topk_prob"], false);
  EXPECT_EQ(j["topk_method"], "noaux_tc");
  EXPECT_EQ(j["scoring_func"], "sigmoid");
  EXPECT_EQ(j["moe_layer_freq"], 1);
  EXPECT_EQ(j["num_nextn_predict_layers"], 1);
  EXPECT_EQ(j["rope_interleave"], true);
  EXPECT_TRUE(j["rope_scaling"].is_null());
  // transformers sets head_dim to qk_rope_head_dim; a value here would override it.
  EXPECT_FALSE(j.contains("head_dim"));
  EXPECT_FALSE(j.contains("num_experts"));
  c.q_lora_rank = 0;
  j = Json::parse(hf_config_json_text(c, HfArch::kDeepseekV3, std::nullopt));
  EXPECT_TRUE(j["q_lora_rank"].is_null());
  c.num_experts = 0;  // dense: the MTP layer too
  c.first_k_dense_replace = 0;
  j = Json::parse(hf_config_json_text(c, HfArch::kDeepseekV3, std::nullopt));
  EXPECT_EQ(j["first_k_dense_replace"], 5);
  EXPECT_EQ(j["n_routed_experts"], 0);
}

// As transformers 5 writes DeepseekV3Config (to_dict: every attribute, rope_parameters) and as
// DeepSeek-V3's published config.json has it (its training fields, no YaRN here).
TEST(HfConfig, DeepseekV3ConfigsOfTransformersAndDeepSeekAreRead) {
  Json j = Json::parse(hf_config_json_text(deepseek(), HfArch::kDeepseekV3, std::nullopt));
  j.erase("rope_theta");
  j.erase("rope_scaling");
  j.merge_patch(Json::parse(R"({"rope_parameters": {"rope_type": "default", "rope_theta": 5e4},
      "head_dim": 4, "qk_head_dim": 10, "pretraining_tp": 1, "ep_size": 1, "seq_aux": true,
      "aux_loss_alpha": 0.001, "pad_token_id": null, "auto_map": {}})"));
  Result<HfModelConfig> c = parse_hf_config(j.dump(), "config.json");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->model.rope_theta, 5e4);
  EXPECT_EQ(c->model.head_dim, 4);
  EXPECT_EQ(c->model.kv_lora_rank, 16);

  // Absent fields take DeepseekV3Config's defaults.
  c = parse_hf_config(R"({"model_type": "deepseek_v3", "vocab_size": 100, "hidden_size": 64,
      "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 128})",
                      "config.json");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->model.q_lora_rank, 1536);
  EXPECT_EQ(c->model.kv_lora_rank, 512);
  EXPECT_EQ(c->model.qk_rope_head_dim, 64);
  EXPECT_EQ(c->model.qk_nope_head_dim, 128);
  EXPECT_EQ(c->model.v_head_dim, 128);
  EXPECT_EQ(c->model.num_experts, 256);
  EXPECT_EQ(c->model.num_experts_per_tok, 8);
  EXPECT_EQ(c->model.n_shared_experts, 1);
  EXPECT_EQ(c->model.first_k_dense_replace, 3);
  EXPECT_EQ(c->model.n_group, 8);
  EXPECT_EQ(c->model.topk_group, 4);
  EXPECT_EQ(c->model.routed_scaling_factor, 2.5);
  EXPECT_EQ(c->model.scoring_func, RouterScoring::kSigmoid);
  EXPECT_TRUE(c->model.norm_topk_prob);
  EXPECT_EQ(c->model.num_nextn_predict_layers, 0);
  EXPECT_EQ(c->model.max_position_embeddings, 4096);
  EXPECT_FALSE(c->model.tie_word_embeddings);
}

TEST(HfConfig, WhatSymphonyDoesNotComputeOfDeepseekV3IsRefusedNamingTheField) {
  const std::pair<Json, std::string> cases[] = {
      {{{"rope_interleave", false}}, "rope_interleave = false is not supported"},
      {Json::parse(R"({"rope_scaling": {"type": "yarn", "factor": 40, "mscale_all_dim": 1.0}})"),
       "rope_scaling"},
      {{{"head_dim", 8}}, "head_dim = 8 differs from qk_rope_head_dim = 4"},
      {{{"num_key_value_heads", 2}}, "num_key_value_heads = 2 differs from num_attention_heads"},
      {{{"topk_method", "greedy"}}, "topk_method = \"greedy\" is not supported"},
      {{{"scoring_func", "softmax"}}, "scoring_func = \"softmax\" is not supported"},
      {{{"moe_layer_freq", 2}}, "moe_layer_freq = 2 is not supported"},
      {{{"rms_norm_eps", 1e-5}}, "rms_norm_eps = 1e-05 is not supported for deepseek_v3"},
      {{{"quantization_config", {{"quant_method", "fp8"}}}}, "quantization_config"},
      {{{"kv_lora_rank", 0}}, "kv_lora_rank = 0 must be positive"},
      {{{"n_group", 8}, {"topk_group", 4}}, "n_group = 8 with n_routed_experts = 8"},
      {{{"first_k_dense_replace", 6}, {"num_nextn_predict_layers", 3}},
       "model.first_k_dense_replace = 6"},
  };
  for (const auto& [patch, expected] : cases) {
    SCOPED_TRACE(patch.dump());
    Json j = Json::parse(hf_config_json_text(deepseek(), HfArch::kDeepseekV3, std::nullopt));
    j.merge_patch(patch);
    Result<HfModelConfig> c = parse_hf_config(j.dump(), "hf/config.json");
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(c.error().message(), HasSubstr("hf/config.json"));
    EXPECT_THAT(c.error().message(), HasSubstr(expected));
  }
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
