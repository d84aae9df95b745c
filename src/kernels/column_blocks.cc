#include "kernels/column_blocks.h"

namespace symphony {
namespace {

bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}

void check_matrices(ConstView src, ConstView dst) {
  SYM_CHECK(src.ndim() == 2 && dst.ndim() == 2 && src.dim(0) == dst.dim(0),
            "column blocks: src ({}-d, {} rows) and dst ({}-d, {} rows) must be matrices of the "
            "same rows", src.ndim(), src.dim(0), dst.ndim(), dst.dim(0));
  SYM_CHECK(src.dtype() == dst.dtype(), "column blocks: src is {}, dst is {}",
            dtype_name(src.dtype()), dtype_name(dst.dtype()));
}

// Blocks [0, blocks) of `width` columns at `at` lie within `cols` columns.
void check_blocks(const char* what, ColumnBlocks at, int64_t blocks, int64_t width,
                  int64_t cols) {
  SYM_CHECK(blocks >= 1 && width >= 1 && at.begin >= 0 && at.stride >= 0 &&
                at.begin + (blocks - 1) * at.stride + width <= cols,
            "column blocks: {} blocks of {} columns of {} at {} + b * {} exceed its {} columns",
            blocks, width, what, at.begin, at.stride, cols);
}

}  // namespace

void copy_column_blocks(const Exec& ex, ConstView src, ColumnBlocks from, View dst,
                        ColumnBlocks to, int64_t blocks, int64_t width) {
  check_matrices(src, dst);
  check_blocks("src", from, blocks, width, src.dim(1));
  check_blocks("dst", to, blocks, width, dst.dim(1));
  SYM_CHECK(blocks == 1 || to.stride >= width, "column blocks: dst blocks of {} columns {} apart "
            "overlap", width, to.stride);
  if (use_ref(ex, src)) return ref::copy_column_blocks(src, from, dst, to, blocks, width);
  cpu::copy_column_blocks(src, from, dst, to, blocks, width);
}

void sum_column_blocks(const Exec& ex, ConstView src, ColumnBlocks from, int64_t blocks,
                       View dst) {
  check_matrices(src, dst);
  check_blocks("src", from, blocks, dst.dim(1), src.dim(1));
  if (use_ref(ex, src)) return ref::sum_column_blocks(src, from, blocks, dst);
  cpu::sum_column_blocks(src, from, blocks, dst);
}

}  // namespace symphony
