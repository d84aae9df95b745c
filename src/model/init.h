#pragma once
// Deterministic initialisation from a seed. Scheme:
//  - RMSNorm weights: 1.
//  - Every other matrix: normal(0, initializer_range), except the projections that write into the
//    residual stream (o_proj, down_proj of dense, routed and shared experts), whose std is divided
//    by sqrt(2 * num_hidden_layers) (GPT-2 / Megatron scaled init) so the residual variance does
//    not grow with depth.
//  - Element i of tensor `name` is normal_at(key_for(seed, name), i) (core/rng.h): a value depends
//    only on the seed, the tensor's name and its index, never on thread count or layout.

#include <cstdint>

#include "model/model_config.h"
#include "model/param_store.h"

namespace symphony {

void init_params(const ModelConfig& config, uint64_t seed, ParamStore& store);
// The tensors of one unit only (the same values init_params gives them). REQUIRES: the unit's
// weights are resident.
void init_unit_params(const ModelConfig& config, uint64_t seed, ParamStore& store, int unit);

}  // namespace symphony
