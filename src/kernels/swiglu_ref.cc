#include "kernels/swiglu.h"
#include "kernels/swiglu_math.h"

namespace symphony::ref {
namespace {

template <typename T>
void forward(ConstView gate_v, ConstView up_v, View h_v) {
  const T* gate = gate_v.data<T>();
  const T* up = up_v.data<T>();
  T* h = h_v.data<T>();
  for (int64_t i = 0; i < gate_v.numel(); ++i) h[i] = T(silu(double(gate[i])) * double(up[i]));
}

// Each element is read in full before either output is written, so dgate/dup may alias
// gate/up as the header allows.
template <typename T>
void backward(ConstView gate_v, ConstView up_v, ConstView dh_v, View dgate_v, View dup_v) {
  const T* gate = gate_v.data<T>();
  const T* up = up_v.data<T>();
  const T* dh = dh_v.data<T>();
  T* dgate = dgate_v.data<T>();
  T* dup = dup_v.data<T>();
  for (int64_t i = 0; i < gate_v.numel(); ++i) {
    const double g = gate[i], u = up[i], d = dh[i];
    dgate[i] = T(d * u * silu_grad(g));
    dup[i] = T(d * silu(g));
  }
}

}  // namespace

void swiglu_forward(ConstView gate, ConstView up, View h) {
  if (gate.dtype() == DType::kF64) return forward<double>(gate, up, h);
  forward<float>(gate, up, h);
}

void swiglu_backward(ConstView gate, ConstView up, ConstView dh, View dgate, View dup) {
  if (gate.dtype() == DType::kF64) return backward<double>(gate, up, dh, dgate, dup);
  backward<float>(gate, up, dh, dgate, dup);
}

}  // namespace symphony::ref
