#pragma once
// The Hugging Face transformers architectures a Symphony model maps onto exactly, and the rules
// that pick one. docs/hf_export.md has the table.
//   qwen3_moe  MoE with QK-norm; leading dense layers via mlp_only_layers
//   mixtral    MoE without QK-norm, no dense layers, top-k weights renormalised
//   qwen3      dense with QK-norm
//   llama      dense without QK-norm
// Every architecture here is RMSNorm + RoPE (rotate_half) + GQA without biases + SwiGLU, which is
// what Symphony computes; they differ in QK-norm, the MoE block and tensor names.

#include <string_view>

#include "core/status.h"
#include "model/model_config.h"

namespace symphony {

enum class HfArch : uint8_t { kQwen3Moe, kMixtral, kQwen3, kLlama };

// "qwen3_moe", "mixtral", "qwen3", "llama": config.json's model_type.
std::string_view hf_model_type(HfArch arch);
// "Qwen3MoeForCausalLM", ...: config.json's architectures[0].
std::string_view hf_architecture_class(HfArch arch);
// Every supported model_type, comma-separated, for error messages.
std::string_view hf_supported_model_types();

// The model_type whose transformers implementation computes the same logits as `config`.
// Failure (kInvalidArgument, naming the model.* key and what to change): partial RoPE, sigmoid
// scoring, group-limited routing or a routed scaling factor (no supported architecture has
// them), shared experts (none has ungated shared experts), MoE without QK-norm and with dense
// layers or norm_topk_prob = false (mixtral has neither), MTP modules (none of them has any).
// REQUIRES: config.validate() is ok.
Result<HfArch> choose_hf_arch(const ModelConfig& config);

// The architecture of a config.json model_type. Failure: kInvalidArgument naming `source` and
// listing the supported types.
Result<HfArch> hf_arch_from_model_type(std::string_view model_type, std::string_view source);

inline bool hf_arch_is_moe(HfArch arch) {
  return arch == HfArch::kQwen3Moe || arch == HfArch::kMixtral;
}

}  // namespace symphony
