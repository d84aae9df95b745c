#if defined(SYMPHONY_BLAS_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#else
#include <cblas.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "kernels/gemm.h"

namespace symphony::cpu {
namespace {

// BLIS 0.9 picks its kernels from a table of known CPUs and falls back to slow generic C kernels
// on newer AMD parts (e.g. AVX-512 EPYC), measured at a sixth of the zen kernels' rate. Any CPU
// with AVX2 and FMA runs the zen kernels correctly, so select them unless the user already chose
// (BLIS reads BLIS_ARCH_TYPE once, at its lazy initialisation inside the first call).
bool configure_blas() {
#if defined(SYMPHONY_BLAS_BLIS) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    setenv("BLIS_ARCH_TYPE", "zen", /*overwrite=*/0);
#endif
  return true;
}

#if defined(SYMPHONY_BLAS_ONEDNN)
// oneDNN 2.6 runs A·B^T 15-20% slower than A·B where B has few rows (on 2 AVX-512 cores,
// 2048 x 512 x 512: 350 against 420 GFLOP/s; from 1536 rows up both run alike). There, when A
// has enough rows for the copy to be cheap (N·K copies against M·N·K multiply-adds), B is
// transposed into a per-thread workspace (N·K floats, kept between calls) and the product runs
// as A·(B^T).
constexpr int64_t kTransposeMaxRowsB = 1024;
constexpr int64_t kTransposeMinRowsA = 512;

// dst (k x n) = src^T for src (n x k), in 32 x 32 blocks that stay in L1.
void transpose(const float* src, int64_t n, int64_t k, float* dst) {
  constexpr int64_t kBlock = 32;
  const int64_t row_blocks = (n + kBlock - 1) / kBlock, col_blocks = (k + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < row_blocks * col_blocks; ++blk) {
    const int64_t i0 = blk / col_blocks * kBlock, j0 = blk % col_blocks * kBlock;
    const int64_t i1 = std::min(i0 + kBlock, n), j1 = std::min(j0 + kBlock, k);
    for (int64_t j = j0; j < j1; ++j)
      for (int64_t i = i0; i < i1; ++i) dst[j * n + i] = src[i * k + j];
  }
}
#endif

}  // namespace

void gemm(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
          View c) {
  static const bool configured = configure_blas();
  (void)configured;
  const int64_t m = c.dim(0), n = c.dim(1);
  const int64_t k = trans_a == Trans::kNo ? a.dim(1) : a.dim(0);
  if (k == 0) {
    // BLAS leaves C untouched for k = 0; the contract says beta = 0 overwrites it.
    float* cf = c.f32();
    for (int64_t i = 0; i < m * n; ++i) cf[i] = beta == 0.0 ? 0.f : float(beta) * cf[i];
    return;
  }
#if defined(SYMPHONY_BLAS_ONEDNN)
  const float* b_data = b.f32();
  int64_t ldb = b.dim(1);
  if (trans_a == Trans::kNo && trans_b == Trans::kYes && n <= kTransposeMaxRowsB &&
      m >= kTransposeMinRowsA) {
    thread_local std::vector<float> b_transposed;
    b_transposed.resize(static_cast<size_t>(n * k));
    transpose(b.f32(), n, k, b_transposed.data());
    trans_b = Trans::kNo;
    b_data = b_transposed.data();
    ldb = n;
  }
  const dnnl_status_t status =
      dnnl_sgemm(trans_a == Trans::kNo ? 'N' : 'T', trans_b == Trans::kNo ? 'N' : 'T', m, n, k,
                 float(alpha), a.f32(), a.dim(1), b_data, ldb, float(beta), c.f32(), n);
  SYM_CHECK(status == dnnl_success, "dnnl_sgemm failed with status {}", int(status));
#else
  cblas_sgemm(CblasRowMajor, trans_a == Trans::kNo ? CblasNoTrans : CblasTrans,
              trans_b == Trans::kNo ? CblasNoTrans : CblasTrans, int(m), int(n), int(k),
              float(alpha), a.f32(), int(a.dim(1)), b.f32(), int(b.dim(1)), float(beta), c.f32(),
              int(n));
#endif
}

bool blas_runs_nested() {
#if defined(SYMPHONY_BLAS_OPENBLAS)
  return false;
#else
  return true;
#endif
}

const char* blas_name() {
#if defined(SYMPHONY_BLAS_BLIS)
  return "BLIS (OpenMP)";
#elif defined(SYMPHONY_BLAS_ONEDNN)
  return "oneDNN (OpenMP)";
#elif defined(SYMPHONY_BLAS_OPENBLAS_OPENMP)
  return "OpenBLAS (OpenMP)";
#else
  return "OpenBLAS (pthreads)";
#endif
}

}  // namespace symphony::cpu
