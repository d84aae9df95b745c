#include "model/model_config.h"

#include <cmath>

#include "core/check.h"
#include "core/checked_math.h"

namespace symphony {

namespace {

Status require_positive(const char* key, int64_t value) {
  if (value <= 0) return Error::invalid("model.{} = {} must be positive", key, value);
  return Status::ok();
}

Status require_at_most(const char* key, int64_t value, int64_t max) {
  if (value > max) return Error::invalid("model.{} = {} must be at most {}", key, value, max);
  return Status::ok();
}

Status require_positive(const char* key, double value) {
  // Written as !(value > 0) so that NaN is rejected too.
  if (!(value > 0.0) || !std::isfinite(value)) {
    return Error::invalid("model.{} = {} must be a positive finite number", key, value);
  }
  return Status::ok();
}

Status require_non_negative(const char* key, double value) {
  if (!(value >= 0.0) || !std::isfinite(value)) {
    return Error::invalid("model.{} = {} must be a finite number >= 0", key, value);
  }
  return Status::ok();
}

// The router keys, part of ModelConfig::validate().
Status validate_router(const ModelConfig& c) {
  SYM_TRY(require_positive("routed_scaling_factor", c.routed_scaling_factor));
  SYM_TRY(require_positive("n_group", c.n_group));
  SYM_TRY(require_at_most("n_group", c.n_group, kMaxExperts));
  if (c.topk_group < 1 || c.topk_group > c.n_group) {
    return Error::invalid("model.topk_group = {} must be in [1, model.n_group = {}]", c.topk_group,
                          c.n_group);
  }
  if (c.num_experts == 0) return Status::ok();
  if (c.num_experts % c.n_group != 0) {
    return Error::invalid("model.n_group = {} does not divide model.num_experts = {}", c.n_group,
                          c.num_experts);
  }
  const int64_t reachable = c.topk_group * (c.num_experts / c.n_group);
  if (c.num_experts_per_tok > reachable) {
    return Error::invalid(
        "model.num_experts_per_tok = {} must be at most model.topk_group * model.num_experts / "
        "model.n_group = {} * {} / {} = {}",
        c.num_experts_per_tok, c.topk_group, c.num_experts, c.n_group, reachable);
  }
  return Status::ok();
}

// The multi-head latent attention fields: off (kv_lora_rank = 0, no q_lora_rank), or every head
// width set.
Status validate_mla(const ModelConfig& c) {
  const int64_t q_lora_rank = c.q_lora_rank, kv_lora_rank = c.kv_lora_rank;
  if (q_lora_rank < 0)
    return Error::invalid("model.q_lora_rank = {} must be >= 0 (0: no query compression)",
                          q_lora_rank);
  if (kv_lora_rank < 0)
    return Error::invalid("model.kv_lora_rank = {} must be >= 0 (0: standard attention)",
                          kv_lora_rank);
  SYM_TRY(require_at_most("q_lora_rank", q_lora_rank, kMaxHiddenSize));
  SYM_TRY(require_at_most("kv_lora_rank", kv_lora_rank, kMaxHiddenSize));
  if (!c.mla()) {
    if (q_lora_rank > 0)
      return Error::invalid("model.q_lora_rank = {} compresses the queries of multi-head latent "
                            "attention, which model.kv_lora_rank = 0 leaves off",
                            q_lora_rank);
    return Status::ok();
  }
  const struct {
    const char* key;
    int64_t value;
  } dims[] = {{"qk_rope_head_dim", c.qk_rope_head_dim},
              {"qk_nope_head_dim", c.qk_nope_head_dim},
              {"v_head_dim", c.v_head_dim}};
  for (const auto& [key, value] : dims) {
    if (value <= 0)
      return Error::invalid("model.{} = {} must be positive: model.kv_lora_rank = {} turns on "
                            "multi-head latent attention, whose heads it sizes",
                            key, value, kv_lora_rank);
    SYM_TRY(require_at_most(key, value, kMaxHeadDim));
  }
  // RoPE rotates pairs of dimensions.
  if (c.qk_rope_head_dim % 2 != 0)
    return Error::invalid("model.qk_rope_head_dim = {} must be even", c.qk_rope_head_dim);
  if (c.qk_norm)
    return Error::invalid("model.qk_norm = true with model.kv_lora_rank = {}: multi-head latent "
                          "attention normalises its latents, not its heads; set "
                          "model.qk_norm = false",
                          kv_lora_rank);
  return Status::ok();
}

}  // namespace

Status ModelConfig::validate() const {
  SYM_TRY(require_positive("vocab_size", vocab_size));
  SYM_TRY(require_positive("hidden_size", hidden_size));
  SYM_TRY(require_positive("num_hidden_layers", num_hidden_layers));
  SYM_TRY(require_positive("num_attention_heads", num_attention_heads));
  SYM_TRY(require_positive("num_key_value_heads", num_key_value_heads));
  SYM_TRY(require_positive("head_dim", head_dim));
  SYM_TRY(require_positive("max_position_embeddings", max_position_embeddings));
  SYM_TRY(require_positive("rope_theta", rope_theta));
  SYM_TRY(require_positive("rms_norm_eps", rms_norm_eps));
  SYM_TRY(require_positive("initializer_range", initializer_range));

  // Each size alone first, so that an absurd value is named before any product of it is formed.
  SYM_TRY(require_at_most("vocab_size", vocab_size, kMaxVocabSize));
  SYM_TRY(require_at_most("hidden_size", hidden_size, kMaxHiddenSize));
  SYM_TRY(require_at_most("num_hidden_layers", num_hidden_layers, kMaxHiddenLayers));
  SYM_TRY(require_at_most("num_attention_heads", num_attention_heads, kMaxAttentionHeads));
  SYM_TRY(require_at_most("num_key_value_heads", num_key_value_heads, kMaxAttentionHeads));
  SYM_TRY(require_at_most("head_dim", head_dim, kMaxHeadDim));
  SYM_TRY(require_at_most("max_position_embeddings", max_position_embeddings,
                          kMaxPositionEmbeddings));
  SYM_TRY(require_at_most("intermediate_size", intermediate_size, kMaxIntermediateSize));
  SYM_TRY(require_at_most("moe_intermediate_size", moe_intermediate_size, kMaxIntermediateSize));
  SYM_TRY(require_at_most("num_experts", num_experts, kMaxExperts));
  SYM_TRY(require_at_most("num_experts_per_tok", num_experts_per_tok, kMaxExperts));
  SYM_TRY(require_at_most("n_shared_experts", n_shared_experts, kMaxExperts));
  if (num_nextn_predict_layers < 0)
    return Error::invalid("model.num_nextn_predict_layers = {} must be >= 0 (0: no multi-token "
                          "prediction)", num_nextn_predict_layers);
  if (num_nextn_predict_layers > kMaxHiddenLayers - num_hidden_layers)
    return Error::invalid("model.num_nextn_predict_layers = {}: with model.num_hidden_layers = {} "
                          "the decoder layers must be at most {}", num_nextn_predict_layers,
                          num_hidden_layers, kMaxHiddenLayers);
  SYM_TRY(require_non_negative("mtp_loss_weight", mtp_loss_weight));

  if (sliding_window < 0)
    return Error::invalid("model.sliding_window = {} must be >= 0 (0: no window)", sliding_window);
  if (sliding_window_pattern < 0)
    return Error::invalid("model.sliding_window_pattern = {} must be >= 0 (0: every layer slides)",
                          sliding_window_pattern);

  SYM_TRY(validate_mla(*this));
  if (!mla() && num_attention_heads % num_key_value_heads != 0) {
    return Error::invalid(
        "model.num_attention_heads = {} is not a multiple of model.num_key_value_heads = {}",
        num_attention_heads, num_key_value_heads);
  }
  // RoPE rotates pairs of dimensions.
  if (!mla() && head_dim % 2 != 0)
    return Error::invalid("model.head_dim = {} must be even", head_dim);
  if (mla() && partial_rotary_factor != 1.0) {
    return Error::invalid(
        "model.partial_rotary_factor = {} with model.kv_lora_rank = {}: multi-head latent "
        "attention sizes its rotary part with model.qk_rope_head_dim; set "
        "model.partial_rotary_factor = 1",
        partial_rotary_factor, kv_lora_rank);
  }
  if (!mla() && (!(partial_rotary_factor > 0.0 && partial_rotary_factor <= 1.0) ||
                 rotary_dim() <= 0 || rotary_dim() % 2 != 0)) {
    return Error::invalid(
        "model.partial_rotary_factor = {} must be in (0, 1] and rotate an even, positive number "
        "of dims: round(factor * model.head_dim = {})",
        partial_rotary_factor, head_dim);
  }

  if (first_k_dense_replace < 0 || first_k_dense_replace > num_hidden_layers) {
    return Error::invalid(
        "model.first_k_dense_replace = {} must be in [0, model.num_hidden_layers = {}]",
        first_k_dense_replace, num_hidden_layers);
  }
  if (num_experts < 0) return Error::invalid("model.num_experts = {} must be >= 0", num_experts);

  // intermediate_size matters only when some layer is dense.
  const bool has_dense_layer = num_experts == 0 || first_k_dense_replace > 0;
  if (has_dense_layer) SYM_TRY(require_positive("intermediate_size", intermediate_size));

  if (num_experts > 0) {
    if (num_experts_per_tok < 1 || num_experts_per_tok > num_experts) {
      return Error::invalid("model.num_experts_per_tok = {} must be in [1, model.num_experts = {}]",
                            num_experts_per_tok, num_experts);
    }
    SYM_TRY(require_positive("moe_intermediate_size", moe_intermediate_size));
    if (n_shared_experts < 0) {
      return Error::invalid("model.n_shared_experts = {} must be >= 0", n_shared_experts);
    }
  }
  SYM_TRY(validate_router(*this));

  SYM_TRY(require_non_negative("router_aux_loss_coef", router_aux_loss_coef));
  SYM_TRY(require_non_negative("router_z_loss_coef", router_z_loss_coef));
  SYM_TRY(require_non_negative("router_seq_aux_loss_coef", router_seq_aux_loss_coef));
  SYM_TRY(require_non_negative("bias_update_rate", bias_update_rate));
  SYM_TRY(require_non_negative("capacity_factor", capacity_factor));
  // Below 1/K the experts together hold fewer slots than there are tokens, so some token would
  // always be dropped entirely.
  if (num_experts > 0 && capacity_factor != 0.0 &&
      capacity_factor * static_cast<double>(num_experts_per_tok) < 1.0) {
    return Error::invalid(
        "model.capacity_factor = {} must be 0 (dropless) or >= 1 / model.num_experts_per_tok = {}",
        capacity_factor, 1.0 / static_cast<double>(num_experts_per_tok));
  }

  // The sizes together: every byte and FLOP count downstream is a multiple of the parameter count
  // or of a per-token width no larger than it.
  const std::optional<ParamCounts> counts = count_params_checked(*this);
  if (!counts || counts->total > kMaxModelParams - counts->mtp) {
    const std::string total =
        counts ? fmt::format("{} parameters", counts->total) : "more than 2^63 parameters";
    return Error::invalid(
        "model: {} (model.vocab_size = {}, model.hidden_size = {}, model.num_hidden_layers = {}, "
        "model.num_attention_heads = {} x model.head_dim = {}, model.intermediate_size = {}, "
        "model.num_experts = {} x model.moe_intermediate_size = {}) exceed the limit of 2^56",
        total, vocab_size, hidden_size, num_hidden_layers, num_attention_heads, head_dim,
        intermediate_size, num_experts, moe_intermediate_size);
  }
  return Status::ok();
}

std::optional<ParamCounts> count_params_checked(const ModelConfig& config) {
  const CheckedInt d = config.hidden_size, v = config.vocab_size;
  const CheckedInt q_dim = CheckedInt(config.num_attention_heads) * config.head_dim;
  const CheckedInt kv_dim = CheckedInt(config.num_key_value_heads) * config.head_dim;
  const CheckedInt mlp_per_width = d * config.mlp_matrices();  // (gate,) up (d x f), down (f x d)

  const CheckedInt embedding = v * d;
  CheckedInt attention = d * q_dim         // q
                         + d * kv_dim * 2  // k, v
                         + q_dim * d;      // o
  if (config.qk_norm) attention += CheckedInt(config.head_dim) * 2;
  if (config.mla()) {
    const CheckedInt heads = config.num_attention_heads;
    const CheckedInt q_lora = config.q_lora_rank, kv_lora = config.kv_lora_rank;
    const CheckedInt q_width = heads * (CheckedInt(config.qk_nope_head_dim) +
                                        config.qk_rope_head_dim);
    const CheckedInt q = config.q_lora_rank > 0 ? d * q_lora + q_lora + q_lora * q_width
                                                : d * q_width;      // q_a, its norm, q_b; or q
    attention = q + d * (kv_lora + config.qk_rope_head_dim)         // kv_a
                + kv_lora                                           // its norm
                + kv_lora * heads * (CheckedInt(config.qk_nope_head_dim) + config.v_head_dim)
                + heads * config.v_head_dim * d;                    // kv_b, o
  }
  const CheckedInt lm_head = config.tie_word_embeddings ? CheckedInt(0) : v * d;
  const CheckedInt outside = embedding + lm_head + d;  // + final norm

  // Layers [0, first_k_dense_replace) are dense, the rest MoE, or all dense without experts: the
  // layer kinds are counted in closed form, so the cost does not grow with the layer count.
  const int64_t moe_layers =
      config.num_experts > 0 ? config.num_hidden_layers - config.first_k_dense_replace : 0;
  const int64_t dense_layers = config.num_hidden_layers - moe_layers;
  const CheckedInt layer_common = d * config.norms_per_layer() + attention;  // norms, attention
  const CheckedInt dense_layer = layer_common + mlp_per_width * config.intermediate_size;
  const CheckedInt expert = mlp_per_width * config.moe_intermediate_size;
  const CheckedInt moe_common = layer_common + CheckedInt(config.num_experts) * d  // router
                                + CheckedInt(config.n_shared_experts) * expert;
  const CheckedInt moe_total = moe_common + CheckedInt(config.num_experts) * expert;
  const CheckedInt moe_active = moe_common + CheckedInt(config.num_experts_per_tok) * expert;

  const CheckedInt dense_part = dense_layer * dense_layers;
  const CheckedInt total = outside + dense_part + moe_total * moe_layers;
  const CheckedInt active = outside + dense_part + moe_active * moe_layers;
  // MTP modules: their layers follow the last decoder layer, so they are MoE exactly when the
  // model has experts (first_k_dense_replace <= num_hidden_layers).
  const CheckedInt mtp_common = d * 3 + d * d * 2;  // enorm, hnorm, shared_head.norm; eh_proj
  const bool mtp_moe = config.num_experts > 0;
  const CheckedInt mtp = (mtp_common + (mtp_moe ? moe_total : dense_layer)) *
                         config.num_nextn_predict_layers;
  const CheckedInt mtp_active = (mtp_common + (mtp_moe ? moe_active : dense_layer)) *
                                config.num_nextn_predict_layers;
  if (total.overflowed() || active.overflowed() || attention.overflowed() || mtp.overflowed() ||
      mtp_active.overflowed())
    return std::nullopt;
  ParamCounts counts;
  counts.total = *total.value();
  counts.active = *active.value();
  counts.mtp = *mtp.value();
  counts.mtp_active = *mtp_active.value();
  counts.embedding = *embedding.value();
  counts.per_layer_attention = *attention.value();
  return counts;
}

ParamCounts count_params(const ModelConfig& config) {
  const std::optional<ParamCounts> counts = count_params_checked(config);
  SYM_CHECK(counts.has_value(), "count_params of a config that fails validate()");
  return *counts;
}

}  // namespace symphony
