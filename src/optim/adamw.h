#pragma once
// AdamW over every tensor of a ParamStore: first and second moments in fp32 buffers laid out like
// the parameters; weight decay only on tensors marked Decay::kYes (matrices, not norms).

#include <cstdint>

#include "model/param_store.h"
#include "tensor/exec.h"
#include "train/train_config.h"

namespace symphony {

class AdamW {
 public:
  AdamW(const OptimConfig& config, const ParamStore& params);

  // One update with learning rate `lr`; gradients are multiplied by grad_scale first (clipping).
  void step(const Exec& ex, ParamStore& params, double lr, double grad_scale);

  int64_t steps_taken() const { return step_; }
  View exp_avg() { return m_.view(); }
  View exp_avg_sq() { return v_.view(); }
  void set_steps_taken(int64_t step) { step_ = step; }

 private:
  OptimConfig config_;
  Buffer m_, v_;
  int64_t step_ = 0;
};

}  // namespace symphony
