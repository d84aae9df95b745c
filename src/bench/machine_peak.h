#pragma once
// Ceilings of this machine, measured in the same process that is being judged against them:
//  - FMA peak: fp32 fused multiply-adds on independent registers (AVX-512 or AVX2, the widest the
//    CPU has) on every OpenMP thread, counted as 2 FLOPs each.
//  - SGEMM ceiling: the best GFLOP/s of the linked BLAS over a set of shapes (square, and the
//    training shapes passed in).

#include <cstdint>
#include <string>
#include <vector>

namespace symphony {

// C (m x n) = op(A) · op(B) with inner dimension k; the default is the forward x·W^T of a linear
// layer (A not transposed, B transposed).
struct GemmShape {
  int64_t m, n, k;
  std::string label;
  bool trans_a = false, trans_b = true;
};

struct GemmRate {
  GemmShape shape;
  double gflops = 0;
};

double measure_fma_peak_gflops(double seconds = 0.5);
// Runs each shape repeatedly for about `seconds` and reports its rate.
std::vector<GemmRate> measure_sgemm(const std::vector<GemmShape>& shapes, double seconds = 0.3);

}  // namespace symphony
