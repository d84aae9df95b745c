#include <bit>
#include <cmath>
#include <cstdint>

#include "core/simd.h"
#include "kernels/fast_exp.h"
#include "kernels/swiglu.h"
#include "kernels/swiglu_math.h"

namespace symphony::cpu {
namespace {

// sigmoid(g) from one exponential of a non-positive argument, e = e^-|g|: 1 / (1 + e) for g >= 0,
// e / (1 + e) below. libm's expf would keep the loops scalar (see fast_exp.h); this vectorises.
// The choice of numerator is a bitwise select: written as a conditional, it stops the vectoriser.
inline float sigmoid(float g) {
  const float e = exp_nonpositive(-std::fabs(g));
  const int32_t negative = -static_cast<int32_t>(g < 0.f);  // all ones where g < 0
  const float numerator = std::bit_cast<float>((std::bit_cast<int32_t>(e) & negative) |
                                               (std::bit_cast<int32_t>(1.f) & ~negative));
  return numerator / (1.f + e);
}

SYM_VECTORIZED void forward_row(const float* gate, const float* up, float* h, int64_t cols) {
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) h[c] = silu_from_sigmoid(gate[c], sigmoid(gate[c])) * up[c];
}

// Loads every input of element c before storing either output, so dgate/dup may alias gate/up.
SYM_VECTORIZED void backward_row(const float* gate, const float* up, const float* dh,
                                 float* dgate, float* dup, int64_t cols) {
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) {
    const float g = gate[c], u = up[c], d = dh[c];
    const float s = sigmoid(g);
    dgate[c] = d * u * silu_grad_from_sigmoid(g, s);
    dup[c] = d * silu_from_sigmoid(g, s);
  }
}

}  // namespace

void swiglu_forward(ConstView gate_v, ConstView up_v, View h_v) {
  const int64_t rows = gate_v.dim(0), cols = gate_v.dim(1);
  const float* gate = gate_v.f32();
  const float* up = up_v.f32();
  float* h = h_v.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    forward_row(gate + r * cols, up + r * cols, h + r * cols, cols);
}

void swiglu_backward(ConstView gate_v, ConstView up_v, ConstView dh_v, View dgate_v, View dup_v) {
  const int64_t rows = gate_v.dim(0), cols = gate_v.dim(1);
  const float* gate = gate_v.f32();
  const float* up = up_v.f32();
  const float* dh = dh_v.f32();
  float* dgate = dgate_v.f32();
  float* dup = dup_v.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    backward_row(gate + r * cols, up + r * cols, dh + r * cols, dgate + r * cols, dup + r * cols,
                 cols);
}

}  // namespace symphony::cpu
