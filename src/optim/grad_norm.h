#pragma once
// Global L2 norm of gradients and the clipping factor derived from it.
// The norm is accumulated in double over fixed blocks summed in block order, so it is
// reproducible run to run for a given thread count.

#include "tensor/view.h"

namespace symphony {

// sqrt(sum of squares) over every element of `grads`.
double grad_norm_local(ConstView grads);
// min(1, max_norm / norm); 1 when max_norm <= 0 (clipping off) or norm is 0.
double grad_clip_factor(double norm, double max_norm);

}  // namespace symphony
