#pragma once
// SwiGLU activation: h = silu(g) * u, silu(g) = g * sigmoid(g).
//   backward: dg = dh * u * silu'(g), du = dh * silu(g)   (overwritten, not accumulated)
// gate, up, h, dh, dgate, dup: (N, F). h may alias neither input; dgate/dup may alias gate/up
// (backward reads each element before writing it).

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

void swiglu_forward(const Exec& ex, ConstView gate, ConstView up, View h);
void swiglu_backward(const Exec& ex, ConstView gate, ConstView up, ConstView dh, View dgate,
                     View dup);

namespace ref {
void swiglu_forward(ConstView gate, ConstView up, View h);
void swiglu_backward(ConstView gate, ConstView up, ConstView dh, View dgate, View dup);
}  // namespace ref

namespace cpu {
void swiglu_forward(ConstView gate, ConstView up, View h);
void swiglu_backward(ConstView gate, ConstView up, ConstView dh, View dgate, View dup);
}  // namespace cpu

}  // namespace symphony
