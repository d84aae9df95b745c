#include "optim/grad_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/simd.h"

namespace symphony {
namespace {
constexpr int64_t kBlock = 1 << 16;

SYM_VECTORIZED double sum_squares_f32(const float* x, int64_t n) {
  // Float lanes over a short block, then double: exact enough and vectorisable.
  double total = 0;
  for (int64_t i = 0; i < n; i += 1024) {
    float acc = 0.f;
    int64_t end = std::min(n, i + 1024);
#pragma omp simd reduction(+ : acc)
    for (int64_t j = i; j < end; ++j) acc += x[j] * x[j];
    total += double(acc);
  }
  return total;
}
double sum_squares_f64(const double* x, int64_t n) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += x[i] * x[i];
  return acc;
}
}  // namespace

double grad_norm_local(ConstView grads) {
  const int64_t n = grads.numel();
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  // Reused across steps so the training step does not allocate; shared with the team by pointer.
  thread_local std::vector<double> partial_storage;
  partial_storage.assign(size_t(blocks), 0.0);
  double* partial = partial_storage.data();
  const bool is_f64 = grads.dtype() == DType::kF64;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t begin = b * kBlock, len = std::min(kBlock, n - begin);
    partial[b] = is_f64 ? sum_squares_f64(grads.data<double>() + begin, len)
                        : sum_squares_f32(grads.f32() + begin, len);
  }
  double total = 0;
  for (int64_t b = 0; b < blocks; ++b) total += partial[b];
  return std::sqrt(total);
}

double grad_clip_factor(double norm, double max_norm) {
  if (max_norm <= 0 || norm <= max_norm || norm == 0) return 1.0;
  return max_norm / norm;
}

}  // namespace symphony
