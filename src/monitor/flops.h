#pragma once
// Model FLOPs of training, the figure behind achieved GFLOP/s and MFU.
//   per token = 6 * active matmul parameters + attention
//   active matmul parameters: q, k, v, o projections (with MLA q_a, q_b, kv_a, kv_b, o); the dense
//     feed-forward (model.mlp_kind), or the router plus K routed and all shared experts; the LM
//     head (V*D). Embedding
//     lookups and norms are not matmuls. With multi-token prediction each module adds its
//     eh_proj (2*D*D), its layer's and the LM head's again (training runs them on every token).
//   attention (causal, per layer, the MTP modules' included): the forward QK^T and PV products cost 2 * H * (Dq + Dv) FLOPs
//     per (query, key) pair (Dq = Dv = Dh without MLA); a query at position i sees i + 1 keys, so
//     the mean over a sequence of T is (T + 1) / 2 keys (with a sliding window w, min(i + 1, w):
//     ModelConfig::attended_keys_mean). Forward + backward = 3x forward: 3 * H * (Dq + Dv) *
//     (T + 1) per token and full-attention layer (ModelConfig::attention_core_dims).
// These are the model FLOPs of PaLM's MFU definition: recomputation is not counted.

#include <cstdint>

#include "model/model_config.h"

namespace symphony {

int64_t active_matmul_params(const ModelConfig& config);
double training_flops_per_token(const ModelConfig& config, int64_t seq_len);

}  // namespace symphony
