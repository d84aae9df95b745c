// Checkpoints of single-process training: exact resume, retention, verification and fallback,
// refusal of another model's checkpoint. Multi-rank saving and resharding are in
// checkpoint_reshard_mpi_test.cc; killed and signalled processes in ckpt_cli_test.sh.
#include "checkpoint/checkpointer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/checkpoint_manifest.h"
#include "checkpoint/safetensors.h"
#include "config/run_config.h"
#include "testkit/markov_tokens.h"
#include "testkit/temp_dir.h"
#include "train/trainer.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testkit::write_markov_tokens(dir_ / "train.tok", 40000, 1);
    testkit::write_markov_tokens(dir_ / "val.tok", 4000, 2);
  }

  // The tiny MoE (aux-loss-free bias updates on) for `steps` steps into run `name`.
  RunConfig config(const std::string& name, int64_t steps, std::vector<std::string> extra = {}) {
    std::vector<std::string> overrides = {
        "train.steps=" + std::to_string(steps),
        "optim.warmup_steps=2",
        "train.eval_every=3",
        "train.eval_batches=2",
        "train.global_batch_tokens=512",
        "model.bias_update_rate=0.001",
        "data.train_path=\"" + (dir_ / "train.tok").string() + "\"",
        "data.val_path=\"" + (dir_ / "val.tok").string() + "\"",
        "train.run_dir=\"" + (dir_ / name).string() + "\""};
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    Result<RunConfig> c = load_run_config("tiny", overrides);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return *c;
  }

  Result<TrainResult> run(const RunConfig& c, std::string resume = "", int64_t stop_at = 0) {
    TrainOptions options;
    options.progress = ProgressOutput::kNone;
    options.log = log_;
    options.resume = std::move(resume);
    options.stop_at_step = stop_at;
    return train(c, options);
  }

  std::string log_text() {
    std::fflush(log_);
    return testkit::read_file_bytes(log_path_);
  }

  std::vector<int64_t> steps_in(const fs::path& checkpoints) {
    std::vector<int64_t> steps;
    for (const StepDir& s : list_step_dirs(checkpoints)) steps.push_back(s.step);
    return steps;
  }

  testkit::TempDir dir_{"checkpoint_test"};
  fs::path log_path_ = dir_ / "log.txt";
  std::FILE* log_ = std::fopen(log_path_.c_str(), "w");
  void TearDown() override { std::fclose(log_); }
};

// Every tensor of two model files holds the same bytes.
void expect_same_weights(const fs::path& a, const fs::path& b) {
  auto fa = SafetensorsFile::open(a);
  auto fb = SafetensorsFile::open(b);
  ASSERT_TRUE(fa.has_value() && fb.has_value());
  ASSERT_EQ(fa->names().size(), fb->names().size());
  for (const std::string& name : fa->names()) {
    auto ta = fa->get(name);
    auto tb = fb->get(name);
    ASSERT_TRUE(ta.has_value() && tb.has_value()) << name;
    ASSERT_EQ(ta->bytes, tb->bytes) << name;
    EXPECT_EQ(std::memcmp(ta->data, tb->data, size_t(ta->bytes)), 0) << name << " differs";
  }
}

TEST_F(CheckpointTest, ResumeGivesBitwiseTheUninterruptedRun) {
  for (bool async : {true, false}) {
    SCOPED_TRACE(async ? "async" : "sync");
    const std::string a = async ? "true" : "false";
    auto whole = run(config("whole" + a, 8, {"checkpoint.async=" + a}));
    ASSERT_TRUE(whole.has_value()) << whole.error().message();

    const RunConfig split = config("split" + a, 8, {"checkpoint.async=" + a, "checkpoint.every=3"});
    auto first = run(split, "", 4);
    ASSERT_TRUE(first.has_value()) << first.error().message();
    EXPECT_TRUE(first->stopped);
    EXPECT_EQ(first->steps, 4);
    EXPECT_THAT(steps_in(dir_ / ("split" + a) / "checkpoints"), ElementsAre(3, 4));

    auto second = run(split, "auto");
    ASSERT_TRUE(second.has_value()) << second.error().message();
    EXPECT_EQ(second->first_step, 4);
    std::vector<double> losses = first->losses;
    losses.insert(losses.end(), second->losses.begin(), second->losses.end());
    EXPECT_EQ(losses, whole->losses);  // bitwise
    EXPECT_EQ(second->eval_losses.back(), whole->eval_losses.back());
    EXPECT_EQ(second->loader_state, whole->loader_state);
    expect_same_weights(dir_ / ("whole" + a) / "model.safetensors",
                        dir_ / ("split" + a) / "model.safetensors");
  }
}

TEST_F(CheckpointTest, RetentionKeepsTheNewestAndTheMultiples) {
  auto r = run(config("keep", 7, {"checkpoint.every=1", "checkpoint.keep_last=2",
                                  "checkpoint.keep_every=3"}));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const fs::path dir = dir_ / "keep" / "checkpoints";
  EXPECT_THAT(steps_in(dir), ElementsAre(3, 6, 7));
  EXPECT_EQ(testkit::read_file_bytes(dir / "latest"), "step-00000007\n");
  EXPECT_EQ(r->checkpoint, (dir / "step-00000007").string());
}

