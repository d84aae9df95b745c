#pragma once
// General matrix multiply on 2-d row-major views:
//   C = alpha * op(A) * op(B) + beta * C,   op(X) = X or X^T.
// op(A): (M, K), op(B): (K, N), C: (M, N). C must not alias A or B.
// beta = 0 overwrites C (NaNs in C do not propagate); beta = 1 accumulates (gradients).
// The fast path calls the BLAS chosen at build time (cmake/blas.cmake).

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

enum class Trans : uint8_t { kNo, kYes };

void gemm(const Exec& ex, Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b,
          double beta, View c);

namespace ref {
void gemm(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
          View c);
}  // namespace ref

namespace cpu {
void gemm(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
          View c);
// Name of the linked BLAS library and its thread count, for reports.
const char* blas_name();
}  // namespace cpu

}  // namespace symphony
