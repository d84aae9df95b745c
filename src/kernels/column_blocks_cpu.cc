#include <cstring>

#include "core/simd.h"
#include "kernels/column_blocks.h"

namespace symphony::cpu {

void copy_column_blocks(ConstView src_v, ColumnBlocks from, View dst_v, ColumnBlocks to,
                        int64_t blocks, int64_t width) {
  const int64_t rows = src_v.dim(0), src_cols = src_v.dim(1), dst_cols = dst_v.dim(1);
  const float* src = src_v.f32();
  float* dst = dst_v.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < blocks; ++b)
      std::memcpy(dst + r * dst_cols + to.begin + b * to.stride,
                  src + r * src_cols + from.begin + b * from.stride, size_t(width) * 4);
}

namespace {

// One row: dst[j] = sum over blocks, in block order, of the block's column j.
SYM_VECTORIZED void sum_row(const float* src, int64_t stride, int64_t blocks, int64_t width,
                            float* dst) {
#pragma omp simd
  for (int64_t j = 0; j < width; ++j) dst[j] = src[j];
  for (int64_t b = 1; b < blocks; ++b) {
    const float* block = src + b * stride;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) dst[j] += block[j];
  }
}

}  // namespace

void sum_column_blocks(ConstView src_v, ColumnBlocks from, int64_t blocks, View dst_v) {
  const int64_t rows = src_v.dim(0), src_cols = src_v.dim(1), width = dst_v.dim(1);
  const float* src = src_v.f32();
  float* dst = dst_v.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    sum_row(src + r * src_cols + from.begin, from.stride, blocks, width, dst + r * width);
}

}  // namespace symphony::cpu
