#pragma once
// The SwiGLU scalar maths, shared by every implementation so that the formula exists once.
// T is float or double; each implementation evaluates it in its own working precision.

#include <cmath>

namespace symphony {

// silu(g) = g * sigmoid(g). For very negative g, exp(-g) overflows to inf and the result is a
// signed zero rather than NaN.
template <typename T>
inline T silu(T g) {
  return g / (T(1) + std::exp(-g));
}

// d silu / dg = sigmoid(g) * (1 + g * (1 - sigmoid(g))).
template <typename T>
inline T silu_grad(T g) {
  const T s = T(1) / (T(1) + std::exp(-g));
  return s * (T(1) + g * (T(1) - s));
}

}  // namespace symphony
