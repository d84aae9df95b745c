// The B/W split of a backward pass (model/weight_grad_queue.h, zero-bubble schedules): after B
// alone the deferred weight gradients are still zero while the rest are done; B then W gives
// bitwise the gradients of the undivided backward, for a dense and a MoE model, with and without
// full recomputation, with an untied LM head (its weight gradient waits for W too) and a tied one
// (the embedding's gradient sums both uses in B), and with multi-token prediction modules (whose
// layers defer theirs too; the LM head's then runs in B).
#include "model/weight_grad_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/rng.h"
#include "model/init.h"
#include "model/transformer.h"

namespace symphony {
namespace {

struct Case {
  bool dense;
  Recompute recompute;
  bool tied = false;
  int64_t mtp = 0;  // model.num_nextn_predict_layers
};

class WeightGradQueueTest : public testing::TestWithParam<Case> {};

std::vector<float> grads_of(const Transformer& m) {
  ConstView g = m.params().all_grads();
  return {g.f32(), g.f32() + g.numel()};
}

TEST_P(WeightGradQueueTest, SplitBackwardEqualsUndividedBitwise) {
  std::vector<std::string> overrides = {"train.seq_len=16", "train.micro_batch_size=2"};
  if (GetParam().dense) overrides.push_back("model.num_experts=0");
  overrides.push_back(std::string("model.tie_word_embeddings=") +
                      (GetParam().tied ? "true" : "false"));
  overrides.push_back("model.num_nextn_predict_layers=" + std::to_string(GetParam().mtp));
  const Result<RunConfig> c = load_run_config("tiny", overrides);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  const BatchShape shape{2, 16};
  const Exec ex = Exec::cpu();
  Transformer whole(c->model, DType::kF32, shape, GetParam().recompute);
  Transformer split(c->model, DType::kF32, shape, GetParam().recompute);
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
            (name == "lm_head.weight" && GetParam().mtp == 0) ||
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
  const std::vector<float> a = grads_of(whole), b = grads_of(split);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

INSTANTIATE_TEST_SUITE_P(Models, WeightGradQueueTest,
                         testing::Values(Case{true, Recompute::kNone}, Case{false, Recompute::kNone},
                                         Case{false, Recompute::kFull},
                                         Case{true, Recompute::kNone, true},
                                         Case{false, Recompute::kNone, false, 2},
                                         Case{true, Recompute::kFull, false, 1}));

}  // namespace
}  // namespace symphony
