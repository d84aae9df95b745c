#include "core/simd.h"
#include "kernels/tile_matmul.h"

namespace symphony::cpu {
namespace {

// C[4 x 16] (+)= sum_k A(r, k) B[k, 0:16]. The 64 sums live in eight AVX2 registers for the
// whole k loop.
inline void kernel_4x16(int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks, const float* b,
                        int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  float acc[kTileRows][kTileCols] = {};
  for (int64_t k = 0; k < kdim; ++k) {
    const float* bk = b + k * ldb;
    const float* ak = a + k * a_ks;
    for (int64_t r = 0; r < kTileRows; ++r) {
      const float ar = ak[r * a_rs];
#pragma omp simd
      for (int64_t j = 0; j < kTileCols; ++j) acc[r][j] += ar * bk[j];
    }
  }
  for (int64_t r = 0; r < kTileRows; ++r) {
    float* cr = c + r * ldc;
    if (accumulate) {
#pragma omp simd
      for (int64_t j = 0; j < kTileCols; ++j) cr[j] += acc[r][j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < kTileCols; ++j) cr[j] = acc[r][j];
    }
  }
}

}  // namespace

SYM_VECTORIZED void tile_matmul_avx2(int64_t m, int64_t n, int64_t kdim, const float* a,
                                     int64_t a_rs, int64_t a_ks, const float* b, int64_t ldb,
                                     float* c, int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < m; i += kTileRows)
    for (int64_t j = 0; j < n; j += kTileCols)
      kernel_4x16(kdim, a + i * a_rs, a_rs, a_ks, b + j, ldb, c + i * ldc + j, ldc, accumulate);
}

bool has_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
#else
  return false;
#endif
}

void tile_matmul(int64_t m, int64_t n, int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks,
                 const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_avx512()) {
    avx512::tile_matmul(m, n, kdim, a, a_rs, a_ks, b, ldb, c, ldc, accumulate);
    return;
  }
#endif
  tile_matmul_avx2(m, n, kdim, a, a_rs, a_ks, b, ldb, c, ldc, accumulate);
}

}  // namespace symphony::cpu
