#include "monitor/flops.h"

namespace symphony {

int64_t active_matmul_params(const ModelConfig& c) {
  const int64_t d = c.hidden_size;
  int64_t total = c.vocab_size * d;  // LM head
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) total += c.layer_matmul_params(l);
  // Each MTP module: eh_proj, its layer and the LM head again.
  for (int64_t l = c.num_hidden_layers; l < c.num_layers_with_mtp(); ++l)
    total += 2 * d * d + c.layer_matmul_params(l) + c.vocab_size * d;
  return total;
}

double training_flops_per_token(const ModelConfig& c, int64_t seq_len) {
  // QK^T and PV: 2 FLOPs per multiply-add over attention_core_dims() columns per attended key,
  // times 3 for forward and backward.
  double keys = 0;
  for (int64_t l = 0; l < c.num_layers_with_mtp(); ++l) keys += c.attended_keys_mean(l, seq_len);
  const double attention = 6.0 * double(c.attention_core_dims()) * keys;
  return 6.0 * double(active_matmul_params(c)) + attention;
}

}  // namespace symphony
