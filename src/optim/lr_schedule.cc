#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace symphony {

double learning_rate(const OptimConfig& c, int64_t step, int64_t total_steps) {
  if (c.warmup_steps > 0 && step < c.warmup_steps)
    return c.lr * double(step + 1) / double(c.warmup_steps);
  const double min_lr = c.lr * c.min_lr_ratio;
  const int64_t decay_steps = std::max<int64_t>(1, total_steps - c.warmup_steps);
  const double progress = std::clamp(double(step - c.warmup_steps) / double(decay_steps), 0.0, 1.0);
  switch (c.decay) {
    case LrDecay::kCosine:
      return min_lr + (c.lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
    case LrDecay::kLinear:
      return c.lr + (min_lr - c.lr) * progress;
    case LrDecay::kConstant:
      return c.lr;
  }
  return c.lr;
}

}  // namespace symphony
