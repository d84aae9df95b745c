// Checkpoints of single-process training: exact resume, retention, verification and fallback,
// invalid checkpoints moved aside and saved anew, refusal of another model's checkpoint.
// Multi-rank saving and resharding are in checkpoint_reshard_mpi_test.cc; killed and signalled
// processes in ckpt_cli_test.sh.
#include "checkpoint/checkpointer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/checkpoint_io.h"
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

  // The tiny MoE (aux-loss-free bias updates on; or another `preset`) for `steps` steps into run
  // `name`.
  RunConfig config(const std::string& name, int64_t steps, std::vector<std::string> extra = {},
                   const std::string& preset = "tiny") {
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
    Result<RunConfig> c = load_run_config(preset, overrides);
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

// Flips one byte in the middle of a file.
void flip_middle_byte(const fs::path& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(0, std::ios::end);
  const auto middle = f.tellg() / 2;
  f.seekg(middle);
  char byte = 0;
  f.read(&byte, 1);
  byte = char(byte ^ 0x5a);
  f.seekp(middle);
  f.write(&byte, 1);
}

// Replaces the first match of `pattern` in a text file; fails the test when there is none.
void edit_file(const fs::path& path, const std::string& pattern, const std::string& replacement) {
  const std::string text = testkit::read_file_bytes(path);
  const std::regex re(pattern);
  ASSERT_TRUE(std::regex_search(text, re)) << pattern << " not in " << path;
  std::ofstream(path, std::ios::trunc | std::ios::binary)
      << std::regex_replace(text, re, replacement, std::regex_constants::format_first_only);
}

// The manifest of `step_dir` and every file it lists, verified.
Status verify_all(const fs::path& step_dir) {
  SYM_TRY_ASSIGN(CheckpointManifest m, read_checkpoint_manifest(step_dir));
  std::vector<std::string> files;
  for (const CheckpointFile& f : m.files) files.push_back(f.name);
  return verify_checkpoint_files(m, step_dir, files);
}

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

// Multi-token prediction: its modules' weights, moments and selection biases are saved and
// restored like the rest.
TEST_F(CheckpointTest, ResumeWithMtpGivesBitwiseTheUninterruptedRun) {
  const std::vector<std::string> mtp = {"model.num_nextn_predict_layers=2"};
  auto whole = run(config("mtp_whole", 6, mtp));
  ASSERT_TRUE(whole.has_value()) << whole.error().message();
  std::vector<std::string> every = mtp;
  every.push_back("checkpoint.every=2");
  const RunConfig split = config("mtp_split", 6, every);
  auto first = run(split, "", 3);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  auto second = run(split, "auto");
  ASSERT_TRUE(second.has_value()) << second.error().message();
  EXPECT_EQ(second->first_step, 3);
  std::vector<double> losses = first->losses, mtp_losses = first->mtp_losses;
  losses.insert(losses.end(), second->losses.begin(), second->losses.end());
  mtp_losses.insert(mtp_losses.end(), second->mtp_losses.begin(), second->mtp_losses.end());
  EXPECT_EQ(losses, whole->losses);  // bitwise
  EXPECT_EQ(mtp_losses, whole->mtp_losses);
  EXPECT_EQ(whole->mtp_losses.size(), 6u);
  expect_same_weights(dir_ / "mtp_whole" / "model.safetensors",
                      dir_ / "mtp_split" / "model.safetensors");
  // The MTP modules' tensors and their layers' selection biases are in the model file.
  auto file = SafetensorsFile::open(dir_ / "mtp_whole" / "model.safetensors");
  ASSERT_TRUE(file.has_value());
  int mtp_tensors = 0;
  for (const std::string& name : file->names())
    mtp_tensors += name.rfind("model.layers.4.", 0) == 0 || name.rfind("model.layers.5.", 0) == 0;
  EXPECT_GE(mtp_tensors, 2 * 16);
}

// deepseek-v3-tiny: MLA's low-rank projections and their norms, the sigmoid router's selection
// biases, the shared expert and the MTP module resume exactly too.
TEST_F(CheckpointTest, ResumeOfDeepseekV3TinyGivesBitwiseTheUninterruptedRun) {
  const std::string preset = "deepseek-v3-tiny";
  auto whole = run(config("ds_whole", 6, {}, preset));
  ASSERT_TRUE(whole.has_value()) << whole.error().message();
  const RunConfig split = config("ds_split", 6, {"checkpoint.every=2"}, preset);
  auto first = run(split, "", 3);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  auto second = run(split, "auto");
  ASSERT_TRUE(second.has_value()) << second.error().message();
  EXPECT_EQ(second->first_step, 3);
  std::vector<double> losses = first->losses, mtp_losses = first->mtp_losses;
  losses.insert(losses.end(), second->losses.begin(), second->losses.end());
  mtp_losses.insert(mtp_losses.end(), second->mtp_losses.begin(), second->mtp_losses.end());
  EXPECT_EQ(losses, whole->losses);  // bitwise
  EXPECT_EQ(mtp_losses, whole->mtp_losses);
  EXPECT_EQ(whole->mtp_losses.size(), 6u);
  EXPECT_EQ(second->eval_losses.back(), whole->eval_losses.back());
  expect_same_weights(dir_ / "ds_whole" / "model.safetensors",
                      dir_ / "ds_split" / "model.safetensors");
  // The checkpoint holds what is particular to the preset, with its moments.
  auto m = read_checkpoint_manifest(dir_ / "ds_split" / "checkpoints" / "step-00000003");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  for (const char* name :
       {"model.layers.0.self_attn.q_a_proj.weight",
        "model.layers.0.self_attn.kv_a_layernorm.weight",
        "exp_avg.model.layers.1.self_attn.kv_b_proj.weight",
        "model.layers.1.mlp.gate.e_score_correction_bias",
        "exp_avg_sq.model.layers.2.mlp.shared_experts.down_proj.weight",
        "model.layers.4.eh_proj.weight", "model.layers.4.mlp.gate.e_score_correction_bias"})
    EXPECT_NE(m->find(name), nullptr) << name;
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

TEST_F(CheckpointTest, CorruptNewestIsMovedAsideAndSavedAgain) {
  const RunConfig c = config("corrupt", 6, {"checkpoint.every=2"});
  ASSERT_TRUE(run(c, "", 4).has_value());
  const fs::path dir = dir_ / "corrupt" / "checkpoints";
  const fs::path newest = dir / "step-00000004";
  flip_middle_byte(newest / "model-rank00000.safetensors");

  // Named explicitly, the corrupt checkpoint is an error, not a silent fallback, and stays.
  auto explicit_dir = run(c, newest.string());
  ASSERT_FALSE(explicit_dir.has_value());
  EXPECT_EQ(explicit_dir.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(explicit_dir.error().message(), HasSubstr("cannot resume from " + newest.string()));
  EXPECT_THAT(explicit_dir.error().message(), HasSubstr("does not match the manifest"));
  EXPECT_TRUE(fs::exists(newest / "manifest.json"));

  auto r = run(c, "auto");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->first_step, 2);
  const fs::path aside = dir / ".invalid-step-00000004-1";
  EXPECT_THAT(log_text(), HasSubstr("warning: checkpoint " + newest.string() + " is invalid: "));
  EXPECT_THAT(log_text(), HasSubstr("model-rank00000.safetensors: checksum"));
  EXPECT_THAT(log_text(), HasSubstr("moved it to " + aside.string() + "; trying the next older"));
  // Kept as it was, and no longer in the way: the run saved step 4 again.
  EXPECT_FALSE(verify_all(aside).is_ok());
  EXPECT_THAT(steps_in(dir), ElementsAre(2, 4, 6));
  EXPECT_TRUE(verify_all(newest).is_ok()) << verify_all(newest).message();
  EXPECT_EQ(testkit::read_file_bytes(dir / "latest"), "step-00000006\n");
}

TEST_F(CheckpointTest, MissingManifestIsMovedAsideAndTheStepSavedAgain) {
  const RunConfig c = config("no_manifest", 6, {"checkpoint.every=2"});
  ASSERT_TRUE(run(c, "", 4).has_value());
  const fs::path dir = dir_ / "no_manifest" / "checkpoints";
  const fs::path step4 = dir / "step-00000004";
  fs::remove(step4 / "manifest.json");

  for (const std::string& named : {step4.string(), step4.string() + "/"}) {
    auto r = run(c, named);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
    EXPECT_THAT(r.error().message(), HasSubstr("cannot resume from " + step4.string() + ": "));
    EXPECT_THAT(r.error().message(), HasSubstr("manifest.json: No such file or directory"));
    EXPECT_TRUE(fs::exists(step4 / "model-rank00000.safetensors"));
  }

  // Before, the save of step 4 failed here on renaming into the existing directory.
  auto r = run(c, "auto");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->first_step, 2);
  const fs::path aside = dir / ".invalid-step-00000004-1";
  EXPECT_THAT(log_text(), HasSubstr("warning: checkpoint " + step4.string() + " is invalid: "));
  EXPECT_THAT(log_text(), HasSubstr("moved it to " + aside.string()));
  EXPECT_TRUE(fs::exists(aside / "model-rank00000.safetensors"));
  EXPECT_THAT(steps_in(dir), ElementsAre(2, 4, 6));
  EXPECT_TRUE(verify_all(step4).is_ok()) << verify_all(step4).message();
}

TEST_F(CheckpointTest, EditedManifestIsMovedAsideOrRefusedWhenNamed) {
  ASSERT_TRUE(run(config("edited", 6, {"checkpoint.every=2"}), "", 4).has_value());
  struct Case {
    const char* what;
    std::function<void(const fs::path&)> edit;  // of a step directory
    const char* reason;
  };
  const Case cases[] = {
      {"step 4 -> 2", [](const fs::path& d) {
         edit_file(d / "manifest.json", "\"step\": 4,", "\"step\": 2,");
       }, "manifest.json: the manifest's content hashes to"},
      {"loader position", [](const fs::path& d) {
         edit_file(d / "manifest.json", "\"position\": ([0-9]+)", "\"position\": 1$1");
       }, "manifest.json: the manifest's content hashes to"},
      {"step 999, checksum recomputed", [](const fs::path& d) {
         auto m = read_checkpoint_manifest(d);
         ASSERT_TRUE(m.has_value()) << m.error().message();
         m->step = 999;
         std::ofstream(d / "manifest.json", std::ios::trunc) << manifest_to_json(*m);
       }, "manifest.json: step 999 does not match the directory name step-00000004"},
  };
  int i = 0;
  for (const Case& e : cases) {
    SCOPED_TRACE(e.what);
    const std::string name = "edited" + std::to_string(i++);
    const fs::path dir = dir_ / name / "checkpoints";
    fs::create_directories(dir.parent_path());
    fs::copy(dir_ / "edited" / "checkpoints", dir, fs::copy_options::recursive);
    const fs::path step4 = dir / "step-00000004";
    e.edit(step4);
    const RunConfig c = config(name, 6, {"checkpoint.every=2"});

    auto named = run(c, step4.string());
    ASSERT_FALSE(named.has_value());
    EXPECT_EQ(named.error().code(), ErrorCode::kCorrupt);
    EXPECT_THAT(named.error().message(), HasSubstr("cannot resume from " + step4.string()));
    EXPECT_THAT(named.error().message(), HasSubstr(e.reason));
    EXPECT_TRUE(fs::exists(step4 / "manifest.json"));

    auto r = run(c, "auto");
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->first_step, 2);
    EXPECT_EQ(r->steps, 6);
    EXPECT_THAT(log_text(), HasSubstr("checkpoint " + step4.string() + " is invalid: "));
    EXPECT_THAT(log_text(), HasSubstr(e.reason));
    EXPECT_THAT(log_text(),
                HasSubstr("moved it to " + (dir / ".invalid-step-00000004-1").string()));
    EXPECT_THAT(steps_in(dir), ElementsAre(2, 4, 6));
    auto saved = read_checkpoint_manifest(step4);
    ASSERT_TRUE(saved.has_value()) << saved.error().message();
    EXPECT_EQ(saved->step, 4);
  }
}

