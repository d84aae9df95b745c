// Resharding: a checkpoint saved by the ranks of one layout (dp = the world size, some ZeRO stage)
// resumes under another (another ZeRO stage on the same ranks, or one process alone), and the
// resumed run's losses match one process trained without interruption within 1e-5 relative.
// A checkpoint that only one rank finds corrupt is moved aside by rank 0 for every rank, and the
// run falls back and saves that step again. Runs under mpirun -np {1,2,4}.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/checkpoint_manifest.h"
#include "config/run_config.h"
#include "parallel/comm.h"
#include "testkit/markov_tokens.h"
#include "testkit/mpi_world.h"
#include "testkit/temp_dir.h"
#include "train/trainer.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSteps = 6;
constexpr int64_t kStopAt = 3;

class ReshardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Comm& world = testkit::world();
    // Rank 0's temporary directory, shared with the others by name.
    std::string path;
    if (world.rank() == 0) {
      dir_ = std::make_unique<testkit::TempDir>("reshard_test");
      path = dir_->path().string();
      testkit::write_markov_tokens(dir_->path() / "train.tok", 40000, 1);
    }
    int64_t n = int64_t(path.size());
    ASSERT_TRUE(world.broadcast(std::span<int64_t>(&n, 1), 0).is_ok());
    path.resize(size_t(n));
    ASSERT_TRUE(world.broadcast(path.data(), n, CommDType::kU8, 0).is_ok());
    root_ = path;
  }
  void TearDown() override { EXPECT_TRUE(testkit::world().barrier().is_ok()); }

  RunConfig config(const std::string& run, int zero_stage, std::vector<std::string> extra = {}) {
    // A global batch every world size here (1, 2, 4) divides: 4 micro-batches of 4 x 64.
    std::vector<std::string> overrides = {
        "train.steps=" + std::to_string(kSteps), "optim.warmup_steps=1", "train.eval_every=0",
        "train.global_batch_tokens=1024", "model.bias_update_rate=0.001",
        "data.train_path=\"" + (root_ / "train.tok").string() + "\"",
        "train.run_dir=\"" + (root_ / run).string() + "\"",
        "parallel.zero_stage=" + std::to_string(zero_stage)};
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    auto c = load_run_config("tiny", overrides);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return *c;
  }

  std::vector<double> run(Comm& world, const RunConfig& c, const std::string& resume,
                          int64_t stop_at, std::FILE* log = stderr) {
    TrainOptions options;
    options.log = log;
    options.progress = ProgressOutput::kNone;
    options.world = &world;
    options.resume = resume;
    options.stop_at_step = stop_at;
    Result<TrainResult> r = train(c, options);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return r.has_value() ? r->losses : std::vector<double>();
  }

  // One process, uninterrupted, on rank 0; broadcast to all.
  std::vector<double> reference() {
    Comm& world = testkit::world();
    std::vector<double> losses(kSteps);
    if (world.rank() == 0) {
      std::unique_ptr<Comm> self = make_self_comm();
      losses = run(*self, config("reference", 0), "", 0);
      losses.resize(kSteps);
    }
    EXPECT_TRUE(world.broadcast(std::span<double>(losses), 0).is_ok());
    return losses;
  }

  // got[i] against want[first + i], for the steps first + 1 ... last.
  static void expect_close(const std::vector<double>& got, const std::vector<double>& want,
                           int64_t first, int64_t last = kSteps) {
    ASSERT_EQ(int64_t(got.size()), last - first);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_LE(std::abs(got[i] - want[size_t(first) + i]), 1e-5 * std::abs(want[size_t(first) + i]))
          << "step " << first + int64_t(i) + 1 << ": " << got[i] << " vs " << want[size_t(first) + i];
  }

  std::unique_ptr<testkit::TempDir> dir_;
  fs::path root_;
};

TEST_F(ReshardTest, EverySavedStageResumesUnderAnotherStageAndAlone) {
  Comm& world = testkit::world();
  const std::vector<double> want = reference();
  const std::pair<int, int> cases[] = {{3, 0}, {0, 2}, {1, 3}, {2, 1}};
  for (auto [saved, loaded] : cases) {
    SCOPED_TRACE(fmt::format("saved with zero {}, loaded with zero {}", saved, loaded));
    const std::string run_name = fmt::format("z{}_z{}", saved, loaded);
    const std::vector<double> first = run(world, config(run_name, saved), "", kStopAt);
    expect_close(first, want, 0, kStopAt);
    const fs::path step_dir = root_ / run_name / "checkpoints" / "step-00000003";
    auto manifest = read_checkpoint_manifest(step_dir);
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    EXPECT_EQ(manifest->layout.world, world.size());
    EXPECT_EQ(manifest->layout.zero_stage, saved);
    EXPECT_EQ(int(manifest->files.size()), 2 * world.size());

    // The same ranks, another stage.
    expect_close(run(world, config(run_name, loaded), step_dir.string(), 0), want, kStopAt);
    // One process alone, from the checkpoint the ranks saved.
    if (world.rank() == 0) {
      std::unique_ptr<Comm> self = make_self_comm();
      RunConfig alone = config(run_name + "_alone", 0);
      expect_close(run(*self, alone, step_dir.string(), 0), want, kStopAt);
    }
    ASSERT_TRUE(world.barrier().is_ok());
  }
}

TEST_F(ReshardTest, CheckpointOneRankFindsCorruptIsMovedAsideByRankZero) {
  Comm& world = testkit::world();
  const std::vector<double> want = reference();
  const RunConfig c =
      config("corrupt_on_last_rank", 2, {"checkpoint.every=1", "checkpoint.keep_last=6"});
  expect_close(run(world, c, "", 2), want, 0, 2);
  // Under ZeRO-2 each rank reads the moments it saved, so only the last rank reads this file.
  const fs::path checkpoints = root_ / "corrupt_on_last_rank" / "checkpoints";
  const fs::path step2 = checkpoints / "step-00000002";
  const std::string file = fmt::format("optim-rank{:05d}.safetensors", world.size() - 1);
  if (world.rank() == 0) std::ofstream(step2 / file, std::ios::in | std::ios::out) << "garbage";
  ASSERT_TRUE(world.barrier().is_ok());

  const fs::path log_path = root_ / "corrupt_on_last_rank.log";
  std::FILE* log = world.rank() == 0 ? std::fopen(log_path.c_str(), "w") : stderr;
  expect_close(run(world, c, "auto", 0, log), want, 1);
  if (world.rank() != 0) return;
  std::fclose(log);
  const std::string text = testkit::read_file_bytes(log_path);
  const fs::path aside = checkpoints / ".invalid-step-00000002-1";
  EXPECT_THAT(text, ::testing::HasSubstr("checkpoint " + step2.string() + " is invalid: " +
                                         (step2 / file).string() + ": checksum"));
  if (world.size() > 1) {
    EXPECT_THAT(text, ::testing::HasSubstr(fmt::format("(on rank {})", world.size() - 1)));
  }
  EXPECT_THAT(text, ::testing::HasSubstr("moved it to " + aside.string()));
  EXPECT_TRUE(fs::exists(aside / file));
  auto saved = read_checkpoint_manifest(step2);
  ASSERT_TRUE(saved.has_value()) << saved.error().message();
  EXPECT_EQ(saved->layout.world, world.size());
}

}  // namespace
}  // namespace symphony
