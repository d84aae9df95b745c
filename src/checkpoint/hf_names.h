#pragma once
// Where each tensor of a Hugging Face checkpoint lives in a Symphony model. Symphony already
// names its parameters as Qwen3 and DeepSeek-V3 do; the differences are
//   - routed experts: Symphony stacks them, "model.layers.L.mlp.experts.gate_proj" (E, F, D);
//     transformers checkpoints hold one tensor per expert,
//     qwen3_moe, deepseek_v3 "model.layers.L.mlp.experts.E.{gate,up,down}_proj.weight" and
//     mixtral               "model.layers.L.block_sparse_moe.experts.E.{w1,w3,w2}.weight";
//   - mixtral's router is "model.layers.L.block_sparse_moe.gate.weight" (Symphony: mlp.gate);
//   - deepseek_v3 stores each MoE layer's selection bias (a Transformer buffer, not a
//     parameter) as "model.layers.L.mlp.gate.e_score_correction_bias" (E), and each MTP module
//     (layer L = num_hidden_layers + k - 1) again holds the shared embedding and LM head, as
//     "model.layers.L.embed_tokens.weight" and "model.layers.L.shared_head.head.weight" (the
//     embedding when tied), besides its own enorm, hnorm, eh_proj, shared_head.norm and layer
//     tensors, which Symphony names the same.
// Layouts are the same (nn.Linear weights, (out, in)); an expert's tensor is its row of the
// stacked one, so export and import are plain copies.

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/hf_arch.h"
#include "model/model_config.h"
#include "model/param_store.h"

namespace symphony {

enum class HfTensorRole : uint8_t {
  kParam,          // parameter `param` (a row of it when expert >= 0)
  kCopy,           // a second copy of parameter `param` that the checkpoint stores
  kSelectionBias,  // the selection bias of MoE layer `layer`
};

// One Hugging Face tensor: its name, its shape, and where it comes from.
struct HfTensorMap {
  std::string hf_name;
  std::vector<int64_t> shape;  // of the Hugging Face tensor
  HfTensorRole role = HfTensorRole::kParam;
  ParamId param = -1;   // kParam, kCopy
  int64_t expert = -1;  // kParam: the row of a stacked (E, ...) parameter, or -1 for all of it
  int64_t layer = -1;   // kSelectionBias
};

// Every tensor of the Hugging Face checkpoint of `arch` for a model of `config`, in the order of
// `params`, experts in index order; a selection bias follows its layer's router, the MTP copies
// their module's norms. Covers every parameter of `params` exactly once as kParam (tied
// embeddings have no lm_head.weight in either form). REQUIRES: `params` is the ParamStore of a
// Transformer of `config`, which choose_hf_arch() maps to `arch` or which was built from an
// imported config of `arch`.
std::vector<HfTensorMap> hf_tensor_map(const ParamStore& params, const ModelConfig& config,
                                       HfArch arch);

// The Hugging Face view of parameter `m.param` (a row of it when m.expert >= 0).
// REQUIRES: m.role is kParam or kCopy.
ConstView hf_tensor_view(const ParamStore& params, const HfTensorMap& m);
View hf_tensor_view(ParamStore& params, const HfTensorMap& m);

}  // namespace symphony
