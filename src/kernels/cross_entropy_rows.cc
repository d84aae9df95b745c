#include "kernels/cross_entropy_rows.h"

#include <algorithm>

#include "core/simd.h"
#include "kernels/fast_exp.h"

namespace symphony::cpu {
namespace {
constexpr int64_t kSumBlock = 256;
}  // namespace

SYM_VECTORIZED float ce_row_max(const float* row, int64_t n) {
  float top = row[0];
#pragma omp simd reduction(max : top)
  for (int64_t v = 0; v < n; ++v) top = row[v] > top ? row[v] : top;
  return top;
}

SYM_VECTORIZED double ce_row_exp_sum(float* row, int64_t n, float top, bool store) {
  double sum = 0.0;
  for (int64_t b = 0; b < n; b += kSumBlock) {
    const int64_t b_end = std::min(b + kSumBlock, n);
    float part = 0.f;
    if (store) {
#pragma omp simd reduction(+ : part)
      for (int64_t v = b; v < b_end; ++v) {
        float e = exp_nonpositive(row[v] - top);
        row[v] = e;
        part += e;
      }
    } else {
#pragma omp simd reduction(+ : part)
      for (int64_t v = b; v < b_end; ++v) part += exp_nonpositive(row[v] - top);
    }
    sum += double(part);
  }
  return sum;
}

SYM_VECTORIZED void ce_row_scale(float* row, int64_t n, float scale) {
#pragma omp simd
  for (int64_t v = 0; v < n; ++v) row[v] *= scale;
}

}  // namespace symphony::cpu
