#include "checkpoint/hf_config.h"

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

namespace symphony {
namespace {

using Json = nlohmann::ordered_json;

// Reads typed fields of one config.json object; every error names the file and the field.
class FieldReader {
 public:
  FieldReader(const Json& j, std::string_view source) : j_(j), source_(source) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  // Present, null included.
  bool has_key(const char* key) const { return j_.contains(key); }

  Result<int64_t> integer(const char* key, std::optional<int64_t> fallback) const {
    if (!has(key)) return missing<int64_t>(key, fallback);
    const Json& v = j_.at(key);
    if (!v.is_number_integer())
      return Error::invalid("{}: {} = {} is not an integer", source_, key, v.dump());
    return v.get<int64_t>();
  }
  Result<double> number(const char* key, std::optional<double> fallback) const {
    if (!has(key)) return missing<double>(key, fallback);
    const Json& v = j_.at(key);
    if (!v.is_number())
      return Error::invalid("{}: {} = {} is not a number", source_, key, v.dump());
    return v.get<double>();
  }
  Result<bool> boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const Json& v = j_.at(key);
    if (!v.is_boolean())
      return Error::invalid("{}: {} = {} is not true or false", source_, key, v.dump());
    return v.get<bool>();
  }
  Result<std::string> string(const char* key, std::optional<std::string> fallback) const {
    if (!has(key)) return missing<std::string>(key, fallback);
    const Json& v = j_.at(key);
    if (!v.is_string())
      return Error::invalid("{}: {} = {} is not a string", source_, key, v.dump());
    return v.get<std::string>();
  }
  // Refuses a field that is present with a value other than null / `off`.
  Status require_off(const char* key, const Json& off, std::string_view why) const {
    if (!has(key) || j_.at(key) == off) return Status::ok();
    return Error::invalid("{}: {} = {} is not supported: {}", source_, key, j_.at(key).dump(), why);
  }

