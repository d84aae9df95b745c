// Training with train.precision = "fp8" (linear layers as simulated FP8 GEMMs, other GEMMs in
// bf16) on the tiny MoE preset: the loss falls and stays near the bf16 run's, a rerun and a
// resumed run are bitwise the uninterrupted run (the FP8 state travels in the checkpoint), and a
// layer with an injected outlier falls back to bf16, reported in the metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_manifest.h"
#include "config/run_config.h"
#include "monitor/metrics_log.h"
#include "testkit/precision_runs.h"
#include "train/trainer.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

class Fp8TrainingTest : public testkit::PrecisionRunTest {
 protected:
  // Its fp8 runs use blocks of 64 (tiny's hidden size is 128).
  RunConfig config(const std::string& name, int64_t steps, const std::string& precision,
                   std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), "fp8.block_size=64");
    return PrecisionRunTest::config(name, steps, precision, extra);
  }

  std::vector<nlohmann::json> metrics(const std::string& name) {
    Result<std::vector<nlohmann::json>> r = read_metrics_log(dir_ / name / "metrics.jsonl");
    EXPECT_TRUE(r.has_value());
    return r.has_value() ? *r : std::vector<nlohmann::json>{};
  }
};


TEST_F(Fp8TrainingTest, BlockwiseLossFallsRerunsBitwiseAndStaysNearBf16) {
  const int64_t steps = 16;
  auto fp8 = run(config("fp8", steps, "fp8", {"train.eval_every=16", "train.eval_batches=1"}));
  ASSERT_TRUE(fp8.has_value()) << fp8.error().message();
  auto again = run(config("again", steps, "fp8"));
  ASSERT_TRUE(again.has_value()) << again.error().message();
  auto bf16 = run(config("bf16", steps, "bf16"));
  ASSERT_TRUE(bf16.has_value()) << bf16.error().message();
  ASSERT_EQ(fp8->losses.size(), size_t(steps));
  const double first = testkit::mean_of(fp8->losses, 0, 3);
  const double last = testkit::mean_of(fp8->losses, steps - 3, 3);
  EXPECT_LT(last, first - 1.0) << "first " << first << " last " << last;
  EXPECT_EQ(fp8->losses, again->losses);  // bitwise
  EXPECT_NE(fp8->losses, bf16->losses);   // the linear layers did run quantized
  // FP8 rounding (about 4% per GEMM output) moves the loss, not the training: the same init and
  // data stay within 1% at step 1 and 5% over the run.
  EXPECT_NEAR(fp8->losses[0], bf16->losses[0], 0.01 * bf16->losses[0]);
  for (size_t i = 0; i < size_t(steps); ++i)
    EXPECT_NEAR(fp8->losses[i], bf16->losses[i], 0.05 * bf16->losses[i]) << "step " << i + 1;
  // Every step reports its sites; blockwise scaling loses none of them on this model.
  int step_records = 0;
  for (const nlohmann::json& r : metrics("fp8")) {
    if (!r.contains("loss")) continue;
    ++step_records;
    EXPECT_GT(r.at("fp8_sites_active").get<int>(), 0);
    EXPECT_EQ(r.at("fp8_sites_fallen_back").get<int>(), 0);
    EXPECT_LT(r.at("fp8_max_error").get<double>(), 0.5);  // fp8.error_threshold
    EXPECT_FALSE(r.contains("fp8_fallbacks"));
  }
  EXPECT_EQ(step_records, steps);
  // Linear layers ran quantized; the router's scores (mlp.gate) stay out of FP8.
  int quantized_sites = 0;
  for (const nlohmann::json& r : metrics("fp8")) {
    if (!r.contains("fp8_sites")) continue;
    for (const nlohmann::json& site : r["fp8_sites"]) {
      const std::string name = site.at("site").get<std::string>();
      EXPECT_EQ(name.find(".mlp.gate.weight"), std::string::npos) << name;
      ++quantized_sites;
    }
  }
  EXPECT_GT(quantized_sites, 20);
}

