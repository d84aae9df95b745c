#pragma once
// The SwiGLU scalar maths, shared by every implementation so that the formula exists once.
// T is float or double; each implementation evaluates it in its own working precision.

#include <cmath>

namespace symphony {

// silu and its derivative from s = sigmoid(g), for implementations that compute the sigmoid
// their own way (the vectorised CPU kernel):
//   silu(g) = g * s,   d silu / dg = s * (1 + g * (1 - s)).
template <typename T>
inline T silu_from_sigmoid(T g, T s) {
  return g * s;
}
template <typename T>
inline T silu_grad_from_sigmoid(T g, T s) {
  return s * (T(1) + g * (T(1) - s));
}

// silu(g) = g * sigmoid(g). For very negative g, exp(-g) overflows to inf and the result is a
// signed zero rather than NaN.
template <typename T>
inline T silu(T g) {
  return g / (T(1) + std::exp(-g));
}

template <typename T>
inline T silu_grad(T g) {
  return silu_grad_from_sigmoid(g, T(1) / (T(1) + std::exp(-g)));
}

}  // namespace symphony
