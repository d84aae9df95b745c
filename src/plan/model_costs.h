#pragma once
// What one token costs a model, layer by layer: parameters (total and active), forward FLOPs of
// each operation class, and the activation elements a layer saves for its backward pass. The
// planner divides these by the layout's parallel axes; nothing here knows about GPUs.
//
// Everything is read from the ModelConfig, with the engine's arithmetic: parameter counts equal
// count_params (model/model_config.h) and model FLOPs training_flops_per_token (monitor/flops.h)
// for every ModelConfig, whether its attention is grouped-query or multi-head latent
// (model.kv_lora_rank > 0: the projections q_a, q_b, kv_a, kv_b, o and a core of query/key
// heads qk_nope_head_dim + qk_rope_head_dim wide and value heads v_head_dim wide), and the
// saved activations of multi-head latent attention are MlaActs' (model/mla_block.h).
// Multi-token prediction modules (model.num_nextn_predict_layers, docs/mtp.md) are costed as the
// engine runs them: each is one more decoder layer (index num_hidden_layers + k - 1, MoE when the
// model has experts) with its own input projection and norms (model/mtp_block.h), and reads the
// shared embedding and LM head again; its FLOPs count as model FLOPs (monitor/flops.h), its
// parameters apart from total and active (ParamCounts::mtp, mtp_active).
// tests/plan/model_costs_test.cc checks this.

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "model/model_config.h"

namespace symphony::plan {

// One transformer layer's costs per token, unsplit.
struct LayerCosts {
  // Parameters.
  int64_t attn_params = 0;           // projections (+ QK-norm / MLA latent norms)
  int64_t norm_params = 0;           // the two RMSNorms (one with parallel attention and MLP)
  // m = mlp_matrices(): 3 for gated feed-forwards (SwiGLU, GeGLU), 2 for GELU, ReLU, ReLU^2.
  int64_t dense_ffn_params = 0;      // dense feed-forward m * D * F, 0 in a MoE layer
  int64_t router_params = 0;         // E * D
  int64_t shared_expert_params = 0;  // n_shared * m * D * moe_intermediate_size
  int64_t routed_expert_params = 0;  // E * m * D * moe_intermediate_size (all experts)
  int64_t active_routed_params = 0;  // K * m * D * moe_intermediate_size
  // Parts of the above that tensor parallelism does not split evenly (model/attention_block.h,
  // model/mla_block.h, model/moe/moe_block.h): the attention's replicated weights (in
  // attn_params: the QK-norm weights, or MLA's down-projections q_a and kv_a and their norms),
  // held whole on every tp rank like the norms, router and shared experts; and the k and v
  // projections of grouped-query attention (in attn_params), split by at most the KV heads (each
  // head replicated when tp exceeds them).
  int64_t attn_replicated_params = 0;
  int64_t kv_proj_params = 0;
  static int64_t kv_proj_params_of(const ModelConfig& c) {
    return c.mla() ? 0 : 2 * c.hidden_size * c.kv_dim();
  }
  int64_t tp_replicated_params() const {
    return norm_params + attn_replicated_params + router_params + shared_expert_params;
  }
  // Forward FLOPs per token.
  double attn_proj_flops = 0;  // 2 * attention matmul parameters
  double kv_proj_flops = 0;    //   of which the k and v projections (grouped-query attention)
  double attn_core_flops = 0;  // QK^T and PV over the attended keys (causal, or the window),
                               // mean over the sequence and the layers of this kind
  double ffn_flops = 0;        // dense SwiGLU, or router + K routed + shared experts
  // Saved activation elements per token (before any tensor/sequence split).
  double act_attn = 0;              // residual in, norm out, (MLA latents,) q, k, v,
                                    // attention out, lse
  double act_ffn = 0;               // residual, norm out, SwiGLU gate/up/act (+ expert copies)
  double act_selective_saving = 0;  // what recomputing norms and activation functions drops
  double backward_scratch = 0;      // transient gradient buffers of one layer's backward
  double act_routed = 0;            // the part of act_ffn that scales with routed tokens
  // Elementwise traffic per token, forward, in elements read + written (norms, residual adds,
  // RoPE, SwiGLU, router softmax, permutation): the memory-bound part of a layer.
  double elementwise_elems = 0;
  bool moe = false;

