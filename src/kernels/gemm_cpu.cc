#if defined(SYMPHONY_BLAS_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#else
#include <cblas.h>
#endif

#include <cstdlib>

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
  const dnnl_status_t status =
      dnnl_sgemm(trans_a == Trans::kNo ? 'N' : 'T', trans_b == Trans::kNo ? 'N' : 'T', m, n, k,
                 float(alpha), a.f32(), a.dim(1), b.f32(), b.dim(1), float(beta), c.f32(), n);
  SYM_CHECK(status == dnnl_success, "dnnl_sgemm failed with status {}", int(status));
#else
  cblas_sgemm(CblasRowMajor, trans_a == Trans::kNo ? CblasNoTrans : CblasTrans,
              trans_b == Trans::kNo ? CblasNoTrans : CblasTrans, int(m), int(n), int(k),
              float(alpha), a.f32(), int(a.dim(1)), b.f32(), int(b.dim(1)), float(beta), c.f32(),
              int(n));
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
