#pragma once
// Rotary position embedding in DeepSeek's interleaved convention, on a slice of every head.
// Within head h of a row, the slice's columns [h*head_stride + begin, h*head_stride + begin + dim)
// hold dim/2 pairs (2i, 2i + 1), pair i rotated by angle pos * theta^(-2i/dim):
//   forward:  (a, b) -> (a cos - b sin, b cos + a sin), in place;
//   backward: the inverse rotation (angle -> -angle), in place on the gradient.
// Columns outside the slice are left as they are. DeepSeek-V2/V3 store their rotary weights in
// this order; Hugging Face's modeling code de-interleaves each head ([x0, x2, .., x1, x3, ..])
// before a rotate_half rotation, which permutes queries and keys alike and so leaves every
// score q·k the same as this rotation in place.
// x: (N, heads * head_stride) rows of tokens; row n sits at position pos_offset + n % seq_len.
// table: (max_pos, dim) from rope_table(dtype, max_pos, dim, theta) (kernels/rope.h): columns
// [0, dim/2) cos, [dim/2, dim) sin, dtype of x.
// REQUIRES: dim even and positive, begin + dim <= head_stride, pos_offset + seq_len <= max_pos.

#include <cstdint>

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

struct RopeSlice {
  int64_t head_stride = 0;  // columns per head
  int64_t begin = 0;        // first rotated column within a head
  int64_t dim = 0;          // rotated columns per head
};

void rope_interleaved_forward(const Exec& ex, View x, ConstView table, RopeSlice slice,
                              int64_t seq_len, int64_t pos_offset);
void rope_interleaved_backward(const Exec& ex, View dx, ConstView table, RopeSlice slice,
                               int64_t seq_len, int64_t pos_offset);

namespace ref {
void rope_interleaved_forward(View x, ConstView table, RopeSlice slice, int64_t seq_len,
                              int64_t pos_offset);
void rope_interleaved_backward(View dx, ConstView table, RopeSlice slice, int64_t seq_len,
                               int64_t pos_offset);
}  // namespace ref

namespace cpu {
void rope_interleaved_forward(View x, ConstView table, RopeSlice slice, int64_t seq_len,
                              int64_t pos_offset);
void rope_interleaved_backward(View dx, ConstView table, RopeSlice slice, int64_t seq_len,
                               int64_t pos_offset);
}  // namespace cpu

}  // namespace symphony
