#include "model/moe/expert_threads.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/gemm.h"
#include "model/weight_grad_queue.h"

namespace symphony {

bool experts_side_by_side(const Exec& ex, const WeightGradQueue* queue) {
  return ex.impl == KernelImpl::kFast && ex.fp8 == nullptr && cpu::blas_runs_nested() &&
         (queue == nullptr || !queue->deferring()) && omp_get_max_threads() > 1 &&
         !omp_in_parallel();
}

void for_each_expert_segment(int64_t first, int64_t last, int64_t per_expert,
                             std::span<const int64_t> offsets, bool side_by_side,
                             const std::function<void(int64_t)>& fn) {
  auto run_expert = [&](int64_t j) {
    for (int64_t s = std::max(first, j * per_expert); s < std::min(last, (j + 1) * per_expert);
         ++s)
      if (offsets[size_t(s + 1)] > offsets[size_t(s)]) fn(s);
  };
  const int64_t first_expert = first / per_expert;
  const int64_t end_expert = (last + per_expert - 1) / per_expert;
  auto one_at_a_time = [&] {
    for (int64_t j = first_expert; j < end_expert; ++j) run_expert(j);
  };
  if (!side_by_side || omp_get_max_threads() < 2) return one_at_a_time();
  // The experts with rows, largest first (ties by index): the last one to start is small.
  std::vector<std::pair<int64_t, int64_t>> order;  // (-rows, expert)
  for (int64_t j = first_expert; j < end_expert; ++j) {
    const int64_t begin = offsets[size_t(std::max(first, j * per_expert))];
    const int64_t end = offsets[size_t(std::min(last, (j + 1) * per_expert))];
    if (end > begin) order.emplace_back(begin - end, j);
  }
  if (order.size() < 2) return one_at_a_time();
  std::sort(order.begin(), order.end());
  const int64_t n = int64_t(order.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) run_expert(order[size_t(i)].second);
}

}  // namespace symphony
