#include "monitor/flops.h"

#include <gtest/gtest.h>

namespace symphony {
namespace {

// Two dense layers of width 8: 2 heads of 4, 1 KV head, SwiGLU of 16, a vocabulary of 100.
ModelConfig small_dense() {
  ModelConfig c;
  c.vocab_size = 100;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  c.intermediate_size = 16;
  c.num_experts = 0;
  return c;
}

TEST(Flops, DenseModelByHand) {
  const ModelConfig c = small_dense();
  // head 800; per layer q 64 + o 64 + k 32 + v 32 + mlp 384 = 576
  EXPECT_EQ(active_matmul_params(c), 800 + 2 * 576);
  EXPECT_DOUBLE_EQ(training_flops_per_token(c, 3), 6.0 * 1952 + 6.0 * 8 * 4 * 2);
}

TEST(Flops, MoeCountsOnlyActiveExperts) {
  ModelConfig c;
  c.vocab_size = 10;
  c.hidden_size = 4;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 1;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  c.num_experts = 8;
  c.num_experts_per_tok = 2;
  c.n_shared_experts = 1;
  c.moe_intermediate_size = 5;
  // head 40; attention 4 * 16 = 64; router 32; 3 experts * 3 * 4 * 5 = 180
  EXPECT_EQ(active_matmul_params(c), 40 + 64 + 32 + 180);
}

TEST(Flops, SlidingWindowLayersAttendToFewerKeys) {
  ModelConfig c = small_dense();
  const double matmul = 6.0 * double(active_matmul_params(c));
  // T = 4: full layers average 2.5 keys; a window of 2 gives 1.75 (1, 2, 2, 2).
  EXPECT_DOUBLE_EQ(training_flops_per_token(c, 4) - matmul, 6.0 * 16 * (2.5 + 2.5));
  c.sliding_window = 2;
  c.sliding_window_pattern = 2;  // layer 0 slides, layer 1 attends fully
  EXPECT_DOUBLE_EQ(training_flops_per_token(c, 4) - matmul, 6.0 * 16 * (1.75 + 2.5));
}

}  // namespace
}  // namespace symphony
