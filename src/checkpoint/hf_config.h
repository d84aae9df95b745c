#pragma once
// Hugging Face config.json and generation_config.json for the architectures of
// checkpoint/hf_arch.h, with fields named exactly as transformers' config classes name them
// (Qwen3MoeConfig, MixtralConfig, Qwen3Config, LlamaConfig).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "checkpoint/hf_arch.h"
#include "core/status.h"
#include "model/model_config.h"

namespace symphony {

// config.json text for `config` as `arch` (2-space indented JSON). Training-only settings
// (router_z_loss_coef, router_seq_aux_loss_coef, bias_update_rate, capacity_factor) have no
// transformers field and are left out. eos_token_id / bos_token_id are written when `eos_token_id` has a value.
// REQUIRES: choose_hf_arch(config) == arch.
std::string hf_config_json_text(const ModelConfig& config, HfArch arch,
                                std::optional<int32_t> eos_token_id);

// generation_config.json text: eos/bos token ids when known.
std::string hf_generation_config_json_text(std::optional<int32_t> eos_token_id);

struct HfModelConfig {
  HfArch arch = HfArch::kLlama;
  ModelConfig model;  // training-only fields keep ModelConfig's defaults, except the
                      // balancing terms, which are off (0)
};

// Reads config.json text. Fields absent from the file take the transformers config class's
// default (docs/hf_export.md lists them); shape fields (vocab_size, hidden_size,
// num_hidden_layers, num_attention_heads, intermediate_size; head_dim for qwen3 and qwen3_moe)
// are required.
// Failure (kInvalidArgument, each message naming `source` and the field): invalid JSON, an
// unsupported model_type, a missing or mistyped field, features Symphony does not compute
// (hidden_act other than silu, attention or MLP biases, rope_scaling, sliding-window attention
// shorter than max_position_embeddings, sparse layers that are not a suffix of the layers:
// mlp_only_layers / decoder_sparse_step), partial_rotary_factor other than 1 (the architecture
// rotates whole heads), or a config that fails ModelConfig::validate().
Result<HfModelConfig> parse_hf_config(std::string_view json_text, std::string_view source);

}  // namespace symphony
