#include "plan/validation_models.h"

#include <gtest/gtest.h>

#include <cmath>

#include "plan/model_costs.h"

namespace symphony::plan::published {
namespace {

// Total and active parameters against each model's published size (billions), within 1.5%: the
// shapes of the validation runs are the published ones.
TEST(PublishedModels, ParameterCountsMatchThePublishedSizes) {
  struct Case {
    const char* name;
    ModelConfig config;
    double total_b, active_b;
  };
  const Case cases[] = {
      {"GPT-3 175B", gpt3_175b(), 175.0, 175.0},
      {"MT-NLG 530B", mt_nlg_530b(), 530.0, 530.0},
      {"BLOOM 176B", bloom_176b(), 176.2, 176.2},
      {"Llama 2 70B", llama2_70b(), 69.0, 69.0},
      {"Llama 3 8B", llama3_8b(), 8.03, 8.03},
      {"Llama 3 70B", llama3_70b(), 70.6, 70.6},
      {"Llama 3 405B", llama3_405b(), 405.8, 405.8},
      {"Nemotron-4 15B", nemotron4_15b(), 15.7, 15.7},
      {"Nemotron-4 340B", nemotron4_340b(), 341.0, 341.0},
      {"PaLM 540B", palm_540b(), 540.35, 540.35},
      // Grok-1's 314B; active: attention and 2 of 8 experts of 604M per layer, the embeddings.
      {"Grok-1", grok1_314b(), 314.0, 84.6},
      // GPT-OSS's card counts 5.13B active without the 0.58B input embedding (a lookup).
      {"GPT-OSS 120B", gpt_oss_120b(), 116.83, 5.13 + 0.58},
      {"Qwen3 30B-A3B", qwen3_30b_a3b(), 30.5, 3.35},
      {"Qwen3 235B-A22B", qwen3_235b_a22b(), 235.1, 22.2},
      {"DeepSeek-V3", deepseek_v3(0), 671.0, 37.5},
      {"Mixtral 8x7B", mixtral_8x7b(), 46.7, 12.9},
      {"Mixtral 8x22B", mixtral_8x22b(), 140.6, 39.2},
      {"Llama 4 Scout", llama4_scout(), 109.0, 17.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(c.config.validate().is_ok()) << c.config.validate().message();
    const ModelCosts m = model_costs(c.config, 2048);
    EXPECT_NEAR(double(m.total_params()) / 1e9, c.total_b, 0.015 * c.total_b);
    EXPECT_NEAR(double(m.active_params()) / 1e9, c.active_b, 0.015 * c.active_b);
  }
}

}  // namespace
}  // namespace symphony::plan::published
