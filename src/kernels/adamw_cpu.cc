#include <cmath>

#include "core/simd.h"
#include "kernels/adamw.h"

namespace symphony::cpu {
namespace {

// The step's scalars, folded once in double and rounded to float for the element loop.
struct Coefficients {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float inv_bias1, inv_bias2;
  float lr, eps, weight_decay, grad_scale;
};

Coefficients fold(const AdamWStep& s) {
  const double t = double(s.step);
  return Coefficients{
      .beta1 = float(s.beta1),
      .one_minus_beta1 = float(1.0 - s.beta1),
      .beta2 = float(s.beta2),
      .one_minus_beta2 = float(1.0 - s.beta2),
      .inv_bias1 = float(1.0 / (1.0 - std::pow(s.beta1, t))),
      .inv_bias2 = float(1.0 / (1.0 - std::pow(s.beta2, t))),
      .lr = float(s.lr),
      .eps = float(s.eps),
      .weight_decay = float(s.weight_decay),
      .grad_scale = float(s.grad_scale),
  };
}

SYM_VECTORIZED void update_chunk(float* param, const float* grad, float* m, float* v, int64_t n,
                                 Coefficients k) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float g = k.grad_scale * grad[i];
    const float mi = k.beta1 * m[i] + k.one_minus_beta1 * g;
    const float vi = k.beta2 * v[i] + k.one_minus_beta2 * g * g;
    const float adam = (mi * k.inv_bias1) / (std::sqrt(vi * k.inv_bias2) + k.eps);
    m[i] = mi;
    v[i] = vi;
    param[i] -= k.lr * (adam + k.weight_decay * param[i]);
  }
}

// Elementwise over the flattened tensor: fixed chunks rather than rows, so 1-d parameters (norm
// weights, biases) split across threads as well as matrices do.
constexpr int64_t kChunk = 16384;

}  // namespace

void adamw_update(View param_v, ConstView grad_v, View m_v, View v_v, const AdamWStep& s) {
  const int64_t n = param_v.numel();
  const Coefficients k = fold(s);
  float* param = param_v.f32();
  const float* grad = grad_v.f32();
  float* m = m_v.f32();
  float* v = v_v.f32();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    const int64_t len = begin + kChunk <= n ? kChunk : n - begin;
    update_chunk(param + begin, grad + begin, m + begin, v + begin, len, k);
  }
}

}  // namespace symphony::cpu
