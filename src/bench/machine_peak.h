#pragma once
// Ceilings of this machine, measured in the same process that is being judged against them:
//  - FMA peak: fp32 fused multiply-adds on independent registers (AVX-512 or AVX2, the widest the
//    CPU has) on every OpenMP thread, counted as 2 FLOPs each.
//  - SGEMM ceiling: the best GFLOP/s of the linked BLAS over a set of shapes (square, and the
//    training shapes passed in).

#include <cstdint>
#include <string>
#include <vector>

#include "core/precision.h"

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
// Runs each shape repeatedly for about `seconds` and reports its best rate, with GEMMs in
// `precision` (kernels/gemm.h: kBf16 converts A and B to bf16 inside every call).
std::vector<GemmRate> measure_gemm(const std::vector<GemmShape>& shapes, Precision precision,
                                   double seconds = 0.3);
// measure_gemm in fp32.
std::vector<GemmRate> measure_sgemm(const std::vector<GemmShape>& shapes, double seconds = 0.3);
// The part of a BF16 GEMM's time spent converting its fp32 A and B to bf16: the best time of the
// two conversions (kernels/bf16_convert.h, as gemm_bf16 runs them) over the best time of the
// whole GEMM, measured for about `seconds` each.
double measure_bf16_conversion_share(const GemmShape& shape, double seconds = 0.2);

}  // namespace symphony
