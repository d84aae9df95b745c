#include "kernels/adamw.h"

namespace symphony {

void adamw_update(const Exec& ex, View param, ConstView grad, View m, View v, const AdamWStep& s) {
  SYM_CHECK(same_shape(param, grad) && same_shape(param, m) && same_shape(param, v),
            "adamw: param, grad, m and v must have one shape");
  SYM_CHECK(grad.dtype() == param.dtype() && m.dtype() == param.dtype() &&
                v.dtype() == param.dtype(),
            "adamw: param, grad, m and v must have one dtype");
  SYM_CHECK(s.step >= 1, "adamw: step is 1-based, got {}", s.step);
  SYM_CHECK(s.beta1 >= 0 && s.beta1 < 1 && s.beta2 >= 0 && s.beta2 < 1,
            "adamw: betas must lie in [0, 1), got {} and {}", s.beta1, s.beta2);
  if (ex.impl == KernelImpl::kRef || param.dtype() == DType::kF64)
    return ref::adamw_update(param, grad, m, v, s);
  cpu::adamw_update(param, grad, m, v, s);
}

}  // namespace symphony
