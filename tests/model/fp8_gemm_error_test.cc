#include "model/fp8_gemm_error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace symphony {
namespace {

Fp8GemmError error_of(std::vector<float> c8, std::vector<float> c, int64_t rows, int64_t cols) {
  return fp8_gemm_error(ConstView(c8.data(), DType::kF32, {rows, cols}),
                        ConstView(c.data(), DType::kF32, {rows, cols}));
}

TEST(Fp8GemmError, HandValues) {
  // E = [[0, 0], [0, -1]]: rows 0 and 1, columns 0 and 1.
  const Fp8GemmError e = error_of({1, 0, 0, 0}, {1, 0, 0, 1}, 2, 2);
  EXPECT_DOUBLE_EQ(e.frobenius, std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(e.rows, std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(e.cols, std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(e.worst(), std::sqrt(0.5));
  const Fp8GemmError exact = error_of({1, 2, 3, 4}, {1, 2, 3, 4}, 2, 2);
  EXPECT_EQ(exact.worst(), 0.0);
}

TEST(Fp8GemmError, RowMeasureSeesWhatAnOutlierRowHides) {
  // Row 0 is 1000 times the others and exact; rows 1..3 are lost.
  const Fp8GemmError e =
      error_of({1000, 1000, 0, 0, 0, 0, 0, 0}, {1000, 1000, 1, 1, 1, -1, -1, 1}, 4, 2);
  EXPECT_LT(e.frobenius, 0.002);
  EXPECT_DOUBLE_EQ(e.rows, std::sqrt(0.75));
  EXPECT_LT(e.cols, 0.002);
  EXPECT_DOUBLE_EQ(e.worst(), std::sqrt(0.75));
}

TEST(Fp8GemmError, ZeroRowsCapsAndNan) {
  // Row 0 zero in both: left out. Row 1: C zero, E not: counts 1. Row 2: ratio 3, capped to 1.
  const Fp8GemmError e = error_of({0, 0, 1, 0, 4, 0}, {0, 0, 0, 0, 1, 0}, 3, 2);
  EXPECT_DOUBLE_EQ(e.rows, 1.0);
  EXPECT_DOUBLE_EQ(e.frobenius, std::sqrt(10.0));
  // Columns: column 0 (E = (0, 1, 3), C = (0, 0, 1)) capped to 1; column 1 both zero, left out.
  EXPECT_DOUBLE_EQ(e.cols, 1.0);
  const Fp8GemmError zero_c = error_of({1, 0}, {0, 0}, 1, 2);
  EXPECT_TRUE(std::isinf(zero_c.frobenius));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Fp8GemmError n = error_of({nan, 1}, {nan, 1}, 1, 2);
  EXPECT_TRUE(std::isnan(n.frobenius));
  EXPECT_TRUE(std::isnan(n.worst()));
}

TEST(Fp8GemmError, ManyColumnsSpanColumnBlocks) {
  // 150 columns (three blocks of the column sums); column j is off by j / 1000 of its value.
  const int64_t rows = 3, cols = 150;
  std::vector<float> c(rows * cols), c8(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      c[size_t(r * cols + j)] = float(1 + r);
      c8[size_t(r * cols + j)] = float(1 + r) * (1.f + float(j) / 1000.f);
    }
  const Fp8GemmError e = error_of(c8, c, rows, cols);
  double mean_square = 0.0;
  for (int64_t j = 0; j < cols; ++j) mean_square += (j / 1000.0) * (j / 1000.0);
  EXPECT_NEAR(e.cols, std::sqrt(mean_square / double(cols)), 1e-6);
}

}  // namespace
}  // namespace symphony
