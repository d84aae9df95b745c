#pragma once
// Architecture of a decoder-only MoE transformer. Field names follow Hugging Face configs
// (Qwen3-MoE / DeepSeek-V3 / Mixtral). Loaded from the [model] section of a run config.

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "kernels/router_scoring.h"

namespace symphony {

enum class BalanceMode : uint8_t {
  kNone,
  kAuxLoss,     // Switch/GShard auxiliary loss (router_aux_loss_coef)
  kBiasUpdate,  // DeepSeek-V3 auxiliary-loss-free: per-expert selection bias, sign updates
};

// Feed-forward of every dense layer, shared and routed expert. Gated kinds multiply an activated
// gate projection by an up projection (gate, up and down matrices); the others activate the up
// projection (up and down). The engine trains SwiGLU; `symphony plan` costs every kind.
enum class MlpKind : uint8_t {
  kSwiGlu,       // silu(x W_g) * (x W_u), then W_d (Llama, Qwen, DeepSeek, Mixtral)
  kGeGlu,        // gelu(x W_g) * (x W_u), then W_d (Gemma, Grok-1)
  kGelu,         // gelu(x W_u), then W_d (GPT-2/3, BLOOM, MT-NLG, Falcon)
  kRelu,         // relu(x W_u), then W_d (OPT)
  kSquaredRelu,  // relu(x W_u)^2, then W_d (Nemotron-4, Primer)
};
inline bool mlp_gated(MlpKind k) { return k == MlpKind::kSwiGlu || k == MlpKind::kGeGlu; }
// The TOML spelling: "swiglu", "geglu", "gelu", "relu", "relu2".
inline std::string_view mlp_kind_name(MlpKind k) {
  switch (k) {
    case MlpKind::kSwiGlu: return "swiglu";
    case MlpKind::kGeGlu: return "geglu";
    case MlpKind::kGelu: return "gelu";
    case MlpKind::kRelu: return "relu";
    case MlpKind::kSquaredRelu: return "relu2";
  }
  return "?";
}

struct ModelConfig {
  int64_t vocab_size = 8192;
  int64_t hidden_size = 512;
  int64_t num_hidden_layers = 8;
  int64_t num_attention_heads = 8;
  int64_t num_key_value_heads = 8;   // grouped-query attention: heads share K/V in groups
  int64_t head_dim = 64;
  int64_t max_position_embeddings = 4096;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool qk_norm = false;              // Qwen3-style RMSNorm on each query and key head
  double partial_rotary_factor = 1.0;  // RoPE on the first rotary_dim() dims of each query and
                                       // key head, the rest pass through (Ling 2.0: 0.5)

  // Multi-head latent attention (DeepSeek-V2/V3, model/mla_block.h), on when kv_lora_rank > 0;
  // it then replaces head_dim, num_key_value_heads and qk_norm, which it does not read.
  int64_t q_lora_rank = 0;       // width of the compressed query latent; 0: no query compression
  int64_t kv_lora_rank = 0;      // width of the compressed KV latent c; 0: standard attention
  int64_t qk_rope_head_dim = 0;  // rotary part of each query and key head (one key part shared)
  int64_t qk_nope_head_dim = 0;  // position-free part of each query and key head
  int64_t v_head_dim = 0;        // width of each value head
  bool tie_word_embeddings = true;   // LM head shares the embedding matrix
  double initializer_range = 0.02;   // std of the normal init of every matrix (see model/init.h)

  // Block variants `symphony plan` costs and the engine does not train yet (Transformer::create
  // refuses them): the feed-forward kind; parallel attention and MLP, which read the same normed
  // input and add both outputs to the residual (GPT-J, PaLM: one norm per layer instead of two);
  // sliding-window attention, where a query attends to at most sliding_window keys (itself
  // included) on the sliding layers: every layer when sliding_window_pattern is 0, else all but
  // every sliding_window_pattern-th (layers N-1, 2N-1, ... attend to the whole causal context:
  // Gemma 2 and GPT-OSS alternate with N = 2, Gemma 3 uses N = 6).
  MlpKind mlp_kind = MlpKind::kSwiGlu;  // TOML: "swiglu", "geglu", "gelu", "relu", "relu2"
  bool parallel_attn = false;
  int64_t sliding_window = 0;           // 0: every layer attends to its whole causal context
  int64_t sliding_window_pattern = 0;

