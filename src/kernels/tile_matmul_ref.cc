#include "kernels/tile_matmul.h"

namespace symphony::ref {

void tile_matmul(int64_t m, int64_t n, int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks,
                 const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = accumulate ? double(c[i * ldc + j]) : 0.0;
      for (int64_t k = 0; k < kdim; ++k)
        sum += double(a[i * a_rs + k * a_ks]) * double(b[k * ldb + j]);
      c[i * ldc + j] = float(sum);
    }
}

}  // namespace symphony::ref
