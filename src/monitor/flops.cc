#include "monitor/flops.h"

namespace symphony {

int64_t active_matmul_params(const ModelConfig& c) {
  const int64_t d = c.hidden_size;
  int64_t total = c.vocab_size * d;  // LM head
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    total += d * c.q_dim() * 2 + d * c.kv_dim() * 2;
    if (c.is_moe_layer(l))
      total += c.num_experts * d +
               (c.num_experts_per_tok + c.n_shared_experts) * 3 * d * c.moe_intermediate_size;
    else
      total += 3 * d * c.intermediate_size;
  }
  return total;
}

double training_flops_per_token(const ModelConfig& c, int64_t seq_len) {
  double attention = 6.0 * double(c.num_attention_heads * c.head_dim) * double(seq_len + 1) *
                     double(c.num_hidden_layers);
  return 6.0 * double(active_matmul_params(c)) + attention;
}

}  // namespace symphony
