#pragma once
// Optimizer settings: the [optim] section of a run config.

#include <cstdint>

namespace symphony {

enum class LrDecay : uint8_t { kCosine, kLinear, kConstant };

struct OptimConfig {
  double lr = 3e-4;            // peak learning rate, reached after warmup_steps
  double min_lr_ratio = 0.1;   // final lr = lr * min_lr_ratio
  int64_t warmup_steps = 100;  // linear warmup from 0
  LrDecay decay = LrDecay::kCosine;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;   // decoupled (AdamW); never applied to norms
  double grad_clip = 1.0;      // global L2 norm clip; 0 disables
};

}  // namespace symphony
