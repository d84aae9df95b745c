#include "model/memory_plan.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "kernels/gemm.h"
#include "model/init.h"
#include "optim/adamw.h"
#include "tensor/memory_stats.h"
#include "testkit/gradient_check.h"

namespace symphony {
namespace {

int64_t current(const MemorySnapshot& s, MemoryCategory c) {
  return s.current_bytes[size_t(c)];
}

void expect_plan_matches_allocation(const ModelConfig& c, BatchShape shape, Recompute mode,
                                    Precision saved = Precision::kFp32) {
  MemoryPlan plan = plan_training_memory(c, DType::kF32, shape, mode, {}, true, saved);
  MemorySnapshot before = memory_stats_snapshot();
  Transformer model(c, DType::kF32, shape, mode, {}, {}, saved);
  AdamW optimizer(OptimConfig{}, model.params());
  MemorySnapshot after = memory_stats_snapshot();
  auto grown = [&](MemoryCategory cat) { return current(after, cat) - current(before, cat); };
  EXPECT_EQ(grown(MemoryCategory::kWeights), plan.weights);
  EXPECT_EQ(grown(MemoryCategory::kGrads), plan.grads);
  EXPECT_EQ(grown(MemoryCategory::kOptimizer), plan.optimizer);
  EXPECT_EQ(grown(MemoryCategory::kActivations), plan.activations);
  EXPECT_EQ(grown(MemoryCategory::kOther), plan.other);
}

ModelConfig small_moe() {
  ModelConfig c;
  c.vocab_size = 300;
  c.hidden_size = 32;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.qk_norm = true;
  c.intermediate_size = 48;
  c.first_k_dense_replace = 1;
  c.num_experts = 4;
  c.num_experts_per_tok = 2;
  c.moe_intermediate_size = 16;
  c.n_shared_experts = 1;
  c.tie_word_embeddings = false;
  return c;
}

// Also with the activations saved in bf16 (model/act_stash.h): the attention's and SwiGLUs' in
// bf16, the normed inputs recomputed, and their shared working sets; under full recomputation
// nothing changes.
TEST(MemoryPlan, MatchesAllocationExactly) {
  for (Precision saved : {Precision::kFp32, Precision::kBf16})
    for (Recompute mode : {Recompute::kNone, Recompute::kFull}) {
      SCOPED_TRACE(fmt::format("recompute {}, saved {}", int(mode), precision_name(saved)));
      expect_plan_matches_allocation(small_moe(), {2, 300}, mode, saved);
      ModelConfig dense = small_moe();
      dense.num_experts = 0;
      dense.qk_norm = false;
      dense.tie_word_embeddings = true;
      expect_plan_matches_allocation(dense, {3, 20}, mode, saved);
      // Odd sizes: 7 rows of 5.
      ModelConfig odd = dense;
      odd.intermediate_size = 5;
      expect_plan_matches_allocation(odd, {1, 7}, mode, saved);
      // Multi-token prediction: its modules' layers, activations and scratch.
      ModelConfig mtp = small_moe();
      mtp.num_nextn_predict_layers = 2;
      expect_plan_matches_allocation(mtp, {2, 30}, mode, saved);
      dense.num_nextn_predict_layers = 1;
      expect_plan_matches_allocation(dense, {3, 20}, mode, saved);
    }
}

// A dense model of L layers keeps per layer, in fp32, 3 n F SwiGLU values (g, u, a), S = n (3 q +
// 3 kv) attention values (q, k, v, out and, with qk_norm, the raw q and k) and the two normed
// inputs (2 n D). In bf16: n F floats for g and u, S / 2 for the attention's, no normed inputs,
// plus one fp32 working set of max(3 n F, S) and one of n D for the normed inputs; independent of
// the plan's arithmetic.
TEST(MemoryPlan, Bf16SavedActivationsTakeHalfTheirBytesOrLessPlusTheWorkingSets) {
  ModelConfig dense = small_moe();
  dense.num_experts = 0;
  dense.num_hidden_layers = 8;
  for (int64_t f : {int64_t(24), int64_t(100)}) {
    dense.intermediate_size = f;
    const BatchShape shape{4, 33};
    const int64_t n = shape.rows(), d = dense.hidden_size, layers = 8;
    const int64_t s = n * (3 * dense.q_dim() + 3 * dense.kv_dim());
    const MemoryPlan fp32 = plan_training_memory(dense, DType::kF32, shape, Recompute::kNone);
    const MemoryPlan bf16 = plan_training_memory(dense, DType::kF32, shape, Recompute::kNone, {},
                                                 true, Precision::kBf16);
    const int64_t per_layer = 3 * n * f + s + 2 * n * d;
    const int64_t bf16_per_layer = n * f + s / 2;
    const int64_t saved_bytes =
        4 * ((per_layer - bf16_per_layer) * layers - std::max(3 * n * f, s) - n * d);
    EXPECT_EQ(fp32.activations - bf16.activations, saved_bytes) << "F = " << f;
    EXPECT_EQ(fp32.weights, bf16.weights);
  }
  // Under full recomputation the one shared set stays fp32.
  EXPECT_EQ(plan_training_memory(dense, DType::kF32, {4, 33}, Recompute::kFull).activations,
            plan_training_memory(dense, DType::kF32, {4, 33}, Recompute::kFull, {}, true,
                                 Precision::kBf16)
                .activations);
}

TEST(MemoryPlan, MatchesAllocationExactlyWithMla) {
  ModelConfig mla = small_moe();
  mla.qk_norm = false;
  mla.q_lora_rank = 12;
  mla.kv_lora_rank = 10;
  mla.qk_rope_head_dim = 4;
  mla.qk_nope_head_dim = 6;
  mla.v_head_dim = 5;
  for (Precision saved : {Precision::kFp32, Precision::kBf16})
    for (Recompute mode : {Recompute::kNone, Recompute::kFull}) {
      SCOPED_TRACE(fmt::format("recompute {}, saved {}", int(mode), precision_name(saved)));
      expect_plan_matches_allocation(mla, {2, 40}, mode, saved);
      ModelConfig direct = mla;
      direct.q_lora_rank = 0;
      // More rows than forward_cached attends at once.
      expect_plan_matches_allocation(direct, {1, 100}, mode, saved);
    }
}

TEST(MemoryPlan, RecomputeSavesActivations) {
  ModelConfig c = small_moe();
  c.num_hidden_layers = 8;
  MemoryPlan none = plan_training_memory(c, DType::kF32, {4, 128}, Recompute::kNone);
  MemoryPlan full = plan_training_memory(c, DType::kF32, {4, 128}, Recompute::kFull);
  EXPECT_LT(full.activations * 2, none.activations);
  EXPECT_EQ(full.weights, none.weights);
}

TEST(MemoryPlan, OverflowingShapesHaveNoPlan) {
  const ModelConfig c = small_moe();
  EXPECT_TRUE(plan_training_memory_checked(c, DType::kF32, {4, 128}, Recompute::kNone));
  // Rows that fit, bytes that do not; rows that do not fit.
  EXPECT_FALSE(plan_training_memory_checked(c, DType::kF32, {int64_t(1) << 31, int64_t(1) << 31},
                                            Recompute::kFull));
  EXPECT_FALSE(plan_training_memory_checked(c, DType::kF32, {int64_t(1) << 40, int64_t(1) << 40},
                                            Recompute::kNone));
}

TEST(MemoryPlan, CountsManyLayersInClosedForm) {
  // The plan of 2^16 layers is the plan of 2 layers plus 2^16 - 2 more of the same kind.
  ModelConfig c = small_moe();
  const BatchShape shape{2, 16};
  c.num_hidden_layers = 2;
  const MemoryPlan two = plan_training_memory(c, DType::kF32, shape, Recompute::kNone);
  c.num_hidden_layers = 3;
  const MemoryPlan three = plan_training_memory(c, DType::kF32, shape, Recompute::kNone);
  c.num_hidden_layers = kMaxHiddenLayers;
  const MemoryPlan many = plan_training_memory(c, DType::kF32, shape, Recompute::kNone);
  EXPECT_EQ(many.activations - two.activations,
            (kMaxHiddenLayers - 2) * (three.activations - two.activations));
  EXPECT_EQ(many.other - two.other, (kMaxHiddenLayers - 2) * (three.other - two.other));
}

// The bf16 GEMM scratch one training micro-batch grows on a fresh thread: exactly the planned
// bytes for a dense model (every GEMM's shape is fixed by the config), at most the plan with
// routed experts (their rows follow the routing) or MLA.
TEST(MemoryPlan, Bf16GemmScratchHoldsTheLargestGemmOfAStep) {
  ModelConfig dense = small_moe();
  dense.num_experts = 0;
  dense.tie_word_embeddings = true;
  ModelConfig mla = small_moe();
  mla.qk_norm = false;
  mla.q_lora_rank = 12;
  mla.kv_lora_rank = 10;
  mla.qk_rope_head_dim = 4;
  mla.qk_nope_head_dim = 6;
  mla.v_head_dim = 5;
  const BatchShape shape{2, 40};
  for (const ModelConfig& c : {dense, small_moe(), mla}) {
    SCOPED_TRACE(c.num_experts == 0 ? "dense" : c.mla() ? "mla" : "moe");
    int64_t held = 0;
    std::thread([&] {
      Transformer model(c, DType::kF32, shape, Recompute::kNone);
      init_params(c, 3, model.params());
      const testkit::TokenBatch b = testkit::random_token_batch(c.vocab_size, shape, 5, 1);
      model.forward_backward(Exec::cpu().with_matmul(Precision::kBf16), shape, b.tokens, b.targets,
                             LossScales{1.0 / 80, 1.0});
      held = cpu::gemm_bf16_scratch_held_bytes();
    }).join();
    const int64_t planned = cpu::gemm_bf16_scratch_bytes(bf16_gemm_scratch_elems(c, shape));
    EXPECT_GT(held, 0);
    if (c.num_experts == 0)
      EXPECT_EQ(held, planned);
    else
      EXPECT_LE(held, planned);
  }
}

}  // namespace
}  // namespace symphony
