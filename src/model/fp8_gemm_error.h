#pragma once
// Relative errors of an FP8 GEMM's output C8 against the unquantized output C, E = C8 - C:
//   frobenius = ||E||_F / ||C||_F
//   rows      = root mean square over the rows i of C of min(1, ||E_i|| / ||C_i||)
//   cols      = the same over the columns
// The row and column measures see what the Frobenius norm hides when one outlier row or column
// dominates ||C|| (an activation outlier under per-tensor scaling flushes every other row to
// zero, yet leaves ||E||_F / ||C||_F near 0). Rows and columns where C and E are both zero are
// left out; a zero row of C with a non-zero error counts as 1. Each term is capped at 1 so that
// one nearly-cancelling row cannot stand for the whole product. frobenius is 0 when C and E are
// zero, infinite when only C is.

#include "tensor/view.h"

namespace symphony {

struct Fp8GemmError {
  double frobenius = 0.0;
  double rows = 0.0;
  double cols = 0.0;
  // The largest of the three; NaN when any is NaN (NaN inputs).
  double worst() const;
};

// REQUIRES: c8 and c 2-d f32 views of one shape. Sums in double.
Fp8GemmError fp8_gemm_error(ConstView c8, ConstView c);

}  // namespace symphony
