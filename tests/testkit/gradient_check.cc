#include "testkit/gradient_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/rng.h"

namespace symphony::testkit {

TokenBatch random_token_batch(int64_t vocab, BatchShape shape, uint64_t seed,
                              int64_t ignored_row) {
  TokenBatch b{shape, {}, {}};
  Rng rng(seed);
  for (int64_t i = 0; i < shape.rows(); ++i) {
    b.tokens.push_back(int32_t(rng.next_u64() % uint64_t(vocab)));
    b.targets.push_back(int32_t(rng.next_u64() % uint64_t(vocab)));
  }
  b.targets[size_t(ignored_row)] = -1;
  return b;
}

int64_t check_gradients_by_differences(ParamStore& store, const std::function<double()>& objective,
                                       double h, int64_t per_tensor) {
  objective();
  const ConstView grads = store.all_grads();
  const std::vector<double> analytic(grads.data<double>(), grads.data<double>() + grads.numel());
  double* params = store.all_params().data<double>();
  int64_t checked = 0;
  for (const ParamInfo& info : store.infos()) {
    const int64_t n = info.shape.numel();
    // Elements spread over the tensor by a stride prime to every size here.
    for (int64_t j = 0; j < std::min(n, per_tensor); ++j) {
      const int64_t i = info.offset + (j * 7919) % n;
      const double saved = params[i];
      params[i] = saved + h;
      const double up = objective();
      params[i] = saved - h;
      const double down = objective();
      params[i] = saved;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(analytic[size_t(i)], numeric, 1e-6 + 1e-5 * std::abs(numeric))
          << info.name << " element " << (i - info.offset);
      ++checked;
    }
  }
  return checked;
}

}  // namespace symphony::testkit
