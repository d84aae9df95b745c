#pragma once
// The Hugging Face transformers architectures a Symphony model maps onto exactly, and the rules
// that pick one. docs/hf_export.md has the table.
//   deepseek_v3  multi-head latent attention (model.kv_lora_rank > 0): DeepSeek-V3's MLA with its
//                interleaved RoPE, dense leading layers, sigmoid group-limited routing with the
//                selection bias (e_score_correction_bias), routed scaling, ungated shared
//                experts, and its multi-token prediction modules (checkpoint-only: transformers
//                does not run them)
//   qwen3_moe    MoE with QK-norm; leading dense layers via mlp_only_layers
//   mixtral      MoE without QK-norm, no dense layers, top-k weights renormalised
//   qwen3        dense with QK-norm
//   llama        dense without QK-norm
// Apart from deepseek_v3, every architecture here is RMSNorm + RoPE (rotate_half) + GQA without
// biases + SwiGLU, which is what Symphony computes; they differ in QK-norm, the MoE block and
// tensor names.

#include <string_view>

#include "core/status.h"
#include "model/model_config.h"

namespace symphony {

enum class HfArch : uint8_t { kQwen3Moe, kMixtral, kQwen3, kLlama, kDeepseekV3 };

// "qwen3_moe", "mixtral", "qwen3", "llama", "deepseek_v3": config.json's model_type.
std::string_view hf_model_type(HfArch arch);
// "Qwen3MoeForCausalLM", ...: config.json's architectures[0].
std::string_view hf_architecture_class(HfArch arch);
// Every supported model_type, comma-separated, for error messages.
std::string_view hf_supported_model_types();

// The model_type whose transformers implementation computes the same logits as `config`.
// Failure (kInvalidArgument, naming the model.* key and what to change):
//   with MLA (deepseek_v3): rms_norm_eps other than kDeepseekLatentNormEps, softmax scoring
//     (deepseek_v3 scores with a sigmoid), groups of fewer than two experts (deepseek_v3 scores a
//     group by its two best experts);
//   without MLA: partial RoPE, sigmoid scoring, group-limited routing or a routed scaling factor,
//     shared experts and MTP modules (deepseek_v3 has them, but only with MLA), MoE without
//     QK-norm and with dense layers or norm_topk_prob = false (mixtral has neither).
// REQUIRES: config.validate() is ok.
Result<HfArch> choose_hf_arch(const ModelConfig& config);

// The architecture of a config.json model_type. Failure: kInvalidArgument naming `source` and
// listing the supported types.
Result<HfArch> hf_arch_from_model_type(std::string_view model_type, std::string_view source);

// The eps of deepseek_v3's latent norms (q_a_layernorm, kv_a_layernorm): transformers and
// DeepSeek's code build them with the RMSNorm default, whatever config.rms_norm_eps says.
// Symphony normalises them with model.rms_norm_eps, so the two agree only at this value.
inline constexpr double kDeepseekLatentNormEps = 1e-6;

// Whether the architecture has a MoE block (routed experts, stored one tensor per expert).
inline bool hf_arch_is_moe(HfArch arch) {
  return arch == HfArch::kQwen3Moe || arch == HfArch::kMixtral || arch == HfArch::kDeepseekV3;
}
// Whether its checkpoints hold the aux-loss-free selection bias of each MoE layer
// ("model.layers.L.mlp.gate.e_score_correction_bias") and the MTP modules' layers.
inline bool hf_arch_has_selection_bias(HfArch arch) { return arch == HfArch::kDeepseekV3; }
inline bool hf_arch_has_mtp(HfArch arch) { return arch == HfArch::kDeepseekV3; }

}  // namespace symphony
