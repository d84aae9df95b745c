#pragma once
// Learning rate at a step: linear warmup from 0 to `lr` over warmup_steps, then decay to
// lr * min_lr_ratio at `total_steps` (cosine, linear or none). Steps are 0-based: step 0 is the
// first update and gets lr / warmup_steps.

#include <cstdint>

#include "optim/optim_config.h"

namespace symphony {

double learning_rate(const OptimConfig& config, int64_t step, int64_t total_steps);

}  // namespace symphony
