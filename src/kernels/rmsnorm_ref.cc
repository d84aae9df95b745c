#include <cmath>
#include <vector>

#include "kernels/rmsnorm.h"

namespace symphony::ref {
namespace {

// The normalised rows with the saved (rounded) inverse RMS, so that rmsnorm_apply gives forward's
// values again.
template <typename T>
void apply(ConstView xv, ConstView wv, ConstView inv_rms_v, View yv) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1);
  const T* x = xv.data<T>();
  const T* w = wv.data<T>();
  const T* inv_rms = inv_rms_v.data<T>();
  T* y = yv.data<T>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = T(double(x[r * cols + c]) * double(inv_rms[r]) * double(w[c]));
}

template <typename T>
void forward(ConstView xv, ConstView wv, double eps, View yv, View inv_rms_v) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1);
  const T* x = xv.data<T>();
  T* inv_rms = inv_rms_v.data<T>();
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t c = 0; c < cols; ++c) ss += double(x[r * cols + c]) * double(x[r * cols + c]);
    inv_rms[r] = T(1.0 / std::sqrt(ss / double(cols) + eps));
  }
  apply<T>(xv, wv, inv_rms_v, yv);
}

// With n = x*inv (normalised) and g = dy*w:  dx = inv * (g - n * mean(g*n)),  dw += dy*n.
template <typename T>
void backward(ConstView xv, ConstView wv, ConstView inv_rms_v, ConstView dyv, View dxv, View dwv) {
  const int64_t rows = xv.dim(0), cols = xv.dim(1);
  const T* x = xv.data<T>();
  const T* w = wv.data<T>();
  const T* inv_rms = inv_rms_v.data<T>();
  const T* dy = dyv.data<T>();
  T* dx = dxv.data<T>();
  T* dw = dwv.data<T>();
  std::vector<double> dw_acc(cols, 0.0);
  std::vector<double> g(cols);
  for (int64_t r = 0; r < rows; ++r) {
    double inv = inv_rms[r];
    double dot = 0;
    for (int64_t c = 0; c < cols; ++c) {
      double n = double(x[r * cols + c]) * inv;
      g[c] = double(dy[r * cols + c]) * double(w[c]);
      dot += g[c] * n;
      dw_acc[c] += double(dy[r * cols + c]) * n;
    }
    double mean = dot / double(cols);
    for (int64_t c = 0; c < cols; ++c) {
      double n = double(x[r * cols + c]) * inv;
      dx[r * cols + c] = T(inv * (g[c] - n * mean));
    }
  }
  for (int64_t c = 0; c < cols; ++c) dw[c] = T(double(dw[c]) + dw_acc[c]);
}

}  // namespace

void rmsnorm_forward(ConstView x, ConstView w, double eps, View y, View inv_rms) {
  if (x.dtype() == DType::kF64) return forward<double>(x, w, eps, y, inv_rms);
  forward<float>(x, w, eps, y, inv_rms);
}

void rmsnorm_apply(ConstView x, ConstView w, ConstView inv_rms, View y) {
  if (x.dtype() == DType::kF64) return apply<double>(x, w, inv_rms, y);
  apply<float>(x, w, inv_rms, y);
}

void rmsnorm_backward(ConstView x, ConstView w, ConstView inv_rms, ConstView dy, View dx,
                      View dw) {
  if (x.dtype() == DType::kF64) return backward<double>(x, w, inv_rms, dy, dx, dw);
  backward<float>(x, w, inv_rms, dy, dx, dw);
}

}  // namespace symphony::ref
