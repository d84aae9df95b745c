#include "optim/adamw.h"

#include "kernels/adamw.h"

namespace symphony {

AdamW::AdamW(const OptimConfig& config, const ParamStore& params)
    : AdamW(config, params.dtype(), params.numel()) {}

AdamW::AdamW(const OptimConfig& config, DType dtype, int64_t state_numel)
    : config_(config),
      m_(dtype, {state_numel}, MemoryCategory::kOptimizer),
      v_(dtype, {state_numel}, MemoryCategory::kOptimizer) {}

void AdamW::step(const Exec& ex, ParamStore& params, double lr, double grad_scale) {
  std::vector<AdamWSegment> segments;
  segments.reserve(params.infos().size());
  for (ParamId id = 0; id < ParamId(params.infos().size()); ++id) {
    const ParamInfo& info = params.info(id);
    const int64_t n = info.shape.numel();
    segments.push_back({params.param(id).reshape({n}), params.grad(id).reshape({n}), info.offset,
                        info.decay});
  }
  step(ex, segments, lr, grad_scale);
}

void AdamW::step(const Exec& ex, std::span<const AdamWSegment> segments, double lr,
                 double grad_scale) {
  ++step_;
  for (const AdamWSegment& seg : segments) {
    AdamWStep s;
    s.lr = lr;
    s.beta1 = config_.beta1;
    s.beta2 = config_.beta2;
    s.eps = config_.eps;
    s.weight_decay = seg.decay == Decay::kYes ? config_.weight_decay : 0.0;
    s.grad_scale = grad_scale;
    s.step = step_;
    const int64_t n = seg.param.numel();
    View m = m_.view().rows(seg.state_offset, seg.state_offset + n);
    View v = v_.view().rows(seg.state_offset, seg.state_offset + n);
    adamw_update(ex, seg.param, seg.grad, m, v, s);
  }
}

}  // namespace symphony
