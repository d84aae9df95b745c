#include "core/simd.h"
#include "kernels/rope_interleaved.h"

namespace symphony::cpu {
namespace {

// One token's row: the slice of every head rotated by the same angles. sin_sign = -1 applies the
// inverse rotation (backward).
SYM_VECTORIZED void rotate_row(float* x, const float* cos, const float* sin, float sin_sign,
                               int64_t heads, RopeSlice s) {
  const int64_t half = s.dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* pair = x + h * s.head_stride + s.begin;
#pragma omp simd
    for (int64_t i = 0; i < half; ++i) {
      const float sn = sin_sign * sin[i];
      const float a = pair[2 * i], b = pair[2 * i + 1];
      pair[2 * i] = a * cos[i] - b * sn;
      pair[2 * i + 1] = b * cos[i] + a * sn;
    }
  }
}

void rotate(View xv, ConstView table_v, RopeSlice s, int64_t seq_len, int64_t pos_offset,
            float sin_sign) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1), half = s.dim / 2;
  float* x = xv.f32();
  const float* table = table_v.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* cos = table + (pos_offset + r % seq_len) * s.dim;
    rotate_row(x + r * cols, cos, cos + half, sin_sign, cols / s.head_stride, s);
  }
}

}  // namespace

void rope_interleaved_forward(View x, ConstView table, RopeSlice slice, int64_t seq_len,
                              int64_t pos_offset) {
  rotate(x, table, slice, seq_len, pos_offset, 1.f);
}

void rope_interleaved_backward(View dx, ConstView table, RopeSlice slice, int64_t seq_len,
                               int64_t pos_offset) {
  rotate(dx, table, slice, seq_len, pos_offset, -1.f);
}

}  // namespace symphony::cpu
