#include <cmath>
#include <vector>

#include <omp.h>

#include "core/simd.h"
#include "kernels/rmsnorm.h"

namespace symphony::cpu {
namespace {

// The one expression of the normalised values, shared by forward and apply (bitwise equal).
SYM_VECTORIZED void apply_row(const float* x, const float* w, float inv, float* y, int64_t cols) {
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) y[c] = x[c] * inv * w[c];
}

SYM_VECTORIZED float forward_row(const float* x, const float* w, float* y, int64_t cols,
                                 float eps) {
  float ss = 0.f;
#pragma omp simd reduction(+ : ss)
  for (int64_t c = 0; c < cols; ++c) ss += x[c] * x[c];
  float inv = 1.f / std::sqrt(ss / float(cols) + eps);
  apply_row(x, w, inv, y, cols);
  return inv;
}

SYM_VECTORIZED void backward_row(const float* x, const float* w, float inv, const float* dy,
                                 float* dx, float* dw_acc, int64_t cols) {
  float dot = 0.f;
#pragma omp simd reduction(+ : dot)
  for (int64_t c = 0; c < cols; ++c) {
    float n = x[c] * inv;
    dot += dy[c] * w[c] * n;
    dw_acc[c] += dy[c] * n;
  }
  float mean = dot / float(cols);
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) dx[c] = inv * (dy[c] * w[c] - x[c] * inv * mean);
}

SYM_VECTORIZED void add_into(float* dst, const float* src, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace

void rmsnorm_forward(ConstView xv, ConstView wv, double eps, View yv, View inv_rms_v) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1);
  const float* x = xv.f32();
  const float* w = wv.f32();
  float* y = yv.f32();
  float* inv_rms = inv_rms_v.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    inv_rms[r] = forward_row(x + r * cols, w, y + r * cols, cols, float(eps));
}

void rmsnorm_apply(ConstView xv, ConstView wv, ConstView inv_rms_v, View yv) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1);
  const float* x = xv.f32();
  const float* w = wv.f32();
  const float* inv_rms = inv_rms_v.f32();
  float* y = yv.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) apply_row(x + r * cols, w, inv_rms[r], y + r * cols, cols);
}

void rmsnorm_backward(ConstView xv, ConstView wv, ConstView inv_rms_v, ConstView dyv, View dxv,
                      View dwv) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1);
  const float* x = xv.f32();
  const float* w = wv.f32();
  const float* inv_rms = inv_rms_v.f32();
  const float* dy = dyv.f32();
  float* dx = dxv.f32();
  float* dw = dwv.f32();
  // Each thread accumulates dw over a fixed block of rows; the blocks are then summed in block
  // order, so the result is the same on every run with the same thread count.
  const int blocks = omp_get_max_threads();
  thread_local std::vector<float> partial;
  partial.assign(static_cast<size_t>(blocks) * cols, 0.f);
  float* partial_sums = partial.data();  // the caller's thread_local, shared with the team
#pragma omp parallel for schedule(static, 1)
  for (int b = 0; b < blocks; ++b) {
    int64_t begin = rows * b / blocks, end = rows * (b + 1) / blocks;
    for (int64_t r = begin; r < end; ++r)
      backward_row(x + r * cols, w, inv_rms[r], dy + r * cols, dx + r * cols,
                   partial_sums + b * cols, cols);
  }
  for (int b = 0; b < blocks; ++b) add_into(dw, partial_sums + b * cols, cols);
}

}  // namespace symphony::cpu
