#pragma once
// Gradient checks of whole models by central finite differences, and the random micro-batches
// they run on.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/batch_shape.h"
#include "model/param_store.h"

namespace symphony::testkit {

// One micro-batch of uniform random token ids and targets in [0, vocab), with the target of row
// `ignored_row` set to -1 (an ignored position).
struct TokenBatch {
  BatchShape shape;
  std::vector<int32_t> tokens, targets;
};
TokenBatch random_token_batch(int64_t vocab, BatchShape shape, uint64_t seed,
                              int64_t ignored_row);

// Checks the analytic gradients in `store` (f64, full residency) against central differences
// with step h: `objective` zeroes the gradients, recomputes them and returns the objective. For
// up to `per_tensor` elements spread over each tensor, expects |analytic - numeric| <= 1e-6 +
// 1e-5 |numeric| (gtest expectations naming the tensor and element). Returns the number of
// elements checked.
int64_t check_gradients_by_differences(ParamStore& store, const std::function<double()>& objective,
                                       double h = 1e-5, int64_t per_tensor = 6);

}  // namespace symphony::testkit
