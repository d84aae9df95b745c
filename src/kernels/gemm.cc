#include "kernels/gemm.h"

namespace symphony {

void gemm(const Exec& ex, Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b,
          double beta, View c) {
  SYM_CHECK(a.ndim() == 2 && b.ndim() == 2 && c.ndim() == 2, "gemm takes 2-d views");
  int64_t m = trans_a == Trans::kNo ? a.dim(0) : a.dim(1);
  int64_t ka = trans_a == Trans::kNo ? a.dim(1) : a.dim(0);
  int64_t kb = trans_b == Trans::kNo ? b.dim(0) : b.dim(1);
  int64_t n = trans_b == Trans::kNo ? b.dim(1) : b.dim(0);
  SYM_CHECK(ka == kb && c.dim(0) == m && c.dim(1) == n,
            "gemm shapes: op(A) ({}, {}) x op(B) ({}, {}) -> C ({}, {})", m, ka, kb, n, c.dim(0),
            c.dim(1));
  SYM_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(), "gemm: mixed dtypes");
  if (m == 0 || n == 0) return;
  if (a.dtype() == DType::kF64) return ref::gemm(trans_a, trans_b, alpha, a, b, beta, c);
  SYM_CHECK(ex.matmul != Precision::kFp8, "gemm: fp8 GEMMs are not available");
  const bool bf16 = ex.matmul == Precision::kBf16;
  if (ex.impl == KernelImpl::kRef) {
    if (bf16) return ref::gemm_bf16(trans_a, trans_b, alpha, a, b, beta, c);
    return ref::gemm(trans_a, trans_b, alpha, a, b, beta, c);
  }
  if (bf16) return cpu::gemm_bf16(trans_a, trans_b, alpha, a, b, beta, c);
  cpu::gemm(trans_a, trans_b, alpha, a, b, beta, c);
}

}  // namespace symphony
