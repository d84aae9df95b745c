// The B/W split of a backward pass (model/weight_grad_queue.h, zero-bubble schedules): after B
// alone the deferred weight gradients are still zero while the rest are done; B then W gives
// bitwise the gradients of the undivided backward, for a dense and a MoE model, with and without
// full recomputation, with an untied LM head (its weight gradient waits for W too) and a tied one
// (the embedding's gradient sums both uses in B), and with multi-token prediction modules (whose
// layers defer theirs too; the LM head's then runs in B), in fp32 and with bf16 GEMMs, on one
// thread; on two, bitwise for dense models and within 1e-5 normwise for MoE ones.
#include "model/weight_grad_queue.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/rng.h"
#include "model/init.h"
#include "model/transformer.h"
#include "testkit/omp_threads.h"

namespace symphony {
namespace {

struct Case {
  bool dense;
  Recompute recompute;
  bool tied = false;
  int64_t mtp = 0;  // model.num_nextn_predict_layers
  bool bf16 = false;  // bf16 GEMMs (W converts each deferred input once for its records)
};

class WeightGradQueueTest : public testing::TestWithParam<Case> {};

std::vector<float> grads_of(const Transformer& m) {
  ConstView g = m.params().all_grads();
  return {g.f32(), g.f32() + g.numel()};
}

// The gradients of two micro-batches, undivided and split into B and W.
struct SplitAndWhole {
  std::vector<float> whole, split;
};

void run_both(const Case& param, SplitAndWhole& out) {
  std::vector<std::string> overrides = {"train.seq_len=16", "train.micro_batch_size=2"};
  if (param.dense) overrides.push_back("model.num_experts=0");
  overrides.push_back(std::string("model.tie_word_embeddings=") + (param.tied ? "true" : "false"));
  overrides.push_back("model.num_nextn_predict_layers=" + std::to_string(param.mtp));
  const Result<RunConfig> c = load_run_config("tiny", overrides);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  const BatchShape shape{2, 16};
  const Exec ex = Exec::cpu().with_matmul(param.bf16 ? Precision::kBf16 : Precision::kFp32);
  Transformer whole(c->model, DType::kF32, shape, param.recompute);
  Transformer split(c->model, DType::kF32, shape, param.recompute);
  init_params(c->model, 5, whole.params());
  init_params(c->model, 5, split.params());
  std::vector<int32_t> tokens(32), targets(32);
  Rng rng(3);
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = int32_t(rng.next_u64() % uint64_t(c->model.vocab_size));
    targets[i] = int32_t(rng.next_u64() % uint64_t(c->model.vocab_size));
  }
  const LossScales scales{1.0 / 64, 0.5};
  whole.params().zero_grads();
  split.params().zero_grads();
  // Two micro-batches: the second accumulates onto the first's gradients.
  for (int mb = 0; mb < 2; ++mb) {
    whole.forward_backward(ex, shape, tokens, targets, scales);
    split.forward_chunk(ex, shape, 0, 0, tokens, targets, scales, true);
    split.backward_chunk(ex, shape, 0, 0, tokens, targets, ConstView(), scales, View(),
                         WeightGrads::kDeferred, mb);
    if (mb == 0) {
      // B alone: the projections' weight gradients wait for W; the norms' are done.
      const ParamStore& p = split.params();
      for (ParamId id = 0; id < ParamId(p.infos().size()); ++id) {
        const std::string& name = p.info(id).name;
        ConstView g = p.grad(id);
        bool zero = true;
        for (int64_t i = 0; i < g.numel(); ++i) zero = zero && g.f32()[i] == 0.f;
        if (name.find("q_proj") != std::string::npos || name.find("up_proj") != std::string::npos ||
            (name == "lm_head.weight" && param.mtp == 0) ||
            name.find("eh_proj") != std::string::npos) {
          EXPECT_TRUE(zero) << name << " was accumulated in B";
        }
        if (name == "model.embed_tokens.weight" || name == "model.norm.weight") {
          EXPECT_FALSE(zero) << name << " was not accumulated in B";
        }
        if (name.find("input_layernorm") != std::string::npos) {
          EXPECT_FALSE(zero) << name << " was not accumulated in B";
        }
      }
    }
    split.weight_grads(ex, mb);
  }
  out = {grads_of(whole), grads_of(split)};
}

TEST_P(WeightGradQueueTest, SplitBackwardEqualsUndividedBitwise) {
  SplitAndWhole one, two;
  {
    const testkit::OmpThreads threads(1);
    ASSERT_NO_FATAL_FAILURE(run_both(GetParam(), one));
  }
  ASSERT_EQ(one.whole.size(), one.split.size());
  EXPECT_EQ(std::memcmp(one.whole.data(), one.split.data(), one.whole.size() * sizeof(float)), 0);
  // On more threads the undivided backward runs a MoE layer's experts side by side, each GEMM on
  // one thread (model/moe/expert_threads.h), while B, whose weight gradients wait in the queue,
  // runs them one at a time over every thread: a GEMM's sums may then be blocked differently.
  {
    const testkit::OmpThreads threads(2);
    ASSERT_NO_FATAL_FAILURE(run_both(GetParam(), two));
  }
  if (GetParam().dense) {
    EXPECT_EQ(std::memcmp(two.whole.data(), two.split.data(), two.whole.size() * sizeof(float)),
              0);
    return;
  }
  double diff2 = 0, norm2 = 0;
  for (size_t i = 0; i < two.whole.size(); ++i) {
    diff2 += double(two.split[i] - two.whole[i]) * double(two.split[i] - two.whole[i]);
    norm2 += double(two.whole[i]) * double(two.whole[i]);
  }
  EXPECT_LT(std::sqrt(diff2 / norm2), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Models, WeightGradQueueTest,
                         testing::Values(Case{true, Recompute::kNone}, Case{false, Recompute::kNone},
                                         Case{false, Recompute::kFull},
                                         Case{true, Recompute::kNone, true},
                                         Case{false, Recompute::kNone, false, 2},
                                         Case{true, Recompute::kFull, false, 1},
                                         Case{true, Recompute::kNone, false, 0, true},
                                         Case{false, Recompute::kNone, true, 0, true}));

}  // namespace
}  // namespace symphony
