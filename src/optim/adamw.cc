#include "optim/adamw.h"

#include "kernels/adamw.h"

namespace symphony {

AdamW::AdamW(const OptimConfig& config, const ParamStore& params)
    : config_(config),
      m_(params.dtype(), {params.numel()}, MemoryCategory::kOptimizer),
      v_(params.dtype(), {params.numel()}, MemoryCategory::kOptimizer) {}

void AdamW::step(const Exec& ex, ParamStore& params, double lr, double grad_scale) {
  ++step_;
  for (ParamId id = 0; id < ParamId(params.infos().size()); ++id) {
    const ParamInfo& info = params.info(id);
    AdamWStep s;
    s.lr = lr;
    s.beta1 = config_.beta1;
    s.beta2 = config_.beta2;
    s.eps = config_.eps;
    s.weight_decay = info.decay == Decay::kYes ? config_.weight_decay : 0.0;
    s.grad_scale = grad_scale;
    s.step = step_;
    const int64_t n = info.shape.numel();
    View m = m_.view().rows(info.offset, info.offset + n);
    View v = v_.view().rows(info.offset, info.offset + n);
    adamw_update(ex, params.param(id).reshape({n}), params.grad(id).reshape({n}), m, v, s);
  }
}

}  // namespace symphony
