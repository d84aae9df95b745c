#pragma once
// Names of parameters that are not in the model's ParamStore but travel with it in model files
// and checkpoints.

#include <cstdint>
#include <string>

namespace symphony {

// The name of MoE layer `layer`'s selection bias (the aux-loss-free balancing bias), as
// DeepSeek-V3 names it.
inline std::string balance_bias_name(int64_t layer) {
  return "model.layers." + std::to_string(layer) + ".mlp.gate.e_score_correction_bias";
}

}  // namespace symphony
