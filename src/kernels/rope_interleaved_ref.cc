#include "kernels/rope_interleaved.h"

namespace symphony::ref {
namespace {

// Rotates each (2i, 2i + 1) pair of every head's slice by the table's angle i; sin_sign = -1
// rotates by minus the angle, the transpose of the rotation and so the backward pass.
template <typename T>
void rotate(View xv, ConstView table_v, RopeSlice s, int64_t seq_len, int64_t pos_offset,
            double sin_sign) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1), half = s.dim / 2;
  T* x = xv.data<T>();
  const T* table = table_v.data<T>();
  for (int64_t r = 0; r < rows; ++r) {
    const T* cos = table + (pos_offset + r % seq_len) * s.dim;
    const T* sin = cos + half;
    for (int64_t h = 0; h < cols / s.head_stride; ++h) {
      T* pair = x + r * cols + h * s.head_stride + s.begin;
      for (int64_t i = 0; i < half; ++i) {
        const double c = cos[i], sn = sin_sign * double(sin[i]);
        const double a = pair[2 * i], b = pair[2 * i + 1];
        pair[2 * i] = T(a * c - b * sn);
        pair[2 * i + 1] = T(b * c + a * sn);
      }
    }
  }
}

}  // namespace

void rope_interleaved_forward(View x, ConstView table, RopeSlice slice, int64_t seq_len,
                              int64_t pos_offset) {
  if (x.dtype() == DType::kF64)
    return rotate<double>(x, table, slice, seq_len, pos_offset, 1.0);
  rotate<float>(x, table, slice, seq_len, pos_offset, 1.0);
}

void rope_interleaved_backward(View dx, ConstView table, RopeSlice slice, int64_t seq_len,
                               int64_t pos_offset) {
  if (dx.dtype() == DType::kF64)
    return rotate<double>(dx, table, slice, seq_len, pos_offset, -1.0);
  rotate<float>(dx, table, slice, seq_len, pos_offset, -1.0);
}

}  // namespace symphony::ref
