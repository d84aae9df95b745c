#include "kernels/elementwise.h"

namespace symphony {
namespace {
bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}
}  // namespace

void add(const Exec& ex, ConstView a, ConstView b, View out) {
  SYM_CHECK(a.numel() == b.numel() && a.numel() == out.numel(), "add: sizes {} {} {}", a.numel(),
            b.numel(), out.numel());
  if (use_ref(ex, a)) return ref::add(a, b, out);
  cpu::add(a, b, out);
}

void axpy(const Exec& ex, double alpha, ConstView x, View y) {
  SYM_CHECK(x.numel() == y.numel(), "axpy: sizes {} {}", x.numel(), y.numel());
  if (use_ref(ex, x)) return ref::axpy(alpha, x, y);
  cpu::axpy(alpha, x, y);
}

}  // namespace symphony