TEST_F(Fp8TrainingTest, ResumeIsBitwiseWithTheFp8StateInTheCheckpoint) {
  // Delayed scaling: each step's scales come from earlier steps' amaxes, which the checkpoint
  // must carry for the resumed steps to match.
  const std::vector<std::string> delayed = {"fp8.scaling=\"delayed\"", "checkpoint.every=4",
                                            "fp8.check_every=3"};
  auto whole = run(config("whole", 8, "fp8", delayed));
  ASSERT_TRUE(whole.has_value()) << whole.error().message();
  auto part = run(config("part", 8, "fp8", delayed), "", 4);
  ASSERT_TRUE(part.has_value()) << part.error().message();
  Result<CheckpointManifest> m = read_checkpoint_manifest(dir_ / "part/checkpoints/step-00000004");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  ASSERT_TRUE(m->fp8_state.is_object());
  const nlohmann::json& site = m->fp8_state.at("sites").at("model.layers.0.mlp.up_proj.weight fwd");
  EXPECT_EQ(site.at("calls").get<int64_t>(), 4 * 2);  // 4 steps of 2 micro-batches
  EXPECT_GT(site.at("amax")[0].at("size").get<int>(), 0);
  auto resumed = run(config("part", 8, "fp8", delayed), "auto");
  ASSERT_TRUE(resumed.has_value()) << resumed.error().message();
  std::vector<double> losses = part->losses;
  losses.insert(losses.end(), resumed->losses.begin(), resumed->losses.end());
  EXPECT_EQ(losses, whole->losses);  // bitwise
}

// The offset in a safetensors file of tensor `name`'s data.
int64_t tensor_offset(const fs::path& file, const std::string& name) {
  std::ifstream in(file, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  std::string header(n, '\0');
  in.read(header.data(), std::streamsize(n));
  return 8 + int64_t(n) + nlohmann::json::parse(header).at(name).at("data_offsets")[0].get<int64_t>();
}

TEST_F(Fp8TrainingTest, AnOutlierWeightMakesItsLayerFallBackToBf16) {
  // A model whose layer-1 shared-expert up projection holds one weight of 3e4 among values
  // around 0.02: per-tensor scaling (448 / 3e4) flushes nearly every other weight to zero.
  auto base = run(config("base", 2, "fp32"));
  ASSERT_TRUE(base.has_value()) << base.error().message();
  const fs::path model = dir_ / "outlier.safetensors";
  fs::copy_file(dir_ / "base/model.safetensors", model);
  const std::string name = "model.layers.1.mlp.shared_experts.up_proj.weight";
  {
    std::fstream f(model, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(tensor_offset(model, name) + 4 * 5);
    const float outlier = 3e4f;
    f.write(reinterpret_cast<const char*>(&outlier), 4);
  }
  auto fp8 = run(config("outlier", 4, "fp8", {"fp8.scaling=\"tensor\""}), "", 0, model.string());
  ASSERT_TRUE(fp8.has_value()) << fp8.error().message();
  std::vector<std::string> fell;
  int64_t fallen_back_at_end = 0;
  for (const nlohmann::json& r : metrics("outlier")) {
    if (!r.contains("loss")) continue;
    fallen_back_at_end = r.at("fp8_sites_fallen_back").get<int64_t>();
    if (!r.contains("fp8_fallbacks")) continue;
    for (const nlohmann::json& f : r["fp8_fallbacks"]) {
      fell.push_back(f.at("site").get<std::string>());
      EXPECT_EQ(f.at("step").get<int64_t>(), 1);
      EXPECT_GT(f.at("error").get<double>(), 0.5);
      EXPECT_FALSE(f.at("from_replica").get<bool>());
    }
  }
  // The forward and input-gradient GEMMs take the weight as an operand; the outlier's output
  // column then reaches the down projection's weight gradient as an outlier activation. Nothing
  // outside that expert falls back.
  EXPECT_THAT(fell, ::testing::Contains(name + " fwd"));
  EXPECT_THAT(fell, ::testing::Contains(name + " dgrad"));
  for (const std::string& site : fell)
    EXPECT_THAT(site, ::testing::StartsWith("model.layers.1.mlp.shared_experts."));
  EXPECT_EQ(fallen_back_at_end, int64_t(fell.size()));
  for (double loss : fp8->losses) EXPECT_TRUE(std::isfinite(loss));
}

}  // namespace
}  // namespace symphony
