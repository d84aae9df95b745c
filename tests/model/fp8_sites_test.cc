#include "model/fp8_sites.h"

#include <gtest/gtest.h>

#include <limits>

namespace symphony {
namespace {

Fp8QuantStats stats(float amax, int64_t nonzero, int64_t underflow, int64_t saturated) {
  Fp8QuantStats s;
  s.amax = amax;
  s.nonzero = nonzero;
  s.underflow = underflow;
  s.saturated = saturated;
  return s;
}

TEST(Fp8Sites, RegistersAndFindsSitesByName) {
  Fp8SiteRegistry sites(Fp8Recipe{});
  const Fp8SiteId a =
      sites.add("layers.0.mlp.gate_proj fwd", Fp8Operand::kActivation, Fp8Operand::kWeight);
  const Fp8SiteId b =
      sites.add("layers.0.mlp.gate_proj dgrad", Fp8Operand::kGradient, Fp8Operand::kWeight);
  EXPECT_NE(a, b);
  EXPECT_EQ(sites.size(), 2);
  EXPECT_EQ(sites.find("layers.0.mlp.gate_proj dgrad"), b);
  EXPECT_EQ(sites.find("layers.0.mlp.gate_proj wgrad"), std::nullopt);
  EXPECT_EQ(sites.site(b).a, Fp8Operand::kGradient);
  EXPECT_EQ(sites.site(a).history_a.length(), Fp8Recipe{}.amax_history_length);
}

TEST(Fp8Sites, AccumulatesOperandStatistics) {
  Fp8SiteRegistry sites(Fp8Recipe{});
  const Fp8SiteId id = sites.add("s", Fp8Operand::kActivation, Fp8Operand::kWeight);
  sites.record_call(id, stats(3.f, 100, 10, 1), stats(0.5f, 50, 0, 0));
  sites.record_call(id, stats(2.f, 100, 30, 0), stats(0.7f, 50, 5, 0));
  const Fp8SiteState& s = sites.site(id);
  EXPECT_EQ(s.calls, 2);
  EXPECT_EQ(s.stats_a.last_amax, 2.f);
  EXPECT_EQ(s.stats_a.max_amax, 3.f);
  EXPECT_DOUBLE_EQ(s.stats_a.last_underflow_fraction, 0.3);
  EXPECT_DOUBLE_EQ(s.stats_a.underflow_fraction(), 0.2);
  EXPECT_EQ(s.stats_a.saturated, 1);
  EXPECT_DOUBLE_EQ(s.stats_b.underflow_fraction(), 0.05);
  EXPECT_EQ(s.stats_b.max_amax, 0.7f);
}

TEST(Fp8Sites, ChecksAreDueOnTheFirstCallAndEveryInterval) {
  Fp8Recipe recipe;
  recipe.error_check_interval = 4;
  Fp8SiteRegistry sites(recipe);
  const Fp8SiteId id = sites.add("s", Fp8Operand::kActivation, Fp8Operand::kWeight);
  std::vector<int> due;
  for (int call = 0; call < 10; ++call) {
    if (sites.error_check_due(id)) due.push_back(call);
    sites.record_call(id, {}, {});
  }
  EXPECT_EQ(due, (std::vector<int>{0, 4, 8}));
}

TEST(Fp8Sites, FallsBackOnceWhenTheErrorExceedsTheThreshold) {
  Fp8Recipe recipe;
  recipe.error_threshold = 0.2;
  Fp8SiteRegistry sites(recipe);
  const Fp8SiteId id =
      sites.add("layers.2.self_attn.o_proj wgrad", Fp8Operand::kGradient, Fp8Operand::kActivation);
  sites.set_step(5);
  EXPECT_FALSE(sites.record_error(id, {0.05, 0.2, 0.1}));  // at the threshold: kept
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(sites.record_error(id, {nan, 0.0, 0.0}));  // NaN inputs: no fallback
  EXPECT_FALSE(sites.site(id).fallen_back);
  sites.set_step(6);
  EXPECT_TRUE(sites.record_error(id, {0.01, 0.5, 0.02}));
  EXPECT_TRUE(sites.site(id).fallen_back);
  EXPECT_FALSE(sites.record_error(id, {0.9, 0.9, 0.9}));  // already fallen back
  ASSERT_EQ(sites.fallbacks().size(), 1u);
  EXPECT_EQ(sites.fallbacks()[0].site, "layers.2.self_attn.o_proj wgrad");
  EXPECT_EQ(sites.fallbacks()[0].step, 6);
  EXPECT_EQ(sites.fallbacks()[0].error.rows, 0.5);
  EXPECT_EQ(sites.site(id).checks, 4);
  EXPECT_EQ(sites.site(id).max_error, 0.9);
}

}  // namespace
}  // namespace symphony
