#include "testkit/tensor_testing.h"

#include <fmt/format.h>

namespace symphony::testkit {

double element(ConstView v, int64_t i) {
  return v.dtype() == DType::kF64 ? v.data<double>()[i] : double(v.data<float>()[i]);
}

void set_element(View v, int64_t i, double value) {
  if (v.dtype() == DType::kF64)
    v.data<double>()[i] = value;
  else
    v.data<float>()[i] = float(value);
}

Buffer random_buffer(DType dtype, Shape shape, uint64_t seed, double lo, double hi) {
  Buffer b(dtype, shape);
  View v = b.view();
  for (int64_t i = 0; i < v.numel(); ++i) set_element(v, i, lo + (hi - lo) * uniform_at(seed, i));
  return b;
}

void copy_into(ConstView src, View dst) {
  SYM_CHECK(src.numel() == dst.numel(), "copy_into: {} vs {} elements", src.numel(), dst.numel());
  for (int64_t i = 0; i < src.numel(); ++i) set_element(dst, i, element(src, i));
}

Buffer convert(ConstView src, DType dtype) {
  Buffer b(dtype, src.shape());
  copy_into(src, b.view());
  return b;
}

::testing::AssertionResult tensors_near(ConstView got, ConstView want, Tolerance tol) {
  if (got.numel() != want.numel())
    return ::testing::AssertionFailure()
           << "sizes differ: " << got.numel() << " vs " << want.numel();
  for (int64_t i = 0; i < got.numel(); ++i) {
    double g = element(got, i), w = element(want, i);
    if (!(std::abs(g - w) <= tol.atol + tol.rtol * std::abs(w)))
      return ::testing::AssertionFailure()
             << fmt::format("element {} of {}: got {:.9g}, want {:.9g} (atol {}, rtol {})", i,
                            got.numel(), g, w, tol.atol, tol.rtol);
  }
  return ::testing::AssertionSuccess();
}

double max_rel_error(ConstView got, ConstView want, double floor) {
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double g = element(got, i), w = element(want, i);
    worst = std::max(worst, std::abs(g - w) / (std::abs(w) + floor));
  }
  return worst;
}

}  // namespace symphony::testkit
