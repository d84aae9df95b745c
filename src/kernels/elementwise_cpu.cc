#include <algorithm>

#include "core/simd.h"
#include "kernels/elementwise.h"

namespace symphony::cpu {
namespace {
constexpr int64_t kBlock = 16384;  // elements per task: large enough to amortise the fork

SYM_VECTORIZED void add_block(const float* a, const float* b, float* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
SYM_VECTORIZED void axpy_block(float alpha, const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}
}  // namespace

void add(ConstView a, ConstView b, View out) {
  const int64_t n = a.numel();
  const float *pa = a.f32(), *pb = b.f32();
  float* po = out.f32();
#pragma omp parallel for schedule(static) if (n > 4 * kBlock)
  for (int64_t i = 0; i < n; i += kBlock) add_block(pa + i, pb + i, po + i, std::min(kBlock, n - i));
}

void axpy(double alpha, ConstView x, View y) {
  const int64_t n = x.numel();
  const float* px = x.f32();
  float* py = y.f32();
#pragma omp parallel for schedule(static) if (n > 4 * kBlock)
  for (int64_t i = 0; i < n; i += kBlock)
    axpy_block(float(alpha), px + i, py + i, std::min(kBlock, n - i));
}

}  // namespace symphony::cpu
