#include "kernels/column_blocks.h"

namespace symphony::ref {
namespace {

template <typename T>
void copy(ConstView src_v, ColumnBlocks from, View dst_v, ColumnBlocks to, int64_t blocks,
          int64_t width) {
  const int64_t rows = src_v.dim(0), src_cols = src_v.dim(1), dst_cols = dst_v.dim(1);
  const T* src = src_v.data<T>();
  T* dst = dst_v.data<T>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < blocks; ++b)
      for (int64_t j = 0; j < width; ++j)
        dst[r * dst_cols + to.begin + b * to.stride + j] =
            src[r * src_cols + from.begin + b * from.stride + j];
}

template <typename T>
void sum(ConstView src_v, ColumnBlocks from, int64_t blocks, View dst_v) {
  const int64_t rows = src_v.dim(0), src_cols = src_v.dim(1), width = dst_v.dim(1);
  const T* src = src_v.data<T>();
  T* dst = dst_v.data<T>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < width; ++j) {
      double acc = 0;
      for (int64_t b = 0; b < blocks; ++b)
        acc += double(src[r * src_cols + from.begin + b * from.stride + j]);
      dst[r * width + j] = T(acc);
    }
}

}  // namespace

void copy_column_blocks(ConstView src, ColumnBlocks from, View dst, ColumnBlocks to,
                        int64_t blocks, int64_t width) {
  if (src.dtype() == DType::kF64) return copy<double>(src, from, dst, to, blocks, width);
  copy<float>(src, from, dst, to, blocks, width);
}

void sum_column_blocks(ConstView src, ColumnBlocks from, int64_t blocks, View dst) {
  if (src.dtype() == DType::kF64) return sum<double>(src, from, blocks, dst);
  sum<float>(src, from, blocks, dst);
}

}  // namespace symphony::ref
