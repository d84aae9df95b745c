#include "core/simd.h"
#include "kernels/rope.h"

namespace symphony::cpu {
namespace {

// One token's row: every head's (i, i + R/2) pairs, i < R/2, rotated by the same angles; dims
// [R, Dh) untouched. sin_sign = -1 applies the inverse rotation (backward).
SYM_VECTORIZED void rotate_row(float* x, const float* cos, const float* sin, float sin_sign,
                               int64_t heads, int64_t head_dim, int64_t rotary) {
  const int64_t half = rotary / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* a = x + h * head_dim;
    float* b = a + half;
#pragma omp simd
    for (int64_t i = 0; i < half; ++i) {
      float s = sin_sign * sin[i];
      float xa = a[i], xb = b[i];
      a[i] = xa * cos[i] - xb * s;
      b[i] = xb * cos[i] + xa * s;
    }
  }
}

void rotate(View xv, ConstView table_v, int64_t head_dim, int64_t seq_len, int64_t pos_offset,
            float sin_sign) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1), rotary = table_v.dim(1), half = rotary / 2;
  float* x = xv.f32();
  const float* table = table_v.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* cos = table + (pos_offset + r % seq_len) * rotary;
    rotate_row(x + r * cols, cos, cos + half, sin_sign, cols / head_dim, head_dim, rotary);
  }
}

}  // namespace

void rope_forward(View x, ConstView table, int64_t head_dim, int64_t seq_len, int64_t pos_offset) {
  rotate(x, table, head_dim, seq_len, pos_offset, 1.f);
}

void rope_backward(View dx, ConstView table, int64_t head_dim, int64_t seq_len,
                   int64_t pos_offset) {
  rotate(dx, table, head_dim, seq_len, pos_offset, -1.f);
}

}  // namespace symphony::cpu
