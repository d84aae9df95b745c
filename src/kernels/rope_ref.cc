#include "kernels/rope.h"

namespace symphony::ref {
namespace {

// Rotates each (i, i + R/2) pair of a head's first R dims by the table's angle (R the table's
// width); sin_sign = -1 rotates by minus the angle, which is the transpose of the rotation and so
// the backward pass.
template <typename T>
void rotate(View xv, ConstView table_v, int64_t head_dim, int64_t seq_len, int64_t pos_offset,
            double sin_sign) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1), rotary = table_v.dim(1), half = rotary / 2;
  T* x = xv.data<T>();
  const T* table = table_v.data<T>();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t pos = pos_offset + r % seq_len;
    const T* cos = table + pos * rotary;
    const T* sin = cos + half;
    for (int64_t h = 0; h < cols / head_dim; ++h) {
      T* a = x + r * cols + h * head_dim;
      T* b = a + half;
      for (int64_t i = 0; i < half; ++i) {
        double c = cos[i], s = sin_sign * double(sin[i]);
        double xa = a[i], xb = b[i];
        a[i] = T(xa * c - xb * s);
        b[i] = T(xb * c + xa * s);
      }
    }
  }
}

}  // namespace

void rope_forward(View x, ConstView table, int64_t head_dim, int64_t seq_len, int64_t pos_offset) {
  if (x.dtype() == DType::kF64)
    return rotate<double>(x, table, head_dim, seq_len, pos_offset, 1.0);
  rotate<float>(x, table, head_dim, seq_len, pos_offset, 1.0);
}

void rope_backward(View dx, ConstView table, int64_t head_dim, int64_t seq_len,
                   int64_t pos_offset) {
  if (dx.dtype() == DType::kF64)
    return rotate<double>(dx, table, head_dim, seq_len, pos_offset, -1.0);
  rotate<float>(dx, table, head_dim, seq_len, pos_offset, -1.0);
}

}  // namespace symphony::ref
