#include "model/model_config.h"

#include <cmath>

namespace symphony {

namespace {

Status require_positive(const char* key, int64_t value) {
  if (value <= 0) return Error::invalid("model.{} = {} must be positive", key, value);
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

  if (num_attention_heads % num_key_value_heads != 0) {
    return Error::invalid(
        "model.num_attention_heads = {} is not a multiple of model.num_key_value_heads = {}",
        num_attention_heads, num_key_value_heads);
  }
  // RoPE rotates pairs of dimensions.
  if (head_dim % 2 != 0) return Error::invalid("model.head_dim = {} must be even", head_dim);

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

  SYM_TRY(require_non_negative("router_aux_loss_coef", router_aux_loss_coef));
  SYM_TRY(require_non_negative("router_z_loss_coef", router_z_loss_coef));
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
  return Status::ok();
}

ParamCounts count_params(const ModelConfig& config) {
  const int64_t d = config.hidden_size;
  const int64_t swiglu_per_width = 3 * d;  // gate, up (d x f) and down (f x d)

  ParamCounts counts;
  counts.embedding = config.vocab_size * d;
  counts.per_layer_attention = d * config.q_dim()         // q
                               + 2 * d * config.kv_dim()  // k, v
                               + config.q_dim() * d;      // o
  if (config.qk_norm) counts.per_layer_attention += 2 * config.head_dim;

  const int64_t lm_head = config.tie_word_embeddings ? 0 : config.vocab_size * d;
  const int64_t final_norm = d;
  counts.total = counts.embedding + lm_head + final_norm;
  counts.active = counts.total;

  const int64_t expert = swiglu_per_width * config.moe_intermediate_size;
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    int64_t layer_total = 2 * d + counts.per_layer_attention;  // two RMSNorms and attention
    int64_t layer_active = layer_total;
    if (config.is_moe_layer(layer)) {
      const int64_t router = config.num_experts * d;
      const int64_t shared = config.n_shared_experts * expert;
      layer_total += router + config.num_experts * expert + shared;
      layer_active += router + config.num_experts_per_tok * expert + shared;
    } else {
      layer_total += swiglu_per_width * config.intermediate_size;
      layer_active = layer_total;
    }
    counts.total += layer_total;
    counts.active += layer_active;
  }
  return counts;
}

}  // namespace symphony
