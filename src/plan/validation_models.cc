#include "plan/validation_models.h"

namespace symphony::plan::published {
namespace {

ModelConfig dense(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads,
                  int64_t head_dim, int64_t ffn, MlpKind mlp, bool tied, int64_t positions) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = head_dim;
  c.intermediate_size = ffn;
  c.mlp_kind = mlp;
  c.num_experts = 0;
  c.tie_word_embeddings = tied;
  c.max_position_embeddings = positions;
  return c;
}

ModelConfig with_experts(ModelConfig c, int64_t experts, int64_t top_k, int64_t width) {
  c.num_experts = experts;
  c.num_experts_per_tok = top_k;
  c.moe_intermediate_size = width;
  c.first_k_dense_replace = 0;
  return c;
}

}  // namespace

ModelConfig megatron_gpt(int64_t heads, int64_t hidden, int64_t layers) {
  return dense(51200, hidden, layers, heads, heads, hidden / heads, 4 * hidden, MlpKind::kGelu,
               true, 2048);
}

ModelConfig gpt3_175b() { return megatron_gpt(96, 12288, 96); }

ModelConfig mt_nlg_530b() { return megatron_gpt(128, 20480, 105); }

ModelConfig bloom_176b() {
  return dense(250880, 14336, 70, 112, 112, 128, 4 * 14336, MlpKind::kGelu, true, 2048);
}

ModelConfig llama2_70b() {
  return dense(32000, 8192, 80, 64, 8, 128, 28672, MlpKind::kSwiGlu, false, 4096);
}

ModelConfig llama3_8b() {
  return dense(128256, 4096, 32, 32, 8, 128, 14336, MlpKind::kSwiGlu, false, 131072);
}

ModelConfig llama3_70b() {
  return dense(128256, 8192, 80, 64, 8, 128, 28672, MlpKind::kSwiGlu, false, 131072);
}

ModelConfig llama3_405b() {
  return dense(128256, 16384, 126, 128, 8, 128, 53248, MlpKind::kSwiGlu, false, 131072);
}

ModelConfig nemotron4_15b() {
  ModelConfig c =
      dense(256000, 6144, 32, 48, 8, 128, 24576, MlpKind::kSquaredRelu, false, 4096);
  c.partial_rotary_factor = 0.5;
  return c;
}

ModelConfig nemotron4_340b() {
  ModelConfig c =
      dense(256000, 18432, 96, 96, 8, 192, 73728, MlpKind::kSquaredRelu, false, 4096);
  c.partial_rotary_factor = 0.5;
  return c;
}

ModelConfig palm_540b() {
  ModelConfig c =
      dense(256000, 18432, 118, 48, 1, 256, 4 * 18432, MlpKind::kSwiGlu, true, 2048);
  c.parallel_attn = true;
  return c;
}

ModelConfig grok1_314b() {
  return with_experts(
      dense(131072, 6144, 64, 48, 8, 128, 32768, MlpKind::kGeGlu, false, 8192), 8, 2, 32768);
}

ModelConfig gpt_oss_120b() {
  ModelConfig c = with_experts(
      dense(201088, 2880, 36, 64, 8, 64, 2880, MlpKind::kSwiGlu, false, 131072), 128, 4, 2880);
  c.sliding_window = 128;
  c.sliding_window_pattern = 2;
  return c;
}

ModelConfig qwen3_30b_a3b() {
  ModelConfig c = with_experts(
      dense(151936, 2048, 48, 32, 4, 128, 6144, MlpKind::kSwiGlu, false, 40960), 128, 8, 768);
  c.qk_norm = true;
  return c;
}

ModelConfig qwen3_235b_a22b() {
  ModelConfig c = with_experts(
      dense(151936, 4096, 94, 64, 4, 128, 12288, MlpKind::kSwiGlu, false, 40960), 128, 8, 1536);
  c.qk_norm = true;
  return c;
}

ModelConfig deepseek_v3(int64_t mtp_modules) {
  ModelConfig c;
  c.vocab_size = 129280;
  c.hidden_size = 7168;
  c.num_hidden_layers = 61;
  c.num_attention_heads = 128;
  c.num_key_value_heads = 128;
  c.q_lora_rank = 1536;
  c.kv_lora_rank = 512;
  c.qk_rope_head_dim = 64;
  c.qk_nope_head_dim = 128;
  c.v_head_dim = 128;
  c.max_position_embeddings = 163840;
  c.intermediate_size = 18432;
  c.first_k_dense_replace = 3;
  c.num_experts = 256;
  c.num_experts_per_tok = 8;
  c.moe_intermediate_size = 2048;
  c.n_shared_experts = 1;
  c.n_group = 8;  // node-limited routing: the experts of at most 4 of 8 groups per token
  c.topk_group = 4;
  c.tie_word_embeddings = false;
  c.num_nextn_predict_layers = mtp_modules;
  return c;
}

ModelConfig mixtral_8x7b() {
  return with_experts(
      dense(32000, 4096, 32, 32, 8, 128, 14336, MlpKind::kSwiGlu, false, 32768), 8, 2, 14336);
}

ModelConfig mixtral_8x22b() {
  return with_experts(
      dense(32768, 6144, 56, 48, 8, 128, 16384, MlpKind::kSwiGlu, false, 65536), 8, 2, 16384);
}

ModelConfig llama4_scout() {
  ModelConfig c = with_experts(
      dense(202048, 5120, 48, 40, 8, 128, 16384, MlpKind::kSwiGlu, false, 262144), 16, 1, 8192);
  c.n_shared_experts = 1;
  return c;
}

}  // namespace symphony::plan::published
