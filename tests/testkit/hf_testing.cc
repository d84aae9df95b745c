#include "testkit/hf_testing.h"

#include <gtest/gtest.h>

#include "model/init.h"
#include "model/transformer.h"
#include "train/model_file.h"

namespace symphony::testkit {

ModelConfig hf_test_config(HfArch arch) {
  ModelConfig c;
  c.vocab_size = 320;
  c.hidden_size = 32;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 32;
  c.intermediate_size = 48;
  c.moe_intermediate_size = 16;
  c.num_experts_per_tok = 2;
  c.qk_norm = arch == HfArch::kQwen3Moe || arch == HfArch::kQwen3;
  c.tie_word_embeddings = arch == HfArch::kMixtral || arch == HfArch::kLlama;
  if (hf_arch_is_moe(arch))
    c.num_experts = 4;
  else
    c.num_experts = 0;
  if (arch == HfArch::kQwen3Moe) {
    c.first_k_dense_replace = 1;
    c.norm_topk_prob = false;
  }
  if (arch == HfArch::kDeepseekV3) {
    c.num_key_value_heads = c.num_attention_heads;
    c.q_lora_rank = 16;
    c.kv_lora_rank = 8;
    c.qk_rope_head_dim = 4;
    c.qk_nope_head_dim = 8;
    c.v_head_dim = 8;
    c.head_dim = c.qk_rope_head_dim;
    c.first_k_dense_replace = 1;
    c.n_shared_experts = 1;
    c.scoring_func = RouterScoring::kSigmoid;
    c.routed_scaling_factor = 2.5;
    c.n_group = 2;
    c.topk_group = 1;
    c.num_nextn_predict_layers = 1;
  }
  return c;
}

RunConfig hf_test_run_config(const ModelConfig& model) {
  RunConfig config;
  config.model = model;
  config.train.seq_len = model.max_position_embeddings;
  return config;
}

void write_hf_test_model(const std::filesystem::path& path, const RunConfig& config, uint64_t seed,
                         BiasInit bias) {
  Transformer model(config.model, DType::kF32, {1, 1}, Recompute::kFull);
  init_params(config.model, seed, model.params());
  for (int64_t l = 0; l < config.model.num_layers_with_mtp(); ++l) {
    if (!config.model.is_moe_layer(l)) continue;
    View b = model.balance_bias(l);
    for (int64_t e = 0; e < b.numel(); ++e)
      b.f32()[e] = bias == BiasInit::kZero ? 0.0f : 0.001f * float((seed + uint64_t(e)) % 5);
  }
  std::filesystem::create_directories(path.parent_path());
  Status s = save_model_file(path, config, model);
  ASSERT_TRUE(s.is_ok()) << s.message();
}

}  // namespace symphony::testkit
