#pragma once
// Small dense products for tiled kernels (attention), called from inside OpenMP parallel regions
// on per-thread, cache-resident tiles, where the multithreaded BLAS may not be called:
//   C (m x n) (+)= A (m x kdim) · B (kdim x n)
// with A(r, k) = a[r * a_rs + k * a_ks], so A may be a row-major tile (a_rs = ld, a_ks = 1) or a
// transposed one (a_rs = 1, a_ks = ld); B and C are row-major with leading dimensions ldb, ldc.
// REQUIRES: m a multiple of kTileRows, n a multiple of kTileCols (callers pad their tiles).
// Each element of C sums its k terms in order with fused multiply-adds, in every version.

#include <cstdint>

namespace symphony {

constexpr int64_t kTileRows = 4;
constexpr int64_t kTileCols = 16;

namespace cpu {
// The fastest version this CPU runs: AVX-512 where present, else the AVX2/portable one.
void tile_matmul(int64_t m, int64_t n, int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks,
                 const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
// The AVX2 (x86-64-v3) or portable version, whichever the CPU runs.
void tile_matmul_avx2(int64_t m, int64_t n, int64_t kdim, const float* a, int64_t a_rs,
                      int64_t a_ks, const float* b, int64_t ldb, float* c, int64_t ldc,
                      bool accumulate);
bool has_avx512();
}  // namespace cpu

namespace avx512 {
// REQUIRES: cpu::has_avx512().
void tile_matmul(int64_t m, int64_t n, int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks,
                 const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
}  // namespace avx512

namespace ref {
void tile_matmul(int64_t m, int64_t n, int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks,
                 const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
}  // namespace ref

}  // namespace symphony