  // Feed-forward. Layers [0, first_k_dense_replace) are dense (mlp_kind) of intermediate_size;
  // later layers are MoE when num_experts > 0, dense otherwise.
  int64_t intermediate_size = 1536;
  int64_t first_k_dense_replace = 0;
  int64_t num_experts = 0;           // routed experts; 0 = a dense model
  int64_t num_experts_per_tok = 2;   // top-k
  int64_t moe_intermediate_size = 768;
  int64_t n_shared_experts = 0;      // always-on experts of moe_intermediate_size each
  bool norm_topk_prob = true;        // renormalise the top-k weights to sum to 1
  // Router (kernels/router_topk.h): scores softmax(logits) or sigmoid(logits) ("softmax",
  // "sigmoid" in TOML; DeepSeek-V3 uses sigmoid); the routed experts' weights are multiplied by
  // routed_scaling_factor. Group-limited routing: the experts form n_group equal groups and a
  // token may use only the experts of its topk_group best groups (1 / 1: off).
  RouterScoring scoring_func = RouterScoring::kSoftmax;
  double routed_scaling_factor = 1.0;
  int64_t n_group = 1;
  int64_t topk_group = 1;

  // Load balancing; each term is switchable.
  double router_aux_loss_coef = 0.01;  // Switch/GShard aux loss; 0 disables
  double router_z_loss_coef = 0.0;     // mean(logsumexp(logits)^2); 0 disables
  double router_seq_aux_loss_coef = 0.0;  // DeepSeek-V3's sequence-wise balance loss (alpha,
                                          // model/moe/load_balance.h); 0 disables
  double bias_update_rate = 0.0;       // aux-loss-free balancing step size; 0 disables
  double capacity_factor = 0.0;        // 0 = dropless; else capacity = ceil(cf * N * K / E)

  // Multi-token prediction (DeepSeek-V3, section 2.2; docs/mtp.md). D sequential modules after
  // the last decoder layer: module k (1..D) combines the previous depth's hidden state with the
  // embedding of the token k ahead, runs one decoder layer (numbered num_hidden_layers + k - 1,
  // of the kind is_moe_layer gives it) and predicts the token k + 1 ahead through the shared LM
  // head. Training only: evaluation and generation never run it.
  int64_t num_nextn_predict_layers = 0;  // D; 0 = off
  // lambda: the training objective is loss + lambda * mean over depths of the MTP losses
  // (DeepSeek-V3 used 0.3 for its first 10T tokens, then 0.1).
  double mtp_loss_weight = 0.3;

  // Helpers derived from the fields above.
  bool is_moe_layer(int64_t layer) const {
    return num_experts > 0 && layer >= first_k_dense_replace;
  }
  bool mla() const { return kv_lora_rank > 0; }
  // Weight matrices of one feed-forward of width f: 3 (gate, up, down) when gated, else 2, each
  // D x f.
  int64_t mlp_matrices() const { return mlp_gated(mlp_kind) ? 3 : 2; }
  // RMSNorms (or LayerNorms) of one layer: one shared by parallel attention and MLP, else two.
  int64_t norms_per_layer() const { return parallel_attn ? 1 : 2; }
  bool is_sliding_layer(int64_t layer) const {
    return sliding_window > 0 &&
           (sliding_window_pattern == 0 || (layer + 1) % sliding_window_pattern != 0);
  }
  // Keys a query of a `seq_len`-token causal sequence attends to on average in layer `layer`:
  // (T + 1) / 2 with full attention; min(i + 1, w) averaged over positions i with a window w.
  double attended_keys_mean(int64_t layer, int64_t seq_len) const {
    const double t = double(seq_len);
    if (!is_sliding_layer(layer) || sliding_window >= seq_len) return (t + 1.0) / 2.0;
    const double w = double(sliding_window);
    return (w * (w + 1.0) / 2.0 + (t - w) * w) / t;
  }
  // Decoder layers including the MTP modules' ([num_hidden_layers, +D), Hugging Face's numbering).
  int64_t num_layers_with_mtp() const { return num_hidden_layers + num_nextn_predict_layers; }
  bool is_mtp_layer(int64_t layer) const { return layer >= num_hidden_layers; }
  // Width of one query (and key) head: head_dim, or qk_nope_head_dim + qk_rope_head_dim with MLA.
  int64_t qk_head_dim() const { return mla() ? qk_nope_head_dim + qk_rope_head_dim : head_dim; }
  // Width of one value (and attention output) head.
  int64_t value_head_dim() const { return mla() ? v_head_dim : head_dim; }
  int64_t q_dim() const { return num_attention_heads * qk_head_dim(); }
  // Key (or value) columns of standard attention; multi-head latent attention has no such K/V.
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  // Dims of each query/key head that RoPE rotates: round(partial_rotary_factor * head_dim).
  int64_t rotary_dim() const {
    return static_cast<int64_t>(std::llround(partial_rotary_factor * double(head_dim)));
  }
  // Columns the attention core multiplies per token and head pair of products: q·k over the
  // query width and P·v over the value width, summed over heads. Its training FLOPs per token
  // are 3 * attention_core_dims() * (context + 1) (causal: half the positions on average).
  int64_t attention_core_dims() const {
    return num_attention_heads * (qk_head_dim() + value_head_dim());
  }
  // Matmul parameters of one layer's attention: q, k, v, o; with MLA q_a, q_b (or q), kv_a,
  // kv_b, o.
  int64_t attention_matmul_params() const {
    const int64_t d = hidden_size;
    if (!mla()) return d * q_dim() * 2 + d * kv_dim() * 2;
    const int64_t q = q_lora_rank > 0 ? d * q_lora_rank + q_lora_rank * q_dim() : d * q_dim();
    return q + d * (kv_lora_rank + qk_rope_head_dim) +
           kv_lora_rank * num_attention_heads * (qk_nope_head_dim + v_head_dim) +
           num_attention_heads * v_head_dim * d;
  }
  // Matmul parameters one token passes through in decoder layer `layer`: the attention's, and
  // the dense feed-forward or the router with K routed and every shared expert.
  int64_t layer_matmul_params(int64_t layer) const {
    const int64_t d = hidden_size;
    const int64_t attention = attention_matmul_params();
    if (is_moe_layer(layer))
      return attention + num_experts * d +
             (num_experts_per_tok + n_shared_experts) * mlp_matrices() * d *
                 moe_intermediate_size;
    return attention + mlp_matrices() * d * intermediate_size;
  }

