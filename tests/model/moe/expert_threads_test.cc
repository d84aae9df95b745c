// Routed experts side by side (model/moe/expert_threads.h): every non-empty segment once, each
// expert's in order on one thread; side by side only where it is safe; a MoE model's step
// bitwise repeatable side by side and equal to one expert at a time up to the GEMMs' summation
// order.
#include "model/moe/expert_threads.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "config/run_config.h"
#include "core/rng.h"
#include "kernels/gemm.h"
#include "model/fp8_linears.h"
#include "model/init.h"
#include "model/transformer.h"
#include "model/weight_grad_queue.h"
#include "testkit/omp_threads.h"

namespace symphony {
namespace {

TEST(ExpertThreads, EverySegmentOnceEachExpertsInOrderOnOneThread) {
  const testkit::OmpThreads threads(3);
  // 5 experts x 3 sources; segments 4..13 asked for; segments 6, 9, 10 and 11 empty (expert 3
  // has none).
  const int64_t per_expert = 3, first = 4, last = 14;
  std::vector<int64_t> offsets = {0};
  for (int64_t s = 0; s < 15; ++s)
    offsets.push_back(offsets.back() + ((s == 6 || (s >= 9 && s <= 11)) ? 0 : 1 + s % 4));
  for (bool side_by_side : {false, true}) {
    std::mutex mu;
    std::vector<int64_t> visited;
    std::map<int64_t, int> thread_of_expert;
    std::set<int> threads_used;
    for_each_expert_segment(first, last, per_expert, offsets, side_by_side, [&](int64_t s) {
      {
        std::lock_guard<std::mutex> lock(mu);
        visited.push_back(s);
        threads_used.insert(omp_get_thread_num());
        const auto [it, added] = thread_of_expert.emplace(s / per_expert, omp_get_thread_num());
        EXPECT_EQ(it->second, omp_get_thread_num()) << "expert " << s / per_expert;
        (void)added;
      }
      // Long enough that the other threads take up the other experts.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    });
    // Three experts have rows: side by side they spread over the threads.
    if (side_by_side) {
      EXPECT_GE(threads_used.size(), 2u);
    } else {
      EXPECT_EQ(threads_used, std::set<int>{0});
    }
    std::vector<int64_t> want;
    for (int64_t s = first; s < last; ++s)
      if (offsets[size_t(s + 1)] > offsets[size_t(s)]) want.push_back(s);
    std::vector<int64_t> sorted = visited;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, want);
    // Each expert's segments in increasing order.
    std::map<int64_t, int64_t> last_of_expert;
    for (int64_t s : visited) {
      const int64_t j = s / per_expert;
      if (last_of_expert.count(j)) {
        EXPECT_LT(last_of_expert[j], s);
      }
      last_of_expert[j] = s;
    }
    if (!side_by_side) {
      EXPECT_EQ(visited, want);
    }
  }
}

TEST(ExpertThreads, SideBySideOnlyWhereItIsSafe) {
  ParamStore store(DType::kF32);
  WeightGradQueue queue(store);
  {
    const testkit::OmpThreads threads(2);
    // Not on OpenBLAS's pthreads build.
    EXPECT_EQ(experts_side_by_side(Exec::cpu(), nullptr), cpu::blas_runs_nested());
    EXPECT_EQ(experts_side_by_side(Exec::cpu().with_matmul(Precision::kBf16), &queue),
              cpu::blas_runs_nested());
    EXPECT_FALSE(experts_side_by_side(Exec::reference(), nullptr));
    Fp8Linears sites(Fp8Recipe{}, store);
    Exec fp8 = Exec::cpu().with_matmul(Precision::kBf16);
    fp8.fp8 = &sites;
    EXPECT_FALSE(experts_side_by_side(fp8, nullptr));
    queue.begin(0);
    EXPECT_FALSE(experts_side_by_side(Exec::cpu(), &queue));
    queue.end();
    bool inside = true;
#pragma omp parallel num_threads(2)
    {
#pragma omp single
      inside = experts_side_by_side(Exec::cpu(), nullptr);
    }
    EXPECT_FALSE(inside);
  }
  const testkit::OmpThreads one(1);
  EXPECT_FALSE(experts_side_by_side(Exec::cpu(), nullptr));
}

std::vector<float> step_grads(const ModelConfig& m, const Exec& ex) {
  const BatchShape shape{2, 32};
  Transformer model(m, DType::kF32, shape, Recompute::kNone);
  init_params(m, 5, model.params());
  std::vector<int32_t> tokens(size_t(shape.rows())), targets(tokens.size());
  Rng rng(3);
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = int32_t(rng.next_u64() % uint64_t(m.vocab_size));
    targets[i] = int32_t(rng.next_u64() % uint64_t(m.vocab_size));
  }
  model.params().zero_grads();
  model.forward_backward(ex, shape, tokens, targets, LossScales{1.0 / 64, 0.5});
  ConstView g = model.params().all_grads();
  return {g.f32(), g.f32() + g.numel()};
}

TEST(ExpertThreads, AStepIsRepeatableSideBySideAndNearOneExpertAtATime) {
  Result<RunConfig> c = load_run_config("tiny", {});
  ASSERT_TRUE(c.has_value());
  ASSERT_GT(c->model.num_experts, 1);
  for (Precision p : {Precision::kFp32, Precision::kBf16}) {
    SCOPED_TRACE(precision_name(p));
    const Exec ex = Exec::cpu().with_matmul(p);
    std::vector<float> side, again, one;
    {
      const testkit::OmpThreads threads(2);
      side = step_grads(c->model, ex);
      again = step_grads(c->model, ex);
    }
    {
      const testkit::OmpThreads threads(1);
      one = step_grads(c->model, ex);
    }
    ASSERT_EQ(side.size(), again.size());
    EXPECT_EQ(std::memcmp(side.data(), again.data(), side.size() * sizeof(float)), 0);
    double diff2 = 0, norm2 = 0;
    for (size_t i = 0; i < one.size(); ++i) {
      diff2 += double(side[i] - one[i]) * double(side[i] - one[i]);
      norm2 += double(one[i]) * double(one[i]);
    }
    EXPECT_LT(std::sqrt(diff2 / norm2), 1e-5);
  }
}

}  // namespace
}  // namespace symphony
