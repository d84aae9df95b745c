#pragma once
// Helpers shared by tests: random tensors, comparisons with atol + rtol*|ref|.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "core/rng.h"
#include "tensor/buffer.h"

namespace symphony::testkit {

// A buffer of the given dtype filled with uniform values in [lo, hi) from `seed`.
Buffer random_buffer(DType dtype, Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0);
// A copy of `src` converted to `dtype`.
Buffer convert(ConstView src, DType dtype);
// Copies src into dst (same numel), converting dtype.
void copy_into(ConstView src, View dst);
double element(ConstView v, int64_t i);
void set_element(View v, int64_t i, double value);

struct Tolerance {
  double atol;
  double rtol;
};
template <typename T>
constexpr Tolerance tolerance() {
  if constexpr (sizeof(T) == 8) return {1e-10, 1e-10};
  return {2e-5, 2e-4};
}

// Fails (non-fatally) at the first element where |got - want| > atol + rtol*|want|, or on NaN.
::testing::AssertionResult tensors_near(ConstView got, ConstView want, Tolerance tol);
// Largest |got - want| / (|want| + floor) over all elements.
double max_rel_error(ConstView got, ConstView want, double floor = 1e-6);

}  // namespace symphony::testkit

#define EXPECT_TENSOR_NEAR(got, want, tol) \
  EXPECT_TRUE(::symphony::testkit::tensors_near((got), (want), (tol)))