  // Checks every constraint between fields and the upper bounds below; the message names the
  // offending key as "model.<key>".
  Status validate() const;
};

// Upper bounds validate() enforces. Each is far beyond any model trained today; together with
// kMaxModelParams they keep every element count, byte count and FLOP count derived from a valid
// config computable in int64, so code after validation can multiply sizes without overflow.
inline constexpr int64_t kMaxVocabSize = (int64_t(1) << 31) - 1;  // token ids are int32
inline constexpr int64_t kMaxHiddenSize = int64_t(1) << 20;
inline constexpr int64_t kMaxHiddenLayers = int64_t(1) << 16;
inline constexpr int64_t kMaxAttentionHeads = int64_t(1) << 16;
inline constexpr int64_t kMaxHeadDim = int64_t(1) << 16;
inline constexpr int64_t kMaxPositionEmbeddings = int64_t(1) << 30;
inline constexpr int64_t kMaxIntermediateSize = int64_t(1) << 24;  // also moe_intermediate_size
inline constexpr int64_t kMaxExperts = int64_t(1) << 20;           // also n_shared_experts
// Total parameters, alignment padding included: 16 bytes of f32 training state (weights,
// gradients, two moments) per parameter stay below 2^63.
inline constexpr int64_t kMaxModelParams = int64_t(1) << 56;

// Parameter counts. `active` counts what one token touches: top-k routed plus shared experts.
// total = V*D embedding + V*D LM head (untied only) + D final norm + for each layer:
//   norms_per_layer()*D + per_layer_attention + a feed-forward block of (m = mlp_matrices(),
//   3 for SwiGLU's gate, up and down)
//     dense layer: m*D*intermediate_size
//     MoE layer:   E*D router + (E + n_shared_experts) * m*D*moe_intermediate_size
// active is the same with num_experts_per_tok in place of E in the expert term (the router counts
// in full: every token evaluates it). See docs/presets.md for the presets' counts.
// The MTP modules count apart, in neither total nor active (as DeepSeek-V3's 671B leaves out its
// 14B MTP module): each is 3*D (enorm, hnorm, shared_head.norm) + 2*D*D (eh_proj) + its layer.
struct ParamCounts {
  int64_t total = 0;
  int64_t active = 0;
  int64_t mtp = 0;         // all MTP modules
  int64_t mtp_active = 0;  // what one token touches in them
  int64_t embedding = 0;   // input embedding (and the LM head when untied is counted in total)
  int64_t per_layer_attention = 0;  // q (D x H*Dh), k, v (D x Hkv*Dh), o (H*Dh x D), + 2*Dh
                                    // with qk_norm; with MLA (Dq = nope + rope per head):
                                    // q_a (D x q_lora) + its norm + q_b (q_lora x H*Dq), or
                                    // q (D x H*Dq) without q_lora, + kv_a (D x (kv_lora +
                                    // rope)) + its norm (kv_lora) + kv_b (kv_lora x H*(nope +
                                    // v)) + o (H*v x D)
};
// REQUIRES: config.validate() is ok (counts of an invalid config are meaningless, not an error).
ParamCounts count_params(const ModelConfig& config);
// As count_params, for any config whose fields are non-negative: std::nullopt when a count
// overflows int64. validate() uses it to bound the model's size.
std::optional<ParamCounts> count_params_checked(const ModelConfig& config);

}  // namespace symphony
