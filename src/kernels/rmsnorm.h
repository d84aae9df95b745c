#pragma once
// RMSNorm over the last dim.
//   forward:  y[r,:] = x[r,:] * w * inv_rms[r],  inv_rms[r] = 1 / sqrt(mean(x[r,:]^2) + eps)
//   apply:    y[r,:] = x[r,:] * w * inv_rms[r] with the inv_rms forward saved: forward's y again,
//             bitwise (for callers that keep x and inv_rms rather than y; y may not alias x).
//   backward: given dy, accumulates dw += sum_r dy*x*inv_rms and writes dx (dx may alias dy).
// x, y, dy, dx: (rows, cols), row-major; w, dw: (cols); inv_rms: (rows), saved by forward.
// y may alias x. All views share one dtype.

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

void rmsnorm_forward(const Exec& ex, ConstView x, ConstView w, double eps, View y, View inv_rms);
void rmsnorm_apply(const Exec& ex, ConstView x, ConstView w, ConstView inv_rms, View y);
void rmsnorm_backward(const Exec& ex, ConstView x, ConstView w, ConstView inv_rms, ConstView dy,
                      View dx, View dw);

namespace ref {
void rmsnorm_forward(ConstView x, ConstView w, double eps, View y, View inv_rms);
void rmsnorm_apply(ConstView x, ConstView w, ConstView inv_rms, View y);
void rmsnorm_backward(ConstView x, ConstView w, ConstView inv_rms, ConstView dy, View dx, View dw);
}  // namespace ref

namespace cpu {
void rmsnorm_forward(ConstView x, ConstView w, double eps, View y, View inv_rms);
void rmsnorm_apply(ConstView x, ConstView w, ConstView inv_rms, View y);
void rmsnorm_backward(ConstView x, ConstView w, ConstView inv_rms, ConstView dy, View dx, View dw);
}  // namespace cpu

}  // namespace symphony