 private:
  template <typename T>
  Result<T> missing(const char* key, const std::optional<T>& fallback) const {
    if (fallback.has_value()) return *fallback;
    return Error::invalid("{}: missing field {}", source_, key);
  }
  const Json& j_;
  std::string source_;
};

// transformers' defaults for the fields a config.json may omit, by model_type.
struct HfDefaults {
  int64_t max_position_embeddings;
  double rope_theta;
  double rms_norm_eps;
};
HfDefaults hf_defaults(HfArch arch) {
  switch (arch) {
    case HfArch::kQwen3Moe: return {32768, 10000.0, 1e-6};
    case HfArch::kMixtral: return {4096 * 32, 1e6, 1e-5};
    case HfArch::kQwen3: return {32768, 10000.0, 1e-6};
    case HfArch::kLlama: return {2048, 10000.0, 1e-6};
    case HfArch::kDeepseekV3: return {4096, 10000.0, 1e-6};
  }
  return {2048, 10000.0, 1e-6};
}

// rope_theta is top-level in transformers 4.x configs and inside "rope_parameters" in 5.x.
Result<double> read_rope_theta(const Json& j, const FieldReader& f, HfArch arch,
                               const std::string& source) {
  SYM_TRY(
      f.require_off("rope_scaling", Json(nullptr), "Symphony computes plain RoPE without scaling"));
  if (f.has("rope_parameters")) {
    const Json& p = j.at("rope_parameters");
    FieldReader rope(p, source + " rope_parameters");
    if (!p.is_object())
      return Error::invalid("{}: rope_parameters = {} is not an object", source, p.dump());
    SYM_TRY(rope.require_off("rope_type", Json("default"),
                             "Symphony computes plain RoPE without scaling"));
    if (rope.has("rope_theta")) return rope.number("rope_theta", std::nullopt);
  }
  return f.number("rope_theta", hf_defaults(arch).rope_theta);
}

// Layers [0, k) dense, [k, L) sparse, as Symphony builds them; anything else is refused.
Result<int64_t> read_first_dense_layers(const Json& j, const FieldReader& f, int64_t layers,
                                        const std::string& source) {
  // A layer count out of range is named by ModelConfig::validate(); no list is sized by it here.
  if (layers < 1 || layers > kMaxHiddenLayers) return 0;
  SYM_TRY_ASSIGN(const int64_t step, f.integer("decoder_sparse_step", 1));
  if (step < 1) return Error::invalid("{}: decoder_sparse_step = {} must be >= 1", source, step);
  std::set<int64_t> mlp_only;
  if (f.has("mlp_only_layers")) {
    const Json& list = j.at("mlp_only_layers");
    if (!list.is_array())
      return Error::invalid("{}: mlp_only_layers = {} is not a list", source, list.dump());
    for (const Json& l : list) {
      if (!l.is_number_integer())
        return Error::invalid("{}: mlp_only_layers entry {} is not an integer", source, l.dump());
      mlp_only.insert(l.get<int64_t>());
    }
  }
  std::vector<bool> dense(static_cast<size_t>(layers), false);
  for (int64_t l = 0; l < layers; ++l)
    dense[size_t(l)] = mlp_only.count(l) != 0 || (l + 1) % step != 0;
  int64_t k = 0;
  while (k < layers && dense[size_t(k)]) ++k;
  for (int64_t l = k; l < layers; ++l)
    if (dense[size_t(l)])
      return Error::invalid(
          "{}: layer {} is dense (mlp_only_layers = {}, decoder_sparse_step = {}) after sparse "
          "layer {}; Symphony supports dense layers only as the first k layers",
          source, l, f.has("mlp_only_layers") ? j.at("mlp_only_layers").dump() : "[]", step, k);
  return k;
}

// DeepseekV3Config's attention: multi-head latent attention, RoPE in DeepSeek's interleaved
// order (rope_interleave), no YaRN. Absent fields take DeepseekV3Config's defaults.
Status read_deepseek_v3_attention(const FieldReader& f, const std::string& source,
                                  ModelConfig& c) {
  // transformers repeats each key/value head num_attention_heads / num_key_value_heads times,
  // but MLA's keys and values already have a head per query head.
  if (c.num_key_value_heads != c.num_attention_heads)
    return Error::invalid(
        "{}: num_key_value_heads = {} differs from num_attention_heads = {}: multi-head latent "
        "attention has keys and values per head",
        source, c.num_key_value_heads, c.num_attention_heads);
  if (f.has("q_lora_rank")) {
    SYM_TRY_ASSIGN(c.q_lora_rank, f.integer("q_lora_rank", std::nullopt));
    if (c.q_lora_rank <= 0)
      return Error::invalid("{}: q_lora_rank = {} must be positive, or null for no query "
                            "compression", source, c.q_lora_rank);
  } else if (!f.has_key("q_lora_rank")) {
    c.q_lora_rank = 1536;
  } else {
    c.q_lora_rank = 0;  // null: q_proj
  }
  SYM_TRY_ASSIGN(c.kv_lora_rank, f.integer("kv_lora_rank", 512));
  if (c.kv_lora_rank <= 0)
    return Error::invalid("{}: kv_lora_rank = {} must be positive", source, c.kv_lora_rank);
  SYM_TRY_ASSIGN(c.qk_rope_head_dim, f.integer("qk_rope_head_dim", 64));
  SYM_TRY_ASSIGN(c.qk_nope_head_dim, f.integer("qk_nope_head_dim", 128));
  SYM_TRY_ASSIGN(c.v_head_dim, f.integer("v_head_dim", 128));
  // DeepseekV3Config sets head_dim to qk_rope_head_dim, the width its RoPE rotates; a
  // config.json value overrides it, and transformers would rotate that many dims.
  SYM_TRY_ASSIGN(c.head_dim, f.integer("head_dim", c.qk_rope_head_dim));
  if (c.head_dim != c.qk_rope_head_dim)
    return Error::invalid(
        "{}: head_dim = {} differs from qk_rope_head_dim = {}: transformers' deepseek_v3 sizes "
        "its rotary embedding by head_dim, Symphony rotates qk_rope_head_dim dims",
        source, c.head_dim, c.qk_rope_head_dim);
  SYM_TRY_ASSIGN(const bool interleave, f.boolean("rope_interleave", true));
  if (!interleave)
    return Error::invalid(
        "{}: rope_interleave = false is not supported: Symphony rotates DeepSeek's interleaved "
        "pairs (2i, 2i + 1) of the rotary dims",
        source);
  c.qk_norm = false;
  return Status::ok();
}

// DeepseekV3Config's feed-forward: first_k_dense_replace dense layers, then MoE layers with
// sigmoid group-limited routing ("noaux_tc"), the selection bias, routed scaling and shared
// experts. Absent fields take DeepseekV3Config's defaults; DeepSeek's topk_method, scoring_func
// and moe_layer_freq are checked when present (transformers ignores them).
Status read_deepseek_v3_moe(const FieldReader& f, const std::string& source, ModelConfig& c) {
  SYM_TRY(f.require_off("topk_method", Json("noaux_tc"),
                        "Symphony routes as DeepSeek-V3 does (\"noaux_tc\")"));
  SYM_TRY(f.require_off("scoring_func", Json("sigmoid"),
                        "DeepSeek-V3 scores experts with a sigmoid"));
  SYM_TRY(f.require_off("moe_layer_freq", Json(1),
                        "Symphony's layers after first_k_dense_replace are all MoE"));
  SYM_TRY_ASSIGN(c.num_nextn_predict_layers, f.integer("num_nextn_predict_layers", 0));
  SYM_TRY_ASSIGN(const int64_t experts, f.integer("n_routed_experts", 256));
  SYM_TRY_ASSIGN(const int64_t first_dense, f.integer("first_k_dense_replace", 3));
  SYM_TRY_ASSIGN(c.moe_intermediate_size, f.integer("moe_intermediate_size", 2048));
  // Dense in every layer, the MTP modules' included (transformers builds none of those).
  if (experts == 0 ||
      (first_dense >= c.num_hidden_layers && first_dense - c.num_hidden_layers >=
                                                 c.num_nextn_predict_layers)) {
    c.num_experts = 0;
    c.first_k_dense_replace = 0;
    return Status::ok();
  }
  c.num_experts = experts;
  c.first_k_dense_replace = first_dense;
  c.scoring_func = RouterScoring::kSigmoid;
  SYM_TRY_ASSIGN(c.num_experts_per_tok, f.integer("num_experts_per_tok", 8));
  SYM_TRY_ASSIGN(c.n_shared_experts, f.integer("n_shared_experts", 1));
  SYM_TRY_ASSIGN(c.n_group, f.integer("n_group", 8));
  SYM_TRY_ASSIGN(c.topk_group, f.integer("topk_group", 4));
  SYM_TRY_ASSIGN(c.norm_topk_prob, f.boolean("norm_topk_prob", true));
  SYM_TRY_ASSIGN(c.routed_scaling_factor, f.number("routed_scaling_factor", 2.5));
  if (c.n_group > 0 && c.num_experts % c.n_group == 0 && c.num_experts / c.n_group < 2)
    return Error::invalid(
        "{}: n_group = {} with n_routed_experts = {}: one expert per group, but deepseek_v3 "
        "scores each group by the sum of its two best experts",
        source, c.n_group, c.num_experts);
  return Status::ok();
}

// DeepseekV3Config's fields, and DeepSeek's own (num_nextn_predict_layers, topk_method,
// scoring_func, moe_layer_freq) that its published config.json carries. head_dim is left out:
// transformers sets it to qk_rope_head_dim, the width its RoPE rotates, and a config.json value
// would override that.
Json deepseek_v3_config_json(const ModelConfig& c) {
  Json j;
  j["architectures"] = {std::string(hf_architecture_class(HfArch::kDeepseekV3))};
  j["model_type"] = std::string(hf_model_type(HfArch::kDeepseekV3));
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["moe_intermediate_size"] = c.moe_intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_nextn_predict_layers"] = c.num_nextn_predict_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  // Each head has its own keys and values (from kv_b_proj): transformers repeats none.
  j["num_key_value_heads"] = c.num_attention_heads;
  j["q_lora_rank"] = c.q_lora_rank > 0 ? Json(c.q_lora_rank) : Json(nullptr);
  j["kv_lora_rank"] = c.kv_lora_rank;
  j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  j["qk_nope_head_dim"] = c.qk_nope_head_dim;
  j["v_head_dim"] = c.v_head_dim;
  // A dense model is every layer dense, the MTP modules' too: first_k_dense_replace covers them.
  const bool moe = c.num_experts > 0;
  j["n_routed_experts"] = c.num_experts;
  j["n_shared_experts"] = moe ? c.n_shared_experts : 0;
  j["num_experts_per_tok"] = c.num_experts_per_tok;
  j["first_k_dense_replace"] = moe ? c.first_k_dense_replace : c.num_layers_with_mtp();
  j["moe_layer_freq"] = 1;
  j["topk_method"] = "noaux_tc";
  j["scoring_func"] = "sigmoid";
  j["n_group"] = c.n_group;
  j["topk_group"] = c.topk_group;
  j["norm_topk_prob"] = c.norm_topk_prob;
  j["routed_scaling_factor"] = c.routed_scaling_factor;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  j["rope_interleave"] = true;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["initializer_range"] = c.initializer_range;
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  return j;
}

// The fields of Qwen3MoeConfig, MixtralConfig, Qwen3Config and LlamaConfig.
Json common_config_json(const ModelConfig& c, HfArch arch) {
  Json j;
  j["architectures"] = {std::string(hf_architecture_class(arch))};
  j["model_type"] = std::string(hf_model_type(arch));
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  // Mixtral's intermediate_size is the width of each expert.
  j["intermediate_size"] = arch == HfArch::kMixtral ? c.moe_intermediate_size : c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["initializer_range"] = c.initializer_range;
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  switch (arch) {
    case HfArch::kLlama:
      j["mlp_bias"] = false;
      j["pretraining_tp"] = 1;
      break;
    case HfArch::kQwen3:
    case HfArch::kQwen3Moe:
      j["use_sliding_window"] = false;
      j["sliding_window"] = nullptr;
      j["max_window_layers"] = c.num_hidden_layers;
      break;
    case HfArch::kMixtral: j["sliding_window"] = nullptr; break;
    case HfArch::kDeepseekV3: break;
  }
  if (arch == HfArch::kQwen3Moe) {
    j["num_experts"] = c.num_experts;
    j["num_experts_per_tok"] = c.num_experts_per_tok;
    j["moe_intermediate_size"] = c.moe_intermediate_size;
    j["norm_topk_prob"] = c.norm_topk_prob;
    j["decoder_sparse_step"] = 1;
    std::vector<int64_t> dense;
    for (int64_t l = 0; l < c.first_k_dense_replace; ++l) dense.push_back(l);
    j["mlp_only_layers"] = dense;
    j["router_aux_loss_coef"] = c.router_aux_loss_coef;
    j["output_router_logits"] = false;
  }
  if (arch == HfArch::kMixtral) {
    j["num_local_experts"] = c.num_experts;
    j["num_experts_per_tok"] = c.num_experts_per_tok;
    j["router_aux_loss_coef"] = c.router_aux_loss_coef;
    j["router_jitter_noise"] = 0.0;
    j["output_router_logits"] = false;
  }
  return j;
}

}  // namespace