TEST_F(CheckpointTest, LatestNamingAMissingDirectoryDoesNotMatter) {
  const fs::path dir = dir_ / "latest" / "checkpoints";
  ASSERT_TRUE(run(config("latest", 4, {"checkpoint.every=2"})).has_value());
  std::ofstream(dir / "latest", std::ios::trunc) << "step-00000099\n";
  auto r = run(config("latest", 4, {"checkpoint.every=2"}), "auto");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->first_step, 4);
  EXPECT_TRUE(r->losses.empty());
  EXPECT_EQ(testkit::read_file_bytes(dir / "latest"), "step-00000004\n");

  // `latest` names the checkpoint that is moved aside: it then names the one resumed from.
  fs::remove(dir / "step-00000004" / "manifest.json");
  auto older = run(config("latest", 2, {"checkpoint.every=2"}), "auto");
  ASSERT_TRUE(older.has_value()) << older.error().message();
  EXPECT_EQ(older->first_step, 2);
  EXPECT_EQ(testkit::read_file_bytes(dir / "latest"), "step-00000002\n");

  // Everything moved aside: a fresh start that says what is there.
  fs::remove(dir / "step-00000002" / "manifest.json");
  auto none = run(config("latest", 2, {"checkpoint.every=2"}), "auto");
  ASSERT_FALSE(none.has_value());
  EXPECT_THAT(none.error().message(), HasSubstr("no valid checkpoint in " + dir.string()));
  auto fresh = run(config("latest", 2, {"checkpoint.every=0"}), "auto");
  ASSERT_TRUE(fresh.has_value()) << fresh.error().message();
  EXPECT_EQ(fresh->first_step, 0);
  EXPECT_THAT(log_text(), HasSubstr("holds no step-* checkpoint, only 2 moved aside earlier"));
}

