#include "kernels/swiglu.h"

namespace symphony {
namespace {
bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}

bool same_shape_and_dtype(ConstView a, ConstView b) {
  return same_shape(a, b) && a.dtype() == b.dtype();
}
}  // namespace

void swiglu_forward(const Exec& ex, ConstView gate, ConstView up, View h) {
  SYM_CHECK(gate.ndim() == 2 && same_shape_and_dtype(gate, up) && same_shape_and_dtype(gate, h),
            "swiglu: gate, up and h must be equal 2-d shapes of one dtype");
  SYM_CHECK(h.numel() == 0 || (h.raw() != gate.raw() && h.raw() != up.raw()),
            "swiglu: h may not alias an input");
  if (use_ref(ex, gate)) return ref::swiglu_forward(gate, up, h);
  cpu::swiglu_forward(gate, up, h);
}

void swiglu_backward(const Exec& ex, ConstView gate, ConstView up, ConstView dh, View dgate,
                     View dup) {
  SYM_CHECK(gate.ndim() == 2 && same_shape_and_dtype(gate, up) && same_shape_and_dtype(gate, dh) &&
                same_shape_and_dtype(gate, dgate) && same_shape_and_dtype(gate, dup),
            "swiglu_backward: gate, up, dh, dgate and dup must be equal 2-d shapes of one dtype");
  if (use_ref(ex, gate)) return ref::swiglu_backward(gate, up, dh, dgate, dup);
  cpu::swiglu_backward(gate, up, dh, dgate, dup);
}

}  // namespace symphony
