#include "checkpoint/hf_arch.h"

namespace symphony {
namespace {

// deepseek_v3 (transformers' DeepseekV3TopkRouter, DeepSeek's MoEGate with topk_method
// "noaux_tc") scores experts with a sigmoid and each group by the sum of its two best experts'
// scores; the rest of its MoE block (selection bias, groups, routed scaling, renormalisation or
// not, shared experts, dense leading layers) is what Symphony computes for any setting.
Result<HfArch> choose_mla_arch(const ModelConfig& c) {
  if (c.rms_norm_eps != kDeepseekLatentNormEps)
    return Error::invalid(
        "model.rms_norm_eps = {} with model.kv_lora_rank = {}: deepseek_v3 normalises the query "
        "and KV latents (q_a_layernorm, kv_a_layernorm) with eps {} whatever rms_norm_eps says, "
        "Symphony with model.rms_norm_eps; export models trained with model.rms_norm_eps = {}",
        c.rms_norm_eps, c.kv_lora_rank, kDeepseekLatentNormEps, kDeepseekLatentNormEps);
  if (c.num_experts == 0) return HfArch::kDeepseekV3;  // every layer dense
  if (c.scoring_func != RouterScoring::kSigmoid)
    return Error::invalid(
        "model.scoring_func = \"softmax\" with model.kv_lora_rank = {}: deepseek_v3, the "
        "architecture with multi-head latent attention, scores experts with a sigmoid; export "
        "models trained with model.scoring_func = \"sigmoid\"",
        c.kv_lora_rank);
  if (c.num_experts / c.n_group < 2)
    return Error::invalid(
        "model.n_group = {} with model.num_experts = {}: one expert per group, but deepseek_v3 "
        "scores each group by the sum of its two best experts; export models trained with at "
        "least two experts per group (model.n_group <= {})",
        c.n_group, c.num_experts, c.num_experts / 2);
  return HfArch::kDeepseekV3;
}

}  // namespace

std::string_view hf_model_type(HfArch arch) {
  switch (arch) {
    case HfArch::kQwen3Moe: return "qwen3_moe";
    case HfArch::kMixtral: return "mixtral";
    case HfArch::kQwen3: return "qwen3";
    case HfArch::kLlama: return "llama";
    case HfArch::kDeepseekV3: return "deepseek_v3";
  }
  return "?";
}

std::string_view hf_architecture_class(HfArch arch) {
  switch (arch) {
    case HfArch::kQwen3Moe: return "Qwen3MoeForCausalLM";
    case HfArch::kMixtral: return "MixtralForCausalLM";
    case HfArch::kQwen3: return "Qwen3ForCausalLM";
    case HfArch::kLlama: return "LlamaForCausalLM";
    case HfArch::kDeepseekV3: return "DeepseekV3ForCausalLM";
  }
  return "?";
}

std::string_view hf_supported_model_types() {
  return "qwen3_moe, mixtral, qwen3, llama, deepseek_v3";
}

Result<HfArch> choose_hf_arch(const ModelConfig& c) {
  // model.partial_rotary_factor and model.qk_norm with MLA are refused by validate().
  if (c.mla()) return choose_mla_arch(c);
  // The others rotate whole heads and route by softmax over all experts.
  if (c.partial_rotary_factor != 1.0)
    return Error::invalid(
        "model.partial_rotary_factor = {}: the supported Hugging Face architectures ({}) rotate "
        "whole heads; export models trained with model.partial_rotary_factor = 1",
        c.partial_rotary_factor, hf_supported_model_types());
  if (c.num_nextn_predict_layers > 0)
    return Error::invalid(
        "model.num_nextn_predict_layers = {}: of the exported architectures only deepseek_v3 has "
        "multi-token prediction modules, and it needs multi-head latent attention "
        "(model.kv_lora_rank > 0); export a model trained with model.num_nextn_predict_layers = 0",
        c.num_nextn_predict_layers);
  if (c.num_experts == 0) return c.qk_norm ? HfArch::kQwen3 : HfArch::kLlama;
  if (c.scoring_func != RouterScoring::kSoftmax)
    return Error::invalid(
        "model.scoring_func = \"sigmoid\": the MoE architectures without multi-head latent "
        "attention (qwen3_moe, mixtral) score experts with a softmax; export models trained with "
        "model.scoring_func = \"softmax\"");
  if (c.n_group != 1 || c.routed_scaling_factor != 1.0)
    return Error::invalid(
        "model.n_group = {}, model.routed_scaling_factor = {}: the MoE architectures without "
        "multi-head latent attention (qwen3_moe, mixtral) have no group-limited routing and no "
        "routed scaling; export models trained with model.n_group = 1 and "
        "model.routed_scaling_factor = 1",
        c.n_group, c.routed_scaling_factor);
  // Qwen3-MoE and Mixtral have no shared experts; Qwen2-MoE gates them with a sigmoid, and
  // DeepSeek-V3, which adds them ungated, needs MLA attention.
  if (c.n_shared_experts > 0)
    return Error::invalid(
        "model.n_shared_experts = {}: no Hugging Face architecture has ungated shared experts "
        "with this attention (qwen2_moe gates them with a sigmoid, deepseek_v3 needs multi-head "
        "latent attention); export models trained with model.n_shared_experts = 0",
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
  for (HfArch arch : {HfArch::kQwen3Moe, HfArch::kMixtral, HfArch::kQwen3, HfArch::kLlama,
                      HfArch::kDeepseekV3})
    if (hf_model_type(arch) == model_type) return arch;
  return Error::invalid("{}: model_type \"{}\" is not supported; supported: {}", source, model_type,
                        hf_supported_model_types());
}

}  // namespace symphony
