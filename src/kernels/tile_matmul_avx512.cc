// Compiled with -mavx512f (CMake: *_avx512.cc); called only when the CPU reports AVX-512F.
#include <immintrin.h>

#include "kernels/tile_matmul.h"

namespace symphony::avx512 {
namespace {

// C[MR x 16 NV] (+)= sum_k A(r, k) B[k, 0:16 NV]: MR x NV accumulators in zmm registers (16 for
// the 8 x 32 block, enough independent FMA chains to cover the FMA latency on two ports), one
// load of B per 16 columns and one broadcast of A per row for each k.
template <int MR, int NV>
inline void kernel(int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks, const float* b,
                   int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kdim; ++k) {
    __m512 bk[NV];
    for (int v = 0; v < NV; ++v) bk[v] = _mm512_loadu_ps(b + k * ldb + 16 * v);
    const float* ak = a + k * a_ks;
    for (int r = 0; r < MR; ++r) {
      const __m512 ar = _mm512_set1_ps(ak[r * a_rs]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bk[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) {
      float* cr = c + r * ldc + 16 * v;
      __m512 x = acc[r][v];
      if (accumulate) x = _mm512_add_ps(_mm512_loadu_ps(cr), x);
      _mm512_storeu_ps(cr, x);
    }
}

template <int MR>
inline void row_block(int64_t n, int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks,
                      const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32)
    kernel<MR, 2>(kdim, a, a_rs, a_ks, b + j, ldb, c + j, ldc, accumulate);
  for (; j < n; j += 16) kernel<MR, 1>(kdim, a, a_rs, a_ks, b + j, ldb, c + j, ldc, accumulate);
}

}  // namespace

void tile_matmul(int64_t m, int64_t n, int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks,
                 const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  static_assert(kTileRows == 4 && kTileCols == 16, "row and column blocks below assume these");
  int64_t i = 0;
  for (; i + 8 <= m; i += 8)
    row_block<8>(n, kdim, a + i * a_rs, a_rs, a_ks, b, ldb, c + i * ldc, ldc, accumulate);
  for (; i < m; i += 4)
    row_block<4>(n, kdim, a + i * a_rs, a_rs, a_ks, b, ldb, c + i * ldc, ldc, accumulate);
}

}  // namespace symphony::avx512
