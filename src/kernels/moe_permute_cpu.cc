#include <cstring>

#include "core/simd.h"
#include "kernels/moe_permute.h"

namespace symphony::cpu {
namespace {

SYM_VECTORIZED void axpy_row(float a, const float* x, float* y, int64_t d) {
#pragma omp simd
  for (int64_t c = 0; c < d; ++c) y[c] += a * x[c];
}
SYM_VECTORIZED void add_row(const float* x, float* y, int64_t d) {
#pragma omp simd
  for (int64_t c = 0; c < d; ++c) y[c] += x[c];
}
SYM_VECTORIZED float dot_row(const float* x, const float* y, int64_t d) {
  float acc = 0.f;
#pragma omp simd reduction(+ : acc)
  for (int64_t c = 0; c < d; ++c) acc += x[c] * y[c];
  return acc;
}
SYM_VECTORIZED void scale_row(float a, const float* x, float* y, int64_t d) {
#pragma omp simd
  for (int64_t c = 0; c < d; ++c) y[c] = a * x[c];
}

}  // namespace

void moe_gather(ConstView x, std::span<const int32_t> token_of_row, View xg) {
  const int64_t d = x.dim(1), rows = int64_t(token_of_row.size());
  const float* px = x.f32();
  float* pg = xg.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(pg + r * d, px + token_of_row[size_t(r)] * d, size_t(d) * sizeof(float));
}

void moe_combine(ConstView yg, ConstView w, std::span<const int32_t> row_of_slot, View y) {
  const int64_t n = y.dim(0), d = y.dim(1), k = w.dim(1);
  const float *pyg = yg.f32(), *pw = w.f32();
  float* py = y.f32();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < n; ++t) {
    float* out = py + t * d;
    std::memset(out, 0, size_t(d) * sizeof(float));
    for (int64_t j = 0; j < k; ++j) {
      int32_t row = row_of_slot[size_t(t * k + j)];
      if (row >= 0) axpy_row(pw[t * k + j], pyg + row * d, out, d);
    }
  }
}

void moe_combine_backward(ConstView dy, ConstView yg, ConstView w,
                          std::span<const int32_t> row_of_slot, View dw, View dyg) {
  const int64_t n = dy.dim(0), d = dy.dim(1), k = w.dim(1);
  const float *pdy = dy.f32(), *pyg = yg.f32(), *pw = w.f32();
  float *pdw = dw.f32(), *pdyg = dyg.f32();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      int32_t row = row_of_slot[size_t(t * k + j)];
      if (row < 0) {
        pdw[t * k + j] = 0.f;
        continue;
      }
      pdw[t * k + j] = dot_row(pdy + t * d, pyg + row * d, d);
      scale_row(pw[t * k + j], pdy + t * d, pdyg + row * d, d);
    }
  }
}

void moe_scatter_add(ConstView dxg, std::span<const int32_t> row_of_slot, View dx) {
  const int64_t n = dx.dim(0), d = dx.dim(1), k = int64_t(row_of_slot.size()) / n;
  const float* pg = dxg.f32();
  float* px = dx.f32();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < k; ++j) {
      int32_t row = row_of_slot[size_t(t * k + j)];
      if (row >= 0) add_row(pg + row * d, px + t * d, d);
    }
}

}  // namespace symphony::cpu