  int64_t total_params() const {
    return attn_params + norm_params + dense_ffn_params + router_params + shared_expert_params +
           routed_expert_params;
  }
  int64_t active_params() const {
    return total_params() - routed_expert_params + active_routed_params;
  }
  // Parameters that tensor parallelism splits and data parallelism replicates (all but the
  // routed experts, which expert parallelism splits).
  int64_t dense_params() const { return total_params() - routed_expert_params; }
  double fwd_flops() const { return attn_proj_flops + attn_core_flops + ffn_flops; }
};

// One multi-token prediction module besides its decoder layer (model/mtp_block.h), per token.
struct MtpCosts {
  // enorm, hnorm, shared_head.norm (3 D) and eh_proj (D x 2D): whole on every tp rank.
  int64_t params = 0;
  double fwd_flops = 0;  // eh_proj 2 * 2D * D, plus the shared LM head again 2 * V * D
  // Saved per token beyond its layer's (whose input, the eh_proj output, the layer counts as its
  // residual input): MtpActs' embedding lookup, concatenated normed inputs (2D), layer output and
  // head-norm output, and three inverse RMS.
  double act = 0;
  double backward_scratch = 0;   // MtpScratch (4D) and the modules' residual gradient (D), once
  double elementwise_elems = 0;  // embedding lookup, the three norms
};

struct ModelCosts {
  ModelConfig config;
  int64_t seq_len = 0;
  int64_t num_layers = 0;
  int64_t num_dense_layers = 0;  // layers [0, num_dense_layers) use `dense`
  LayerCosts dense;              // a dense-FFN layer
  LayerCosts moe;                // a MoE layer (unused when the model has no experts)
  int64_t embedding_params = 0;  // V * D
  int64_t lm_head_params = 0;    // V * D when untied, else 0 (shares the embedding)
  int64_t final_norm_params = 0;
  double lm_head_flops = 0;       // forward, per token: 2 * V * D
  double kv_elems_per_token = 0;  // K and V of one token and layer (MLA: the up-projected
                                  // ones): what context parallelism passes around its ring
  // Multi-token prediction: D modules, all on the last pipeline stage after the LM head (with a
  // copy of the embedding there when the first stage is another), each `mtp` plus mtp_layer().
  int64_t num_mtp_modules = 0;
  MtpCosts mtp;
  // The engine's layer split balanced by cost, by (pp, vpp), as plan/layout.h's
  // virtual_stage_ranges computes it (a dynamic programme the search would otherwise rerun for
  // every layout). Copies share it: they hold the same config and seq_len, which it depends on.
  // Not thread-safe.
  using SplitCache = std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>>;
  std::shared_ptr<SplitCache> split_cache = std::make_shared<SplitCache>();

  const LayerCosts& layer(int64_t index) const { return index < num_dense_layers ? dense : moe; }
  // The decoder layer of each MTP module: of the kind of layer num_hidden_layers.
  const LayerCosts& mtp_layer() const { return layer(num_layers); }
  // The main model's parameters, as count_params' total and active.
  int64_t total_params() const;
  int64_t active_params() const;
  // The MTP modules' parameters, as count_params' mtp and mtp_active.
  int64_t mtp_params() const;
  int64_t mtp_active_params() const;
  // Forward FLOPs per token of all MTP modules: their layers, eh_proj and the LM head again.
  double mtp_fwd_flops() const;
  // Model FLOPs of one training token (forward + backward = 3x forward), PaLM's MFU numerator:
  // the main model's and the MTP modules' (which training runs on every token), as
  // training_flops_per_token (monitor/flops.h).
  double model_flops_per_token() const;
  // Layers [first, last): sum of one layer quantity.
  template <typename F>
  double sum_layers(int64_t first, int64_t last, F f) const {
    const int64_t dense_n = std::max<int64_t>(0, std::min(last, num_dense_layers) - first);
    return double(dense_n) * f(dense) + double(last - first - dense_n) * f(moe);
  }
};

// REQUIRES: config.validate() is ok; seq_len >= 1.
ModelCosts model_costs(const ModelConfig& config, int64_t seq_len);

}  // namespace symphony::plan
