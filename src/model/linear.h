#pragma once
// Bias-free linear maps with weights in Hugging Face layout W: (out, in).
//   forward:  y = x · W^T                         x: (N, in), y: (N, out)
//   backward: dW += dy^T · x;  dx = dy · W  (or dx += when Accumulate::kYes)
// With ex.fp8 set (train.precision = "fp8") they run as FP8 GEMMs of the weight's sites.

#include "kernels/gemm.h"
#include "model/fp8_linears.h"

namespace symphony {

enum class Accumulate : uint8_t { kNo, kYes };

inline void linear_forward(const Exec& ex, ConstView x, ConstView w, View y) {
  if (ex.fp8 != nullptr) return ex.fp8->forward(ex, x, w, y);
  gemm(ex, Trans::kNo, Trans::kYes, 1.0, x, w, 0.0, y);
}

inline void linear_backward_weight(const Exec& ex, ConstView x, ConstView dy, View dw) {
  if (ex.fp8 != nullptr) return ex.fp8->backward_weight(ex, x, dy, dw);
  gemm(ex, Trans::kYes, Trans::kNo, 1.0, dy, x, 1.0, dw);
}

inline void linear_backward_input(const Exec& ex, ConstView w, ConstView dy, View dx,
                                  Accumulate acc) {
  if (ex.fp8 != nullptr)
    return ex.fp8->backward_input(ex, w, dy, dx, acc == Accumulate::kYes ? 1.0 : 0.0);
  gemm(ex, Trans::kNo, Trans::kNo, 1.0, dy, w, acc == Accumulate::kYes ? 1.0 : 0.0, dx);
}

}  // namespace symphony
