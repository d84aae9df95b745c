#pragma once
// Rotary position embedding (RoPE), Hugging Face "rotate_half" convention, on the first R dims of
// each head (partial RoPE when R < Dh, as GPT-NeoX, Phi and Ling 2.0): within those, the pair
// (i, i + R/2) is rotated by angle pos * theta^(-2i/R), i in [0, R/2); dims [R, Dh) pass through.
//   forward:  x' = x*cos + rotate_half(x)*sin, applied in place.
//   backward: the inverse rotation (angle -> -angle) applied in place to the gradient.
// x: (N, heads*Dh) rows of tokens; row n sits at position pos_offset + n % seq_len.
// table: (max_pos, R) from rope_table(dtype, max_pos, R, theta): columns [0, R/2) cos,
// [R/2, R) sin, dtype of x; its width R is the rotary dim.
// REQUIRES: Dh and R even, 0 < R <= Dh; pos_offset + seq_len <= max_pos.

#include "tensor/buffer.h"
#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

Buffer rope_table(DType dtype, int64_t max_pos, int64_t rotary_dim, double theta);

void rope_forward(const Exec& ex, View x, ConstView table, int64_t head_dim, int64_t seq_len,
                  int64_t pos_offset);
void rope_backward(const Exec& ex, View dx, ConstView table, int64_t head_dim, int64_t seq_len,
                   int64_t pos_offset);

namespace ref {
void rope_forward(View x, ConstView table, int64_t head_dim, int64_t seq_len, int64_t pos_offset);
void rope_backward(View dx, ConstView table, int64_t head_dim, int64_t seq_len,
                   int64_t pos_offset);
}  // namespace ref

namespace cpu {
void rope_forward(View x, ConstView table, int64_t head_dim, int64_t seq_len, int64_t pos_offset);
void rope_backward(View dx, ConstView table, int64_t head_dim, int64_t seq_len,
                   int64_t pos_offset);
}  // namespace cpu

}  // namespace symphony
