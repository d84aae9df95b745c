#include "kernels/rmsnorm.h"

namespace symphony {
namespace {
bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}
}  // namespace

void rmsnorm_forward(const Exec& ex, ConstView x, ConstView w, double eps, View y, View inv_rms) {
  SYM_CHECK(x.ndim() == 2 && same_shape(x, y), "rmsnorm: x and y must be equal 2-d shapes");
  SYM_CHECK(w.numel() == x.dim(1) && inv_rms.numel() == x.dim(0), "rmsnorm: w or inv_rms size");
  if (use_ref(ex, x)) return ref::rmsnorm_forward(x, w, eps, y, inv_rms);
  cpu::rmsnorm_forward(x, w, eps, y, inv_rms);
}

void rmsnorm_apply(const Exec& ex, ConstView x, ConstView w, ConstView inv_rms, View y) {
  SYM_CHECK(x.ndim() == 2 && same_shape(x, y), "rmsnorm_apply: x and y must be equal 2-d shapes");
  SYM_CHECK(w.numel() == x.dim(1) && inv_rms.numel() == x.dim(0),
            "rmsnorm_apply: w or inv_rms size");
  if (use_ref(ex, x)) return ref::rmsnorm_apply(x, w, inv_rms, y);
  cpu::rmsnorm_apply(x, w, inv_rms, y);
}

void rmsnorm_backward(const Exec& ex, ConstView x, ConstView w, ConstView inv_rms, ConstView dy,
                      View dx, View dw) {
  SYM_CHECK(x.ndim() == 2 && same_shape(x, dy) && same_shape(x, dx), "rmsnorm_backward shapes");
  SYM_CHECK(w.numel() == x.dim(1) && dw.numel() == x.dim(1), "rmsnorm_backward: w or dw size");
  if (use_ref(ex, x)) return ref::rmsnorm_backward(x, w, inv_rms, dy, dx, dw);
  cpu::rmsnorm_backward(x, w, inv_rms, dy, dx, dw);
}

}  // namespace symphony
