#pragma once
// How a MoE router turns expert logits into scores (model.scoring_func, kernels/router_topk.h):
// softmax over the experts (Mixtral, Qwen3-MoE, DeepSeek-V2) or an independent sigmoid per
// expert (DeepSeek-V3, Kimi K2, Ling 2.0).

#include <cstdint>

namespace symphony {

enum class RouterScoring : uint8_t { kSoftmax, kSigmoid };

}  // namespace symphony
