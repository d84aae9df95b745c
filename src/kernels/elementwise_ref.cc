#include "kernels/elementwise.h"

namespace symphony::ref {
namespace {
template <typename T>
void add_typed(ConstView a, ConstView b, View out) {
  for (int64_t i = 0; i < a.numel(); ++i)
    out.data<T>()[i] = T(double(a.data<T>()[i]) + double(b.data<T>()[i]));
}
template <typename T>
void axpy_typed(double alpha, ConstView x, View y) {
  for (int64_t i = 0; i < x.numel(); ++i)
    y.data<T>()[i] = T(double(y.data<T>()[i]) + alpha * double(x.data<T>()[i]));
}
}  // namespace

void add(ConstView a, ConstView b, View out) {
  if (a.dtype() == DType::kF64) return add_typed<double>(a, b, out);
  add_typed<float>(a, b, out);
}
void axpy(double alpha, ConstView x, View y) {
  if (x.dtype() == DType::kF64) return axpy_typed<double>(alpha, x, y);
  axpy_typed<float>(alpha, x, y);
}

}  // namespace symphony::ref
