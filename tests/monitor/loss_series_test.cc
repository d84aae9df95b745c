#include "monitor/loss_series.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace symphony {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

TEST(LossSeries, KeepsOneStepRecordPerStepInOrderTheLastWinning) {
  // A run killed after step 3's record but before its checkpoint (at step 2) re-runs step 3.
  const std::vector<json> records = {
      {{"step", 0}, {"init_from", "x"}},
      {{"step", 1}, {"loss", 5.0}, {"lr", 1e-3}},
      {{"step", 2}, {"loss", 4.0}},
      {{"step", 2}, {"checkpoint_stall_s", 0.1}},
      {{"step", 2}, {"checkpoint", "runs/x/checkpoints/step-00000002"}},
      {{"step", 2}, {"eval_loss", 4.5}},
      {{"step", 3}, {"loss", 3.5}},
      {{"step", 2}, {"rank", 1}, {"rank_times", json::object()}},
      {{"step", 3}, {"loss", 3.25}},
      {{"step", 4}, {"loss", 3.0}},
      {{"step", 4}, {"eval_loss", 3.75}},
  };
  Result<LossSeries> s = loss_series(records, "metrics.jsonl");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  ASSERT_EQ(s->train.size(), 4u);
  const double steps[] = {1, 2, 3, 4}, losses[] = {5.0, 4.0, 3.25, 3.0};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(s->train[i].step, steps[i]);
    EXPECT_EQ(s->train[i].value, losses[i]);
  }
  ASSERT_EQ(s->eval.size(), 2u);
  EXPECT_EQ(s->eval[0].step, 2);
  EXPECT_EQ(s->eval[0].value, 4.5);
  EXPECT_EQ(s->eval[1].value, 3.75);
}

TEST(LossSeries, RefusesARecordWhoseStepOrLossIsNotANumber) {
  Result<LossSeries> s = loss_series({{{"step", 1}, {"loss", 5.0}}, {{"step", "two"}, {"loss", 4}}},
                                     "runs/a/metrics.jsonl");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(s.error().message(), HasSubstr("runs/a/metrics.jsonl: record 2"));
  s = loss_series({{{"step", 1}, {"eval_loss", "nan"}}}, "m.jsonl");
  ASSERT_FALSE(s.has_value());
  EXPECT_THAT(s.error().message(), HasSubstr("eval_loss"));
}

TEST(LossSeries, ReadsAMetricsLogAndNamesAMissingOne) {
  const std::filesystem::path dir = ::testing::TempDir() + "loss_series_test";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "metrics.jsonl");
    f << R"({"step": 1, "loss": 2.5})" "\n" R"({"step": 1, "eval_loss": 2.75})" "\n";
  }
  Result<LossSeries> s = read_loss_series(dir / "metrics.jsonl");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->train.size(), 1u);
  EXPECT_EQ(s->eval.size(), 1u);
  s = read_loss_series(dir / "missing.jsonl");
  ASSERT_FALSE(s.has_value());
  EXPECT_THAT(s.error().message(), HasSubstr("missing.jsonl"));
}

}  // namespace
}  // namespace symphony
