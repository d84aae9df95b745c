#include "monitor/run_metrics.h"

#include <gtest/gtest.h>

#include "testkit/prometheus_parse.h"

namespace symphony {
namespace {

RunMetricsSnapshot two_rank_snapshot() {
  RunMetricsSnapshot s;
  s.step = 40;
  s.total_steps = 100;
  s.loss = 3.125;
  s.lr = 1e-3;
  s.grad_norm = 0.5;
  s.tokens_per_s = 20000;
  s.step_time_s = 0.025;
  s.tokens = 40 * 512;
  s.max_over_mean_load = 1.75;
  s.dropped_fraction = 0.0;
  s.straggler_alarms = 1;
  s.checkpoint_step = 30;
  s.checkpoint_unix_s = 1000;
  for (int r = 0; r < 2; ++r) {
    RankMetrics m;
    m.rank = r;
    m.host = "node" + std::to_string(r);
    m.pid = 100 + r;
    m.per_step = step_times(0.02 + 0.01 * r, 0.001, 0, {});
    m.memory_bytes[size_t(MemoryCategory::kWeights)] = 4096;
    m.memory_peak_bytes[size_t(MemoryCategory::kActivations)] = 8192;
    m.straggler = r == 1;
    s.ranks.push_back(m);
  }
  return s;
}

TEST(RunMetrics, EveryFigureIsExposedWithItsLabels) {
  const std::string text =
      render_prometheus_text(run_metric_families(two_rank_snapshot(), /*now_unix_s=*/1012.5));
  Result<testkit::ParsedExposition> p = testkit::parse_prometheus_text(text);
  ASSERT_TRUE(p.has_value()) << p.error().message() << "\n" << text;
  auto value = [&](const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    const auto found = p->find(name, labels);
    EXPECT_EQ(found.size(), 1u) << name;
    return found.empty() ? NAN : found[0].value;
  };
  EXPECT_EQ(value("symphony_step"), 40);
  EXPECT_EQ(value("symphony_loss"), 3.125);
  EXPECT_EQ(value("symphony_tokens_per_second"), 20000);
  EXPECT_EQ(value("symphony_tokens_total"), 40 * 512);
  EXPECT_EQ(p->type.at("symphony_tokens_total"), "counter");
  EXPECT_EQ(value("symphony_step_time_seconds"), 0.025);
  EXPECT_EQ(value("symphony_router_max_over_mean_load"), 1.75);
  EXPECT_EQ(value("symphony_stragglers_total"), 1);
  EXPECT_EQ(value("symphony_checkpoint_step"), 30);
  EXPECT_EQ(value("symphony_checkpoint_age_seconds"), 12.5);
  EXPECT_EQ(value("symphony_rank_info", {{"rank", "1"}, {"host", "node1"}, {"pid", "101"}}), 1);
  EXPECT_NEAR(value("symphony_rank_compute_seconds", {{"rank", "1"}}), 0.029, 1e-15);
  EXPECT_EQ(value("symphony_rank_data_wait_seconds", {{"rank", "0"}}), 0.001);
  EXPECT_EQ(value("symphony_rank_comm_wait_seconds", {{"rank", "0"}, {"kind", "expert"}}), 0);
  EXPECT_EQ(p->find("symphony_rank_comm_wait_seconds").size(), size_t(2 * kNumWaitKinds));
  EXPECT_EQ(value("symphony_rank_straggler", {{"rank", "1"}}), 1);
  EXPECT_EQ(value("symphony_rank_straggler", {{"rank", "0"}}), 0);
  EXPECT_EQ(value("symphony_memory_bytes", {{"rank", "0"}, {"category", "weights"}}), 4096);
  EXPECT_EQ(value("symphony_memory_peak_bytes", {{"rank", "1"}, {"category", "activations"}}),
            8192);
  // Unknown figures are left out, not written as NaN: MFU without a peak, no evaluation yet.
  EXPECT_TRUE(p->find("symphony_mfu_ratio").empty());
  EXPECT_TRUE(p->find("symphony_eval_loss").empty());
  EXPECT_TRUE(p->help.count("symphony_mfu_ratio"));
}

TEST(RunMetrics, BeforeTheFirstStepOnlyCountsAreExposed) {
  RunMetricsSnapshot s;
  s.total_steps = 10;
  const auto p = testkit::parse_prometheus_text(render_prometheus_text(run_metric_families(s, 0)));
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_TRUE(p->find("symphony_loss").empty());
  EXPECT_EQ(p->find("symphony_step")[0].value, 0);
  EXPECT_TRUE(p->find("symphony_checkpoint_age_seconds").empty());
}

}  // namespace
}  // namespace symphony
