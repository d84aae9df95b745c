#pragma once
// AdamW over every tensor of a ParamStore: first and second moments in fp32 buffers laid out like
// the parameters; weight decay only on tensors marked Decay::kYes (matrices, not norms).

#include <cstdint>
#include <span>
#include <vector>

#include "model/param_store.h"
#include "optim/optim_config.h"
#include "tensor/exec.h"

namespace symphony {

// A contiguous run of parameters updated together: n elements of param and grad, whose moments
// sit at [state_offset, state_offset + n) of the moment buffers.
struct AdamWSegment {
  View param;
  View grad;
  int64_t state_offset = 0;
  Decay decay = Decay::kYes;
};

class AdamW {
 public:
  // Moments for every element of `params` (laid out like it).
  AdamW(const OptimConfig& config, const ParamStore& params);
  // Moments for state_numel elements; a sharded layout (zero/data_parallel.h) updates its own slice.
  AdamW(const OptimConfig& config, DType dtype, int64_t state_numel);

  // One update with learning rate `lr`; gradients are multiplied by grad_scale first (clipping).
  // REQUIRES: the moments were laid out like params (the first constructor).
  void step(const Exec& ex, ParamStore& params, double lr, double grad_scale);
  // The same over explicit segments: the step counter advances once per call.
  void step(const Exec& ex, std::span<const AdamWSegment> segments, double lr, double grad_scale);

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
