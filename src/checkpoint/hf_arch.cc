#include "checkpoint/hf_arch.h"

namespace symphony {

std::string_view hf_model_type(HfArch arch) {
  switch (arch) {
    case HfArch::kQwen3Moe: return "qwen3_moe";
    case HfArch::kMixtral: return "mixtral";
    case HfArch::kQwen3: return "qwen3";
    case HfArch::kLlama: return "llama";
  }
  return "?";
}

std::string_view hf_architecture_class(HfArch arch) {
  switch (arch) {
    case HfArch::kQwen3Moe: return "Qwen3MoeForCausalLM";
    case HfArch::kMixtral: return "MixtralForCausalLM";
    case HfArch::kQwen3: return "Qwen3ForCausalLM";
    case HfArch::kLlama: return "LlamaForCausalLM";
  }
  return "?";
}

std::string_view hf_supported_model_types() { return "qwen3_moe, mixtral, qwen3, llama"; }

Result<HfArch> choose_hf_arch(const ModelConfig& c) {
  // Every supported architecture rotates whole heads and routes by softmax over all experts.
  if (c.partial_rotary_factor != 1.0)
    return Error::invalid(
        "model.partial_rotary_factor = {}: the supported Hugging Face architectures ({}) rotate "
        "whole heads; export models trained with model.partial_rotary_factor = 1",
        c.partial_rotary_factor, hf_supported_model_types());
  if (c.mla())
    return Error::invalid(
        "model.kv_lora_rank = {}: multi-head latent attention is exported by none of the "
        "supported architectures ({})",
        c.kv_lora_rank, hf_supported_model_types());
  // Of the architectures with MTP modules (deepseek_v3, glm4_moe, ...) none is exported yet.
  if (c.num_nextn_predict_layers > 0)
    return Error::invalid(
        "model.num_nextn_predict_layers = {}: none of the exported architectures ({}) has "
        "multi-token prediction modules; export a model trained with "
        "model.num_nextn_predict_layers = 0",
        c.num_nextn_predict_layers, hf_supported_model_types());
  if (c.num_experts == 0) return c.qk_norm ? HfArch::kQwen3 : HfArch::kLlama;
  if (c.scoring_func != RouterScoring::kSoftmax)
    return Error::invalid(
        "model.scoring_func = \"sigmoid\": the supported MoE architectures (qwen3_moe, mixtral) "
        "score experts with a softmax; export models trained with model.scoring_func = "
        "\"softmax\"");
  if (c.n_group != 1 || c.routed_scaling_factor != 1.0)
    return Error::invalid(
        "model.n_group = {}, model.routed_scaling_factor = {}: the supported MoE architectures "
        "(qwen3_moe, mixtral) have no group-limited routing and no routed scaling; export models "
        "trained with model.n_group = 1 and model.routed_scaling_factor = 1",
        c.n_group, c.routed_scaling_factor);
  // Qwen3-MoE and Mixtral have no shared experts; Qwen2-MoE and DeepSeek-V3 have them but gate
  // them (sigmoid) or need MLA attention, so none of them computes Symphony's ungated sum.
  if (c.n_shared_experts > 0)
    return Error::invalid(
        "model.n_shared_experts = {}: no Hugging Face architecture has ungated shared experts "
        "with this attention (qwen2_moe gates them with a sigmoid, deepseek_v3 needs MLA); "
        "export models trained with model.n_shared_experts = 0",
        c.n_shared_experts);
  if (c.qk_norm) return HfArch::kQwen3Moe;
  // Without QK-norm the only MoE architecture is Mixtral: every layer sparse, weights always
  // renormalised.
  if (c.first_k_dense_replace > 0)
    return Error::invalid(
        "model.first_k_dense_replace = {} with model.qk_norm = false: mixtral, the MoE "
        "architecture without QK-norm, has no dense layers; train with model.qk_norm = true "
        "(exported as qwen3_moe with mlp_only_layers) or model.first_k_dense_replace = 0",
        c.first_k_dense_replace);
  if (!c.norm_topk_prob)
    return Error::invalid(
        "model.norm_topk_prob = false with model.qk_norm = false: mixtral, the MoE architecture "
        "without QK-norm, always renormalises the top-k weights; train with "
        "model.norm_topk_prob = true or model.qk_norm = true (exported as qwen3_moe)");
  return HfArch::kMixtral;
}

Result<HfArch> hf_arch_from_model_type(std::string_view model_type, std::string_view source) {
  for (HfArch arch : {HfArch::kQwen3Moe, HfArch::kMixtral, HfArch::kQwen3, HfArch::kLlama})
    if (hf_model_type(arch) == model_type) return arch;
  return Error::invalid("{}: model_type \"{}\" is not supported; supported: {}", source, model_type,
                        hf_supported_model_types());
}

}  // namespace symphony
