#pragma once
// Short `tiny` training runs at a given train.precision on Markov-chain token files in a
// temporary directory: the fixture of the bf16 and fp8 training tests. Each run trains two
// micro-batches of 256 tokens per step, warms up for 2 steps and does not evaluate unless
// `extra` overrides say otherwise.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "config/run_config.h"
#include "testkit/markov_tokens.h"
#include "testkit/temp_dir.h"
#include "train/trainer.h"

namespace symphony::testkit {

class PrecisionRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_markov_tokens(dir_ / "train.tok", 40000, 1);
    write_markov_tokens(dir_ / "val.tok", 4000, 2);
  }

  // `steps` steps of `tiny` into run `name` with GEMMs in `precision`; `extra` overrides last.
  RunConfig config(const std::string& name, int64_t steps, const std::string& precision,
                   const std::vector<std::string>& extra = {}) {
    std::vector<std::string> overrides = {
        "train.steps=" + std::to_string(steps),
        "train.precision=\"" + precision + "\"",
        "optim.warmup_steps=2",
        "train.eval_every=0",
        "train.global_batch_tokens=512",
        "data.train_path=\"" + (dir_ / "train.tok").string() + "\"",
        "data.val_path=\"" + (dir_ / "val.tok").string() + "\"",
        "train.run_dir=\"" + (dir_ / name).string() + "\""};
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    Result<RunConfig> c = load_run_config("tiny", overrides);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return *c;
  }

  Result<TrainResult> run(const RunConfig& c, std::string resume = "", int64_t stop_at = 0,
                          std::string init_from = "") {
    TrainOptions options;
    options.progress = ProgressOutput::kNone;
    options.resume = std::move(resume);
    options.stop_at_step = stop_at;
    options.init_from = std::move(init_from);
    return train(c, options);
  }

  TempDir dir_{"precision_run_test"};
};

// The mean of v[first, first + count).
inline double mean_of(const std::vector<double>& v, size_t first, size_t count) {
  double sum = 0;
  for (size_t i = first; i < first + count; ++i) sum += v[i];
  return sum / double(count);
}

}  // namespace symphony::testkit
