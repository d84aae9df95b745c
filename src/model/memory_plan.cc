#include "model/memory_plan.h"

#include <algorithm>

namespace symphony {
namespace {

// Elements of one layer's saved activations (LayerActs in transformer.cc).
int64_t layer_act_elems(const ModelConfig& c, int64_t n, bool moe, bool dense) {
  const int64_t d = c.hidden_size, h = c.num_attention_heads, hkv = c.num_key_value_heads;
  int64_t e = n * d + n;                                      // h, inv_rms
  if (c.qk_norm) e += n * c.q_dim() + n * c.kv_dim() + n * h + n * hkv;
  e += n * c.q_dim() + 2 * n * c.kv_dim() + n * c.q_dim() + n * h;  // q, k, v, out, lse
  e += 2 * n * d + n;                                         // x_mid, h2, inv2
  if (dense) e += 3 * n * c.intermediate_size;
  if (moe) {
    const int64_t k = c.num_experts_per_tok, x = c.num_experts;
    e += 2 * n * x + n * k;                                   // logits, probs, weights
    e += 2 * n * k * d + 3 * n * k * c.moe_intermediate_size;  // xg, yg, expert acts
    if (c.n_shared_experts > 0) e += 3 * n * c.n_shared_experts * c.moe_intermediate_size + n * d;
    e += 2 * n * x + n * k;                                   // dprobs_aux, dlogits, dweights
  }
  return e;
}

}  // namespace

MemoryPlan plan_training_memory(const ModelConfig& c, DType dtype, BatchShape shape,
                                RecomputeMode recompute) {
  const int64_t b = dtype_bytes(dtype), n = shape.rows(), d = c.hidden_size;
  const int64_t layers = c.num_hidden_layers;
  MemoryPlan plan;
  const int64_t params = Transformer::param_numel(c);
  plan.weights = params * b;
  plan.grads = params * b;
  plan.optimizer = 2 * params * b;

  int64_t acts = 0;
  if (recompute == RecomputeMode::kFull) {
    bool any_moe = false, any_dense = false;
    for (int64_t l = 0; l < layers; ++l) (c.is_moe_layer(l) ? any_moe : any_dense) = true;
    acts += layer_act_elems(c, n, any_moe, any_dense || !any_moe) + n * d;  // + layer_out_scratch
  } else {
    for (int64_t l = 0; l < layers; ++l)
      acts += layer_act_elems(c, n, c.is_moe_layer(l), !c.is_moe_layer(l));
  }
  acts += (layers + 1) * n * d;                                // residual stream
  acts += n * d + n;                                           // final_h, final_inv
  acts += 2 * n * d;                                           // dres, dh
  acts += std::min(n, Transformer::cross_entropy_chunk_rows(c.vocab_size)) * c.vocab_size;  // loss chunk
  acts += n * d + 2 * n * c.q_dim() + 2 * n * c.kv_dim();      // attention gradient scratch
  plan.activations = acts * b;

  int64_t other = std::max<int64_t>(shape.seq_len, 1) * c.head_dim;  // RoPE table
  for (int64_t l = 0; l < layers; ++l)
    if (c.is_moe_layer(l)) other += c.num_experts;
  plan.other = other * b;
  return plan;
}

}  // namespace symphony
