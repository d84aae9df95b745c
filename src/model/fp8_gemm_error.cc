#include "model/fp8_gemm_error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace symphony {
namespace {

// Columns are summed in blocks of this many, with the block's sums on the stack: the column
// measure needs no allocation and reads C row by row.
constexpr int64_t kColumnBlock = 64;

// Adds one row's or column's capped squared relative error to *sum and *count.
// Written so that a NaN ratio stays NaN (std::min would drop it).
inline void add_term(double e2, double c2, double* sum, int64_t* count) {
  if (e2 == 0.0 && c2 == 0.0) return;
  const double ratio = c2 == 0.0 ? 1.0 : e2 / c2;
  *sum += ratio > 1.0 ? 1.0 : ratio;
  *count += 1;
}

double rms(double sum, int64_t count) { return count == 0 ? 0.0 : std::sqrt(sum / double(count)); }

}  // namespace

double Fp8GemmError::worst() const {
  if (std::isnan(frobenius) || std::isnan(rows) || std::isnan(cols))
    return std::numeric_limits<double>::quiet_NaN();
  return std::max({frobenius, rows, cols});
}

Fp8GemmError fp8_gemm_error(ConstView c8_v, ConstView c_v) {
  SYM_CHECK(c8_v.ndim() == 2 && c8_v.dtype() == DType::kF32 && c_v.dtype() == DType::kF32 &&
                same_shape(c8_v, c_v),
            "fp8_gemm_error: C8 and C must be 2-d f32 views of one shape");
  const int64_t rows = c_v.dim(0), cols = c_v.dim(1);
  const float* c8 = c8_v.f32();
  const float* c = c_v.f32();

  double e_total = 0.0, c_total = 0.0, row_sum = 0.0;
  int64_t row_count = 0;
#pragma omp parallel for schedule(static) reduction(+ : e_total, c_total, row_sum, row_count)
  for (int64_t r = 0; r < rows; ++r) {
    double e2 = 0.0, c2 = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      const double d = double(c8[r * cols + j]) - double(c[r * cols + j]);
      e2 += d * d;
      c2 += double(c[r * cols + j]) * double(c[r * cols + j]);
    }
    e_total += e2;
    c_total += c2;
    add_term(e2, c2, &row_sum, &row_count);
  }

  double col_sum = 0.0;
  int64_t col_count = 0;
  const int64_t col_blocks = (cols + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) reduction(+ : col_sum, col_count)
  for (int64_t b = 0; b < col_blocks; ++b) {
    const int64_t j0 = b * kColumnBlock, width = std::min(kColumnBlock, cols - j0);
    double e2[kColumnBlock] = {}, c2[kColumnBlock] = {};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < width; ++j) {
        const double ref = c[r * cols + j0 + j];
        const double d = double(c8[r * cols + j0 + j]) - ref;
        e2[j] += d * d;
        c2[j] += ref * ref;
      }
    for (int64_t j = 0; j < width; ++j) add_term(e2[j], c2[j], &col_sum, &col_count);
  }

  Fp8GemmError error;
  if (c_total != 0.0) {
    error.frobenius = std::sqrt(e_total / c_total);  // NaN sums stay NaN
  } else if (e_total != 0.0) {
    error.frobenius = std::isnan(e_total) ? e_total : std::numeric_limits<double>::infinity();
  }
  error.rows = rms(row_sum, row_count);
  error.cols = rms(col_sum, col_count);
  return error;
}

}  // namespace symphony