TEST_F(CheckpointTest, CorruptNewestFallsBackToThePreviousAndSaysWhy) {
  const RunConfig c = config("corrupt", 6, {"checkpoint.every=2"});
  ASSERT_TRUE(run(c, "", 4).has_value());
  const fs::path newest = dir_ / "corrupt" / "checkpoints" / "step-00000004";
  {
    // Flip one byte in the middle of the weights.
    std::fstream f(newest / "model-rank00000.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const auto middle = f.tellg() / 2;
    f.seekg(middle);
    char byte = 0;
    f.read(&byte, 1);
    byte = char(byte ^ 0x5a);
    f.seekp(middle);
    f.write(&byte, 1);
  }
  auto r = run(c, "auto");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->first_step, 2);
  EXPECT_THAT(log_text(), HasSubstr("skipping checkpoint " + newest.string()));
  EXPECT_THAT(log_text(), HasSubstr("model-rank00000.safetensors: checksum"));

  // Named explicitly, the corrupt checkpoint is an error, not a silent fallback.
  auto explicit_dir = run(c, newest.string());
  ASSERT_FALSE(explicit_dir.has_value());
  EXPECT_THAT(explicit_dir.error().message(), HasSubstr("does not match the manifest"));
}

TEST_F(CheckpointTest, TruncatedAndMissingFilesAreNamed) {
  const RunConfig c = config("broken", 4, {"checkpoint.every=2"});
  ASSERT_TRUE(run(c).has_value());
  const fs::path step4 = dir_ / "broken" / "checkpoints" / "step-00000004";
  fs::resize_file(step4 / "optim-rank00000.safetensors", 1000);
  auto truncated = run(c, step4.string());
  ASSERT_FALSE(truncated.has_value());
  EXPECT_THAT(truncated.error().message(),
              HasSubstr("optim-rank00000.safetensors: 1000 bytes, the manifest says"));
  fs::remove(step4 / "optim-rank00000.safetensors");
  auto missing = run(c, step4.string());
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message(), HasSubstr("optim-rank00000.safetensors: missing shard"));
  // With "auto" the intact step 2 is used.
  auto fallback = run(c, "auto");
  ASSERT_TRUE(fallback.has_value()) << fallback.error().message();
  EXPECT_EQ(fallback->first_step, 2);
}

TEST_F(CheckpointTest, InterruptedSaveIsIgnoredAndCleanedUp) {
  const RunConfig c = config("interrupted", 4, {"checkpoint.every=2"});
  ASSERT_TRUE(run(c, "", 2).has_value());
  const fs::path dir = dir_ / "interrupted" / "checkpoints";
  // What a save killed midway leaves: a temporary directory with partial files.
  fs::create_directories(temp_step_dir(dir, 3));
  std::ofstream(temp_step_dir(dir, 3) / "model-rank00000.safetensors") << "partial";
  auto r = run(c, "auto");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->first_step, 2);
  EXPECT_FALSE(fs::exists(temp_step_dir(dir, 3)));
  EXPECT_THAT(steps_in(dir), ElementsAre(2, 4));
}

TEST_F(CheckpointTest, AnotherModelsCheckpointIsRefusedNamingTheKey) {
  ASSERT_TRUE(run(config("model_a", 2, {"checkpoint.every=2"})).has_value());
  const RunConfig other = config("model_a", 4, {"checkpoint.every=2", "model.moe_intermediate_size=48"});
  auto r = run(other, "auto");
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("model.moe_intermediate_size = "));
  EXPECT_THAT(r.error().message(), HasSubstr("in the checkpoint, 48 here"));
}

TEST_F(CheckpointTest, AutoWithoutCheckpointsStartsFresh) {
  auto r = run(config("fresh", 2), "auto");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->first_step, 0);
  EXPECT_THAT(log_text(), HasSubstr("starting from step 0"));
  auto bad = run(config("fresh", 2), (dir_ / "no_such_dir").string());
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("neither a checkpoint step directory"));
}

TEST(CheckpointManifestTest, PiecesMustCoverEachTensorOnce) {
  CheckpointManifest m;
  m.files = {{"a.safetensors", 10, "0000000000000000"}};
  m.tensors = {{"w", {2, 3}, "F32", {{"a.safetensors", "w@0", 0, 4}, {"a.safetensors", "w@4", 4, 6}}}};
  auto ok = manifest_from_json(manifest_to_json(m), "m.json");
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->tensors[0].pieces.size(), 2u);

  m.tensors[0].pieces[1].begin = 5;
  auto gap = manifest_from_json(manifest_to_json(m), "m.json");
  ASSERT_FALSE(gap.has_value());
  EXPECT_THAT(gap.error().message(), HasSubstr("m.json: the pieces of tensor w do not cover"));

  m.tensors[0].pieces[1] = {"b.safetensors", "w@4", 4, 6};
  auto unlisted = manifest_from_json(manifest_to_json(m), "m.json");
  ASSERT_FALSE(unlisted.has_value());
  EXPECT_THAT(unlisted.error().message(), HasSubstr("b.safetensors, which the manifest does not list"));

  auto junk = manifest_from_json("{\"format\": \"symphony-checkpoint\", \"format_version\": 1}", "m.json");
  ASSERT_FALSE(junk.has_value());
  EXPECT_THAT(junk.error().message(), HasSubstr("m.json: step is missing"));
}

TEST(ModelConfigDifferenceTest, NamesTheFirstDifferingKey) {
  EXPECT_EQ(model_config_difference("[model]\nhidden_size = 64\n[train]\nsteps = 1\n",
                                    "[model]\nhidden_size = 64\n[train]\nsteps = 9\n"),
            "");
  EXPECT_EQ(model_config_difference("[model]\nhidden_size = 64\n", "[model]\nhidden_size = 128\n"),
            "model.hidden_size = 64 in the checkpoint, 128 here");
}

}  // namespace
}  // namespace symphony
