#pragma once
// Moving equal-width blocks of columns between row-major matrices: the per-head slices of
// multi-head latent attention (model/mla_block.h), such as the key heads [k_nope_h | k_rope]
// assembled from the per-head up-projection and one shared rotary key.
//   copy_column_blocks: for every row r, block b < blocks and j < width,
//     dst[r, to.begin + b*to.stride + j] = src[r, from.begin + b*from.stride + j]
//   (from.stride = 0 broadcasts one block of src to every block of dst);
//   sum_column_blocks: for every row r and j < dst cols,
//     dst[r, j] = sum over b < blocks, in order, of src[r, from.begin + b*from.stride + j].
// src and dst have the same rows and dtype and do not overlap; the blocks of dst do not overlap
// each other (to.stride >= width). Every block lies within its matrix.

#include <cstdint>

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

struct ColumnBlocks {
  int64_t begin = 0;   // first column of block 0
  int64_t stride = 0;  // columns from one block to the next
};

void copy_column_blocks(const Exec& ex, ConstView src, ColumnBlocks from, View dst,
                        ColumnBlocks to, int64_t blocks, int64_t width);
void sum_column_blocks(const Exec& ex, ConstView src, ColumnBlocks from, int64_t blocks,
                       View dst);

namespace ref {
void copy_column_blocks(ConstView src, ColumnBlocks from, View dst, ColumnBlocks to,
                        int64_t blocks, int64_t width);
void sum_column_blocks(ConstView src, ColumnBlocks from, int64_t blocks, View dst);
}  // namespace ref

namespace cpu {
void copy_column_blocks(ConstView src, ColumnBlocks from, View dst, ColumnBlocks to,
                        int64_t blocks, int64_t width);
void sum_column_blocks(ConstView src, ColumnBlocks from, int64_t blocks, View dst);
}  // namespace cpu

}  // namespace symphony
