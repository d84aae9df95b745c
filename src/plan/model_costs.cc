#include "plan/model_costs.h"

#include <algorithm>

#include "model/mla_block.h"
#include "model/mtp_block.h"

namespace symphony::plan {
namespace {

void fill_ffn(const ModelConfig& c, bool moe, LayerCosts& l) {
  const int64_t d = c.hidden_size;
  const int64_t m = c.mlp_matrices();
  // Per unit of width, saved and elementwise: gated kinds keep gate, up and their product, the
  // others the up projection and its activation.
  const int64_t act_per_width = mlp_gated(c.mlp_kind) ? 3 : 2;
  // A parallel block shares the attention's normed input and its one residual add (counted in
  // the attention part); a sequential MLP has its own norm and residual.
  const bool own_norm = !c.parallel_attn;
  l.moe = moe;
  l.norm_params = c.norms_per_layer() * d;
  if (!moe) {
    const int64_t f = c.intermediate_size;
    l.dense_ffn_params = m * d * f;
    l.ffn_flops = 2.0 * double(l.dense_ffn_params);
    // residual, norm out, then gate, up, act (gated) or up, act
    l.act_ffn = double((own_norm ? 2 * d : 0) + act_per_width * f);
    l.act_selective_saving += double((own_norm ? d : 0) + f);  // norm out and act recomputed
    l.elementwise_elems += double((own_norm ? 3 * d + 3 * d : 0) + act_per_width * f);
    return;
  }
  const int64_t e = c.num_experts, k = c.num_experts_per_tok, fm = c.moe_intermediate_size;
  const int64_t ns = c.n_shared_experts;
  l.router_params = e * d;
  l.shared_expert_params = ns * m * d * fm;
  l.routed_expert_params = e * m * d * fm;
  l.active_routed_params = k * m * d * fm;
  l.ffn_flops = 2.0 * double(l.router_params + l.shared_expert_params + l.active_routed_params);
  // residual, norm out, router logits and probabilities, K dispatched copies in and out, the
  // experts' gate/up/act, the shared experts' gate/up/act and output.
  l.act_ffn = double((own_norm ? 2 * d : 0) + 2 * e + k + 2 * k * d + act_per_width * k * fm +
                     (ns > 0 ? act_per_width * ns * fm + d : 0));
  l.backward_scratch += double(2 * e + k);  // router logit and probability gradients
  l.act_selective_saving += double((own_norm ? d : 0) + k * fm + ns * fm);
  l.act_routed = double(2 * k * d + act_per_width * k * fm);
  // norm, residual add, router softmax, permute and unpermute of K copies, the activation of K
  // routed and the shared experts, the weighted combine.
  l.elementwise_elems += double((own_norm ? 3 * d + 3 * d : 0) + 3 * e + 4 * k * d +
                                act_per_width * (k + ns) * fm + 2 * k * d);
}

// Grouped-query attention (model/attention_block.h).
void fill_gqa(const ModelConfig& c, LayerCosts& l) {
  const int64_t d = c.hidden_size, h = c.num_attention_heads, hkv = c.num_key_value_heads;
  const int64_t q = c.q_dim(), kv = c.kv_dim();
  l.attn_replicated_params = c.qk_norm ? 2 * c.head_dim : 0;
  l.kv_proj_params = 2 * d * kv;
  // residual in, norm out, q, k, v, attention out, log-sum-exp per head; with QK-norm also the
  // un-normalised q and k and their inverse RMS.
  l.act_attn = double(2 * d + q + 2 * kv + q + h) + (c.qk_norm ? double(q + kv + h + hkv) : 0.0);
  // Backward scratch of one layer: residual and hidden gradients, the attention input gradient
  // and the q, k, v gradients (transient: one layer at a time, not per micro-batch).
  l.backward_scratch = double(3 * d + 2 * q + 2 * kv);
  l.act_selective_saving += double(d);
  // norm, RoPE on the rotated dims of q and k, residual (a parallel block's one add of the
  // attention and MLP outputs reads one more input)
  l.elementwise_elems +=
      double(3 * d + 2 * (h + hkv) * c.rotary_dim() + (c.parallel_attn ? 4 * d : 3 * d));
}

// Multi-head latent attention (model/mla_block.h): its saved activations and scratch are the
// engine's MlaActs and MlaScratch for one row.
void fill_mla(const ModelConfig& c, LayerCosts& l) {
  const int64_t d = c.hidden_size, h = c.num_attention_heads;
  const int64_t q_lora = c.q_lora_rank, kv_lora = c.kv_lora_rank, rope = c.qk_rope_head_dim;
  // The down-projections and their norms run whole on every tp rank.
  l.attn_replicated_params =
      (q_lora > 0 ? d * q_lora + q_lora : 0) + d * (kv_lora + rope) + kv_lora;
  // residual in, then MlaActs: norm out, the latents and their norms, q, k, v, attention out,
  // log-sum-exp.
  l.act_attn = double(d + MlaActs::numel(c, 1, 1).value_or(0));
  // residual and hidden gradients, then MlaScratch.
  l.backward_scratch = double(2 * d + MlaScratch::numel(c, 1).value_or(0));
  // Selective recomputation recomputes the norms and the up-projections from the latents
  // (DeepSeek-V3 section 3.2.3): norm out, the normed latents, q, k and v are not kept.
  l.act_selective_saving += double(d + q_lora + kv_lora + c.q_dim() + c.q_dim() + h * c.v_head_dim);
  // norm, latent norms, RoPE on the query heads' rotary parts and the shared rotary key, the
  // copies that assemble each head's key [k_nope | k_rope] and value from the up-projection,
  // residual
  l.elementwise_elems += double(3 * d + 3 * (q_lora + kv_lora) + 2 * (h + 1) * rope +
                                2 * c.attention_core_dims() + 3 * d);
}

// `keys`: the keys a query attends to, averaged over the positions of a sequence and the layers
// of this kind (ModelConfig::attended_keys_mean: (T + 1) / 2 with full causal attention, fewer on
// sliding-window layers).
void fill_attention(const ModelConfig& c, double keys, LayerCosts& l) {
  l.attn_params = count_params(c).per_layer_attention;
  l.attn_proj_flops = 2.0 * double(c.attention_matmul_params());
  l.kv_proj_flops = c.mla() ? 0.0 : 2.0 * double(l.kv_proj_params_of(c));
  // QK^T and PV, forward: 2 FLOPs per multiply-add over attention_core_dims() columns for each
  // attended key.
  l.attn_core_flops = 2.0 * double(c.attention_core_dims()) * keys;
  if (c.mla())
    fill_mla(c, l);
  else
    fill_gqa(c, l);
}

}  // namespace

ModelCosts model_costs(const ModelConfig& c, int64_t seq_len) {
  ModelCosts m;
  m.config = c;
  m.seq_len = seq_len;
  m.num_layers = c.num_hidden_layers;
  m.num_dense_layers =
      c.num_experts > 0 ? std::min(c.first_k_dense_replace, c.num_hidden_layers) : m.num_layers;
  // Mean attended keys over the layers of each kind.
  auto mean_keys = [&](int64_t first, int64_t last) {
    double keys = 0;
    for (int64_t i = first; i < last; ++i) keys += c.attended_keys_mean(i, seq_len);
    return last > first ? keys / double(last - first) : double(seq_len + 1) / 2.0;
  };
  fill_attention(c, mean_keys(0, m.num_dense_layers), m.dense);
  fill_ffn(c, false, m.dense);
  if (c.num_experts > 0) {
    fill_attention(c, mean_keys(m.num_dense_layers, m.num_layers), m.moe);
    fill_ffn(c, true, m.moe);
  } else {
    m.moe = m.dense;
  }
  m.embedding_params = c.vocab_size * c.hidden_size;
  m.lm_head_params = c.tie_word_embeddings ? 0 : c.vocab_size * c.hidden_size;
  m.final_norm_params = c.hidden_size;
  m.lm_head_flops = 2.0 * double(c.vocab_size * c.hidden_size);
  // MLA passes the up-projected keys and values, every head its own.
  m.kv_elems_per_token = c.mla() ? double(c.attention_core_dims()) : double(2 * c.kv_dim());
  m.num_mtp_modules = c.num_nextn_predict_layers;
  if (m.num_mtp_modules > 0) {
    const int64_t d = c.hidden_size;
    m.mtp.params = 3 * d + 2 * d * d;
    m.mtp.fwd_flops = 2.0 * double(2 * d * d) + m.lm_head_flops;
    m.mtp.act = double(MtpActs::numel(1, d) - d);
    m.mtp.backward_scratch = double(MtpScratch::numel(1, d) + d);
    // lookup (read and write), enorm, hnorm and the head norm
    m.mtp.elementwise_elems = double(2 * d + 3 * (3 * d));
  }
  return m;
}

int64_t ModelCosts::total_params() const {
  int64_t layers = 0;
  for (int64_t i = 0; i < num_layers; ++i) layers += layer(i).total_params();
  return layers + embedding_params + lm_head_params + final_norm_params;
}

int64_t ModelCosts::active_params() const {
  int64_t layers = 0;
  for (int64_t i = 0; i < num_layers; ++i) layers += layer(i).active_params();
  return layers + embedding_params + lm_head_params + final_norm_params;
}

int64_t ModelCosts::mtp_params() const {
  return num_mtp_modules * (mtp.params + mtp_layer().total_params());
}

int64_t ModelCosts::mtp_active_params() const {
  return num_mtp_modules * (mtp.params + mtp_layer().active_params());
}

double ModelCosts::mtp_fwd_flops() const {
  return double(num_mtp_modules) * (mtp_layer().fwd_flops() + mtp.fwd_flops);
}

double ModelCosts::model_flops_per_token() const {
  return 3.0 * (sum_layers(0, num_layers, [](const LayerCosts& l) { return l.fwd_flops(); }) +
                lm_head_flops + mtp_fwd_flops());
}

}  // namespace symphony::plan
