#pragma once
// Small elementwise ops used between modules (residual adds, gradient sums).
//   add:   out = a + b        (out may alias a or b)
//   axpy:  y += alpha * x
// All views: equal element counts and one dtype.

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

void add(const Exec& ex, ConstView a, ConstView b, View out);
void axpy(const Exec& ex, double alpha, ConstView x, View y);

namespace ref {
void add(ConstView a, ConstView b, View out);
void axpy(double alpha, ConstView x, View y);
}  // namespace ref
namespace cpu {
void add(ConstView a, ConstView b, View out);
void axpy(double alpha, ConstView x, View y);
}  // namespace cpu

}  // namespace symphony
