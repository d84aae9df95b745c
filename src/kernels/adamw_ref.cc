#include <cmath>

#include "kernels/adamw.h"

namespace symphony::ref {
namespace {

template <typename T>
void update(View param_v, ConstView grad_v, View m_v, View v_v, const AdamWStep& s) {
  T* param = param_v.data<T>();
  const T* grad = grad_v.data<T>();
  T* m = m_v.data<T>();
  T* v = v_v.data<T>();
  const double t = double(s.step);
  const double bias1 = 1.0 - std::pow(s.beta1, t);
  const double bias2 = 1.0 - std::pow(s.beta2, t);
  for (int64_t i = 0; i < param_v.numel(); ++i) {
    const double g = s.grad_scale * double(grad[i]);
    const double mi = s.beta1 * double(m[i]) + (1.0 - s.beta1) * g;
    const double vi = s.beta2 * double(v[i]) + (1.0 - s.beta2) * g * g;
    const double p = param[i];
    const double adam = (mi / bias1) / (std::sqrt(vi / bias2) + s.eps);
    m[i] = T(mi);
    v[i] = T(vi);
    param[i] = T(p - s.lr * (adam + s.weight_decay * p));
  }
}

}  // namespace

void adamw_update(View param, ConstView grad, View m, View v, const AdamWStep& s) {
  if (param.dtype() == DType::kF64) return update<double>(param, grad, m, v, s);
  update<float>(param, grad, m, v, s);
}

}  // namespace symphony::ref