TEST_F(CheckpointTest, ResumingAnOlderStepReplacesTheNewerCheckpointsAndKeepsThem) {
  const RunConfig c = config("older", 6, {"checkpoint.every=2"});
  ASSERT_TRUE(run(c).has_value());
  const fs::path dir = dir_ / "older" / "checkpoints";
  const std::string old_manifest =
      testkit::read_file_bytes(dir / "step-00000004" / "manifest.json");
  // Invalid, but not moved by a resume that names another checkpoint: the commit moves it.
  fs::remove(dir / "step-00000006" / "manifest.json");

  auto r = run(c, (dir / "step-00000002").string());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->first_step, 2);
  EXPECT_THAT(steps_in(dir), ElementsAre(2, 4, 6));
  std::vector<std::string> moved;
  for (const fs::path& p : list_moved_aside_dirs(dir)) moved.push_back(p.filename().string());
  EXPECT_THAT(moved, ElementsAre(".invalid-step-00000006-1", ".replaced-step-00000004-1"));
  EXPECT_THAT(log_text(), HasSubstr((dir / "step-00000004").string() +
                                    " already held a checkpoint of step 4 (of an earlier run); "
                                    "moved it to " + (dir / ".replaced-step-00000004-1").string()));
  EXPECT_THAT(log_text(), HasSubstr((dir / "step-00000006").string() +
                                    " held an invalid checkpoint ("));
  EXPECT_THAT(log_text(), HasSubstr("moved it to " + (dir / ".invalid-step-00000006-1").string() +
                                    " and saved step 6 in its place"));
  EXPECT_EQ(testkit::read_file_bytes(dir / ".replaced-step-00000004-1" / "manifest.json"),
            old_manifest);
  for (int64_t step : {4, 6}) {
    const fs::path d = dir / step_dir_name(step);
    EXPECT_TRUE(verify_all(d).is_ok()) << verify_all(d).message();
  }
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

TEST(ModelConfigDifferenceTest, NamesTheFirstDifferingKey) {
  EXPECT_EQ(model_config_difference("[model]\nhidden_size = 64\n[train]\nsteps = 1\n",
                                    "[model]\nhidden_size = 64\n[train]\nsteps = 9\n"),
            "");
  EXPECT_EQ(model_config_difference("[model]\nhidden_size = 64\n", "[model]\nhidden_size = 128\n"),
            "model.hidden_size = 64 in the checkpoint, 128 here");
}

}  // namespace
}  // namespace symphony
