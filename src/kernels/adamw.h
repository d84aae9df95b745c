#pragma once
// AdamW with decoupled weight decay (Loshchilov & Hutter), one tensor at a time:
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//   p -= lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + weight_decay * p )
// `step` t is 1-based. grad_scale multiplies g first (e.g. the clipping factor).
// param, grad, m, v: same shape and dtype; m and v start at zero.

#include <cstdint>

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

struct AdamWStep {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0;
  double grad_scale = 1;
  int64_t step = 1;
};

void adamw_update(const Exec& ex, View param, ConstView grad, View m, View v, const AdamWStep& s);

namespace ref {
void adamw_update(View param, ConstView grad, View m, View v, const AdamWStep& s);
}
namespace cpu {
void adamw_update(View param, ConstView grad, View m, View v, const AdamWStep& s);
}

}  // namespace symphony