std::string hf_config_json_text(const ModelConfig& c, HfArch arch,
                                std::optional<int32_t> eos_token_id) {
  Json j;
  if (arch == HfArch::kDeepseekV3)
    j = deepseek_v3_config_json(c);
  else
    j = common_config_json(c, arch);
  if (eos_token_id.has_value()) {
    j["bos_token_id"] = *eos_token_id;
    j["eos_token_id"] = *eos_token_id;
  }
  j["use_cache"] = true;
  j["torch_dtype"] = "float32";
  return j.dump(2) + "\n";
}

std::string hf_generation_config_json_text(std::optional<int32_t> eos_token_id) {
  Json j;
  j["_from_model_config"] = true;
  if (eos_token_id.has_value()) {
    j["bos_token_id"] = *eos_token_id;
    j["eos_token_id"] = *eos_token_id;
  }
  return j.dump(2) + "\n";
}

Result<HfModelConfig> parse_hf_config(std::string_view json_text, std::string_view source_view) {
  const std::string source(source_view);
  Json j;
  try {
    j = Json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    return Error::invalid("{}: invalid JSON: {}", source, e.what());
  }
  if (!j.is_object()) return Error::invalid("{}: not a JSON object", source);
  const FieldReader f(j, source);
  SYM_TRY_ASSIGN(const std::string model_type, f.string("model_type", std::nullopt));
  HfModelConfig out;
  SYM_TRY_ASSIGN(out.arch, hf_arch_from_model_type(model_type, source));
  const HfArch arch = out.arch;
  const HfDefaults defaults = hf_defaults(arch);
  ModelConfig& c = out.model;

  SYM_TRY_ASSIGN(const std::string act, f.string("hidden_act", "silu"));
  if (act != "silu")
    return Error::invalid(
        "{}: hidden_act = \"{}\" is not supported: Symphony's feed-forward is "
        "SwiGLU (silu)",
        source, act);
  SYM_TRY(f.require_off("attention_bias", Json(false), "Symphony's projections have no bias"));
  SYM_TRY(f.require_off("mlp_bias", Json(false), "Symphony's projections have no bias"));
  SYM_TRY(f.require_off("quantization_config", Json(nullptr),
                        "Symphony reads unquantized weights (F32, BF16, F16); dequantize the "
                        "checkpoint first"));

  SYM_TRY_ASSIGN(c.vocab_size, f.integer("vocab_size", std::nullopt));
  SYM_TRY_ASSIGN(c.hidden_size, f.integer("hidden_size", std::nullopt));
  SYM_TRY_ASSIGN(c.num_hidden_layers, f.integer("num_hidden_layers", std::nullopt));
  SYM_TRY_ASSIGN(c.num_attention_heads, f.integer("num_attention_heads", std::nullopt));
  SYM_TRY_ASSIGN(c.num_key_value_heads, f.integer("num_key_value_heads", c.num_attention_heads));
  const bool qwen = arch == HfArch::kQwen3 || arch == HfArch::kQwen3Moe;
  if (arch == HfArch::kDeepseekV3) {
    SYM_TRY(read_deepseek_v3_attention(f, source, c));
  } else {
    std::optional<int64_t> head_dim_default;
    if (!qwen && c.num_attention_heads > 0)
      head_dim_default = c.hidden_size / c.num_attention_heads;
    SYM_TRY_ASSIGN(c.head_dim, f.integer("head_dim", head_dim_default));
  }
  SYM_TRY_ASSIGN(c.max_position_embeddings,
                 f.integer("max_position_embeddings", defaults.max_position_embeddings));
  SYM_TRY_ASSIGN(c.rope_theta, read_rope_theta(j, f, arch, source));
  // transformers reads partial_rotary_factor from any config, but these architectures apply the
  // rotation to whole heads, so only 1 describes a model they can run.
  SYM_TRY(f.require_off("partial_rotary_factor", Json(1.0),
                        "this architecture rotates whole query and key heads"));
  SYM_TRY_ASSIGN(c.rms_norm_eps, f.number("rms_norm_eps", defaults.rms_norm_eps));
  if (arch == HfArch::kDeepseekV3 && c.rms_norm_eps != kDeepseekLatentNormEps)
    return Error::invalid(
        "{}: rms_norm_eps = {} is not supported for deepseek_v3: its query and KV latent norms "
        "(q_a_layernorm, kv_a_layernorm) use eps {} whatever rms_norm_eps says, Symphony's use "
        "rms_norm_eps",
        source, c.rms_norm_eps, kDeepseekLatentNormEps);
  SYM_TRY_ASSIGN(c.tie_word_embeddings, f.boolean("tie_word_embeddings", false));
  SYM_TRY_ASSIGN(c.initializer_range, f.number("initializer_range", 0.02));
  c.qk_norm = qwen;
  SYM_TRY_ASSIGN(c.intermediate_size, f.integer("intermediate_size", std::nullopt));

  // Sliding windows: Qwen3 switches them on with use_sliding_window; Mixtral whenever
  // sliding_window is set. A window covering every position is plain causal attention.
  if (qwen) {
    SYM_TRY_ASSIGN(const bool sliding, f.boolean("use_sliding_window", false));
    if (sliding)
      return Error::invalid(
          "{}: use_sliding_window = true is not supported: Symphony's "
          "attention is full causal",
          source);
  } else if (f.has("sliding_window")) {
    SYM_TRY_ASSIGN(const int64_t window, f.integer("sliding_window", std::nullopt));
    if (window < c.max_position_embeddings)
      return Error::invalid(
          "{}: sliding_window = {} is shorter than max_position_embeddings = "
          "{}: Symphony's attention is full causal",
          source, window, c.max_position_embeddings);
  }

  c.router_aux_loss_coef = 0.0;
  c.router_z_loss_coef = 0.0;
  c.bias_update_rate = 0.0;
  c.capacity_factor = 0.0;
  c.n_shared_experts = 0;
  c.first_k_dense_replace = 0;
  if (arch == HfArch::kQwen3Moe) {
    SYM_TRY_ASSIGN(c.num_experts, f.integer("num_experts", 128));
    SYM_TRY_ASSIGN(c.num_experts_per_tok, f.integer("num_experts_per_tok", 8));
    SYM_TRY_ASSIGN(c.moe_intermediate_size, f.integer("moe_intermediate_size", 768));
    SYM_TRY_ASSIGN(c.norm_topk_prob, f.boolean("norm_topk_prob", false));
    SYM_TRY_ASSIGN(c.router_aux_loss_coef, f.number("router_aux_loss_coef", 0.001));
    if (c.num_experts > 0) {
      SYM_TRY_ASSIGN(c.first_k_dense_replace,
                     read_first_dense_layers(j, f, c.num_hidden_layers, source));
    }
  } else if (arch == HfArch::kMixtral) {
    SYM_TRY_ASSIGN(c.num_experts, f.integer("num_local_experts", 8));
    SYM_TRY_ASSIGN(c.num_experts_per_tok, f.integer("num_experts_per_tok", 2));
    SYM_TRY_ASSIGN(c.router_aux_loss_coef, f.number("router_aux_loss_coef", 0.001));
    c.moe_intermediate_size = c.intermediate_size;
    c.norm_topk_prob = true;
    if (c.num_experts == 0)
      return Error::invalid("{}: num_local_experts = 0: a mixtral model has experts", source);
  } else if (arch == HfArch::kDeepseekV3) {
    SYM_TRY(read_deepseek_v3_moe(f, source, c));
  } else {
    c.num_experts = 0;
  }
  if (Status s = c.validate(); !s.is_ok()) return s.with_context("{}", source);
  return out;
}

}  // namespace symphony
