#pragma once
// Where each tensor of a Hugging Face checkpoint lives in a Symphony model. Symphony already
// names its tensors as Qwen3 does; the differences are
//   - routed experts: Symphony stacks them, "model.layers.L.mlp.experts.gate_proj" (E, F, D);
//     transformers checkpoints hold one tensor per expert,
//     qwen3_moe "model.layers.L.mlp.experts.E.{gate,up,down}_proj.weight" and
//     mixtral   "model.layers.L.block_sparse_moe.experts.E.{w1,w3,w2}.weight" (gate, up, down);
//   - mixtral's router is "model.layers.L.block_sparse_moe.gate.weight" (Symphony: mlp.gate).
// Layouts are the same (nn.Linear weights, (out, in)); an expert's tensor is its row of the
// stacked one, so export and import are plain copies.

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/hf_arch.h"
#include "model/param_store.h"

namespace symphony {

// One Hugging Face tensor: its name, its shape, and the Symphony parameter it comes from.
struct HfTensorMap {
  std::string hf_name;
  std::vector<int64_t> shape;  // of the Hugging Face tensor
  ParamId param = -1;
  int64_t expert = -1;  // the row of a stacked (E, ...) parameter, or -1 for the whole parameter
};

// Every tensor of the Hugging Face checkpoint of `arch`, in the order of `params`, experts in
// index order. Covers every parameter of `params` exactly once (tied embeddings have no
// lm_head.weight in either form). REQUIRES: `params` is the ParamStore of a Transformer whose
// config choose_hf_arch() maps to `arch`, or one built from an imported config of `arch`.
std::vector<HfTensorMap> hf_tensor_map(const ParamStore& params, HfArch arch);

// The Hugging Face view of parameter `m.param` (a row of it when m.expert >= 0).
ConstView hf_tensor_view(const ParamStore& params, const HfTensorMap& m);
View hf_tensor_view(ParamStore& params, const HfTensorMap& m);

}  // namespace symphony
