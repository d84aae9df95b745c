#include "plan/expert_gemm.h"

#include <gtest/gtest.h>

#include <cmath>

namespace symphony::plan {
namespace {

// H100-like achieved rates: 613 TFLOP/s of bf16 GEMMs, 2.68 TB/s of HBM (a ratio of 229 FLOP per
// byte).
constexpr ExpertGemmRates kRates{.flops = 613e12, .bytes = 2.68e12};
constexpr ExpertGemmBytes kBf16{.input = 2, .weight = 2, .output = 2, .accumulator = 8};

// Qwen3-30B-A3B's experts: D 2048, F 768, gated.
ExpertGemmShape qwen3(double rows_per_expert, int64_t experts) {
  return {.rows = rows_per_expert * double(experts),
          .experts = experts,
          .hidden = 2048,
          .width = 768,
          .matrices = 3};
}

// Forward FLOPs: fc1 2 M D 2F and fc2 2 M F D per expert.
double forward_flops(const ExpertGemmShape& s) {
  return 2.0 * s.rows * double(s.hidden) * double(s.width) * double(s.matrices);
}

TEST(ExpertGemm, ManyRowsPerExpertAreComputeBound) {
  const ExpertGemmShape s = qwen3(65536, 4);
  const ExpertGemmTime t = expert_gemm_time(s, kBf16, kRates);
  EXPECT_DOUBLE_EQ(t.flops, forward_flops(s));
  EXPECT_NEAR(t.forward, forward_flops(s) / kRates.flops, 1e-12);
  // Input and weight gradients each cost a forward's FLOPs.
  EXPECT_NEAR(t.backward_input, t.forward, 1e-12);
  EXPECT_NEAR(t.backward_weight, t.forward, 1e-12);
  EXPECT_DOUBLE_EQ(expert_gemm_efficiency(s, kBf16, kRates), 1.0);
}

TEST(ExpertGemm, FewRowsPerExpertAreBoundByTheWeights) {
  // 4 rows per expert: streaming the 16 experts' weights dominates every pass.
  const ExpertGemmShape s = qwen3(4, 16);
  const ExpertGemmTime t = expert_gemm_time(s, kBf16, kRates);
  const double weights = 16.0 * 3.0 * 2048.0 * 768.0;  // parameters
  EXPECT_GT(t.forward, 20.0 * t.flops / kRates.flops);
  EXPECT_NEAR(t.forward, weights * kBf16.weight / kRates.bytes, 0.02 * t.forward);
  // The weight gradients read and write the accumulated fp32 gradients: 4x the bf16 weights.
  EXPECT_NEAR(t.backward_weight, weights * kBf16.accumulator / kRates.bytes,
              0.02 * t.backward_weight);
  EXPECT_LT(expert_gemm_efficiency(s, kBf16, kRates), 0.05);
}

TEST(ExpertGemm, EfficiencyRisesWithRowsPerExpertToOne) {
  double previous = 0;
  for (double m = 1; m <= 16384; m *= 2) {
    const double e = expert_gemm_efficiency(qwen3(m, 16), kBf16, kRates);
    SCOPED_TRACE(m);
    EXPECT_GE(e, previous);
    EXPECT_LE(e, 1.0);
    previous = e;
  }
  EXPECT_DOUBLE_EQ(previous, 1.0);
  EXPECT_LT(expert_gemm_efficiency(qwen3(16, 16), kBf16, kRates), 0.2);
}

// The same routed rows spread over more experts: more weights to stream, fewer rows to amortise
// them over.
TEST(ExpertGemm, MoreExpertsForTheSameRowsCostMore) {
  const double rows = 4096;
  double previous = 0;
  for (int64_t experts = 1; experts <= 256; experts *= 2) {
    const ExpertGemmTime t = expert_gemm_time(qwen3(rows / double(experts), experts), kBf16, kRates);
    const double total = t.forward + t.backward_input + t.backward_weight;
    SCOPED_TRACE(experts);
    EXPECT_GE(total, previous);
    previous = total;
  }
  const ExpertGemmTime one = expert_gemm_time(qwen3(rows, 1), kBf16, kRates);
  const ExpertGemmTime many = expert_gemm_time(qwen3(rows / 256, 256), kBf16, kRates);
  EXPECT_GT(many.backward_weight, 4.0 * one.backward_weight);
}

// Narrow experts (small F) move their rows' inputs and outputs for little arithmetic.
TEST(ExpertGemm, NarrowExpertsReachLessOfTheGemmRate) {
  double previous = 0;
  for (int64_t width = 32; width <= 8192; width *= 2) {
    ExpertGemmShape s = qwen3(8192, 8);
    s.width = width;
    const double e = expert_gemm_efficiency(s, kBf16, kRates);
    SCOPED_TRACE(width);
    EXPECT_GE(e, previous);
    previous = e;
  }
  ExpertGemmShape narrow = qwen3(8192, 8);
  narrow.width = 32;
  EXPECT_LT(expert_gemm_efficiency(narrow, kBf16, kRates), 0.5);
}

// A machine with more HBM bandwidth per FLOP keeps the same experts compute bound to fewer rows.
TEST(ExpertGemm, MoreBandwidthPerFlopHelpsOnlyMemoryBoundShapes) {
  const ExpertGemmRates wide{.flops = kRates.flops, .bytes = 2.0 * kRates.bytes};
  EXPECT_GT(expert_gemm_efficiency(qwen3(64, 16), kBf16, wide),
            expert_gemm_efficiency(qwen3(64, 16), kBf16, kRates));
  EXPECT_DOUBLE_EQ(expert_gemm_efficiency(qwen3(65536, 16), kBf16, wide),
                   expert_gemm_efficiency(qwen3(65536, 16), kBf16, kRates));
}

TEST(ExpertGemm, Bf16GradientsHalveTheAccumulationTraffic) {
  ExpertGemmBytes bf16_grads = kBf16;
  bf16_grads.accumulator = 4;
  const ExpertGemmTime f32 = expert_gemm_time(qwen3(4, 16), kBf16, kRates);
  const ExpertGemmTime b16 = expert_gemm_time(qwen3(4, 16), bf16_grads, kRates);
  EXPECT_NEAR(b16.backward_weight / f32.backward_weight, 0.5, 0.02);
  EXPECT_DOUBLE_EQ(b16.forward, f32.forward);
  // Many rows: compute bound either way.
  EXPECT_DOUBLE_EQ(expert_gemm_time(qwen3(65536, 4), bf16_grads, kRates).backward_weight,
                   expert_gemm_time(qwen3(65536, 4), kBf16, kRates).backward_weight);
}

TEST(ExpertGemm, UngatedExpertsHaveOneInputMatrix) {
  ExpertGemmShape gated = qwen3(65536, 4), plain = gated;
  plain.matrices = 2;
  const double g = expert_gemm_time(gated, kBf16, kRates).forward;
  const double p = expert_gemm_time(plain, kBf16, kRates).forward;
  EXPECT_NEAR(p / g, 2.0 / 3.0, 1e-12);
}

TEST(ExpertGemm, NoRowsNoTime) {
  const ExpertGemmTime t = expert_gemm_time(qwen3(0, 16), kBf16, kRates);
  EXPECT_EQ(t.forward + t.backward_input + t.backward_weight, 0.0);
}

}  // namespace
}  // namespace symphony::plan
