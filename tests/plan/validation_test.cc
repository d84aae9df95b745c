#include "plan/validation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <tuple>

namespace symphony::plan {
namespace {

const std::vector<ValidationRow>& rows() {
  static const std::vector<ValidationRow> all = run_validation();
  return all;
}

TEST(Validation, EveryFittingRunWithinFifteenPercent) {
  int64_t fitting = 0;
  for (const ValidationRow& r : rows()) {
    if (r.run.set != ValidationSet::kFitting) continue;
    ++fitting;
    SCOPED_TRACE(r.run.name + ": " + r.layout);
    EXPECT_LT(std::abs(r.relative_error), 0.15)
        << "predicted " << r.predicted << " against published " << r.run.published;
  }
  EXPECT_GE(fitting, 14);
}

// The evaluation set is what docs/plan.md reports as the planner's accuracy on runs it was not
// fitted to: at least 30 runs, a third of them MoE, every one citing a listed source.
TEST(Validation, EvaluationSetIsLargeAndCitesItsSources) {
  std::set<std::string> keys;
  for (const ValidationSource& s : validation_sources()) keys.insert(s.key);
  const ErrorSummary e = summarize(rows(), ValidationSet::kEvaluation);
  EXPECT_GE(e.runs, 30);
  EXPECT_GE(3 * e.moe_runs, e.runs);
  for (const ValidationRun& r : validation_runs()) {
    SCOPED_TRACE(r.name);
    EXPECT_TRUE(keys.count(r.source)) << r.source;
    EXPECT_GT(r.published, 0);
  }
}

// No evaluation run repeats a fitting run's model, hardware, precision and parallel layout.
TEST(Validation, EvaluationRunsAreNotFittingRuns) {
  using Key = std::tuple<int64_t, int64_t, int64_t, std::string, int, int, int64_t, int64_t,
                         int64_t, int64_t>;
  auto key = [](const ValidationRun& r) {
    return Key{r.model.hidden_size, r.model.num_hidden_layers, r.model.num_experts,
               r.hardware(), int(r.precision), int(r.fp8_recipe), r.tp, r.pp, r.cp, r.ep};
  };
  std::set<Key> fitting;
  for (const ValidationRun& r : validation_runs())
    if (r.set == ValidationSet::kFitting) fitting.insert(key(r));
  for (const ValidationRun& r : validation_runs()) {
    if (r.set != ValidationSet::kEvaluation) continue;
    SCOPED_TRACE(r.name);
    EXPECT_FALSE(fitting.count(key(r)));
  }
}

// The accuracy docs/plan.md states, as a floor that a change to the model must not lose.
TEST(Validation, EvaluationErrors) {
  const ErrorSummary e = summarize(rows(), ValidationSet::kEvaluation);
  EXPECT_LE(e.median, 0.10);
  EXPECT_LE(e.dense_median, 0.10);
  EXPECT_LE(e.dense_p90, 0.20);
  // MoE runs: short of the 15% aimed at (docs/plan.md says why), but no worse than today.
  EXPECT_LE(e.moe_median, 0.17);
  EXPECT_LE(e.moe_p90, 0.50);
  const ErrorSummary f = summarize(rows(), ValidationSet::kFitting);
  EXPECT_LE(f.median, 0.08);
}

TEST(Validation, SummaryIsMedianAndNearestRankPercentile) {
  std::vector<ValidationRow> v;
  for (double e : {0.01, -0.02, 0.03, -0.04, 0.05, 0.06, -0.07, 0.08, 0.09, -0.30}) {
    ValidationRow r;
    r.run.set = ValidationSet::kEvaluation;
    r.relative_error = e;
    v.push_back(r);
  }
  v[9].run.model.num_experts = 8;  // the one MoE run
  const ErrorSummary s = summarize(v, ValidationSet::kEvaluation);
  EXPECT_EQ(s.runs, 10);
  EXPECT_EQ(s.moe_runs, 1);
  EXPECT_DOUBLE_EQ(s.median, 0.055);  // between 0.05 and 0.06
  EXPECT_DOUBLE_EQ(s.p90, 0.09);      // the 9th of 10
  EXPECT_DOUBLE_EQ(s.moe_median, 0.30);
  EXPECT_DOUBLE_EQ(s.dense_median, 0.05);
  EXPECT_EQ(summarize(v, ValidationSet::kFitting).runs, 0);
}

TEST(Validation, FittingDenseRunsFitInTheMemoryModel) {
  for (const ValidationRow& r : rows()) {
    if (r.run.moe() || r.run.set != ValidationSet::kFitting) continue;  // DeepSeek-V3: docs
    SCOPED_TRACE(r.run.name);
    EXPECT_TRUE(r.fits) << r.memory_bytes / double(1 << 30) << " GiB";
  }
}

TEST(Validation, MegatronFlopConventionMatchesThePaper) {
  // The paper's 1T model: 3072 GPUs at 163 TFLOP/s are 502 PFLOP/s aggregate.
  for (const ValidationRun& r : validation_runs()) {
    if (r.name != "GPT 1008.0B") continue;
    EXPECT_NEAR(r.published * double(r.gpus) / 1e3, 502.0, 2.0);  // rounded per GPU
    // The GPT representation keeps the paper's parameter count (12 l h^2 dominated).
    const ModelCosts m = model_costs(r.model, r.seq_len);
    EXPECT_NEAR(double(m.total_params()) / 1e9, 1008.0, 1008.0 * 0.005);
  }
}

TEST(Validation, TableShowsBothSetsAndTheirSummaries) {
  const std::string t = format_validation_table(rows());
  EXPECT_NE(t.find("Fitting set ("), std::string::npos);
  EXPECT_NE(t.find("Evaluation set ("), std::string::npos);
  EXPECT_NE(t.find("Evaluation set: "), std::string::npos);
  EXPECT_NE(t.find("90th percentile"), std::string::npos);
  EXPECT_NE(t.find("MoE median"), std::string::npos);
  EXPECT_NE(t.find("`bridge-25.11`: "), std::string::npos);
}

}  // namespace
}  // namespace symphony::plan
