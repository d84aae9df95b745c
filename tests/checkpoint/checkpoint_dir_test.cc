// The checkpoint directory: step names, moving invalid and replaced checkpoints aside (never
// deleting them), committing over an existing step directory, retention and clean-up.
#include "checkpoint/checkpoint_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_manifest.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int64_t> steps_in(const fs::path& dir) {
  std::vector<int64_t> steps;
  for (const StepDir& s : list_step_dirs(dir)) steps.push_back(s.step);
  return steps;
}

std::vector<std::string> moved_aside_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const fs::path& p : list_moved_aside_dirs(dir)) names.push_back(p.filename().string());
  return names;
}

// A manifest of `step` that reads back (no files or tensors).
std::string manifest_of(int64_t step) {
  CheckpointManifest m;
  m.step = step;
  return manifest_to_json(m);
}

TEST(CheckpointDirTest, StepOfDirName) {
  EXPECT_EQ(step_of_dir_name("step-00000060"), 60);
  EXPECT_EQ(step_of_dir_name("step-123456789"), 123456789);
  EXPECT_EQ(step_of_dir_name(".invalid-step-00000060-1"), 60);
  EXPECT_EQ(step_of_dir_name(".replaced-step-00000060-12"), 60);
  for (const char* name : {"step-60", "step-0000006x", ".invalid-step-00000060",
                           ".invalid-step-00000060-", ".invalid-step-00000060-a",
                           ".tmp-step-00000060", ".trash-step-00000060", "best", "latest",
                           "step-0000000000000000000000001"})
    EXPECT_EQ(step_of_dir_name(name), std::nullopt) << name;
}

TEST(CheckpointDirTest, MovedAsideDirectoriesAreNoStepsAndOutliveRetentionAndCleanUp) {
  testkit::TempDir dir("ckpt_dir_test");
  for (int64_t step : {1, 2, 3, 4})
    dir.write(step_dir_name(step) + "/manifest.json", manifest_of(step));
  dir.write(".invalid-step-00000003-1/model-rank00000.safetensors", "damaged");
  dir.write(".replaced-step-00000002-1/manifest.json", manifest_of(2));
  dir.write(".tmp-step-00000005/partial", "x");
  dir.write(".trash-step-00000000/old", "x");
  EXPECT_THAT(steps_in(dir.path()), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(moved_aside_in(dir.path()),
              ElementsAre(".invalid-step-00000003-1", ".replaced-step-00000002-1"));

  ASSERT_TRUE(apply_retention(dir.path(), 1, 0).is_ok());
  ASSERT_TRUE(remove_stale_temp_dirs(dir.path()).is_ok());
  EXPECT_THAT(steps_in(dir.path()), ElementsAre(4));
  EXPECT_FALSE(fs::exists(dir / ".tmp-step-00000005"));
  EXPECT_FALSE(fs::exists(dir / ".trash-step-00000000"));
  EXPECT_EQ(testkit::read_file_bytes(dir / ".invalid-step-00000003-1/model-rank00000.safetensors"),
            "damaged");
  EXPECT_TRUE(fs::exists(dir / ".replaced-step-00000002-1/manifest.json"));
}

TEST(CheckpointDirTest, MoveAsideTakesTheFirstFreeNameAndKeepsEverything) {
  testkit::TempDir dir("ckpt_dir_test");
  dir.write("step-00000060/model-rank00000.safetensors", "weights");
  // An empty directory under the first name: rename(2) would replace it silently.
  fs::create_directories(dir / ".invalid-step-00000060-1");
  auto moved = move_step_dir_aside(dir / "step-00000060", AsideReason::kInvalid);
  ASSERT_TRUE(moved.has_value()) << moved.error().message();
  EXPECT_EQ(*moved, dir / ".invalid-step-00000060-2");
  EXPECT_EQ(testkit::read_file_bytes(*moved / "model-rank00000.safetensors"), "weights");
  EXPECT_TRUE(fs::is_empty(dir / ".invalid-step-00000060-1"));
  EXPECT_FALSE(fs::exists(dir / "step-00000060"));

  dir.write("step-00000060/manifest.json", manifest_of(60));
  auto replaced = move_step_dir_aside(dir / "step-00000060/", AsideReason::kReplaced);
  ASSERT_TRUE(replaced.has_value()) << replaced.error().message();
  EXPECT_EQ(*replaced, dir / ".replaced-step-00000060-1");

  auto gone = move_step_dir_aside(dir / "step-00000070", AsideReason::kInvalid);
  ASSERT_FALSE(gone.has_value());
  EXPECT_THAT(gone.error().message(), HasSubstr("moving " + (dir / "step-00000070").string() +
                                                " aside to"));
}

// A save of `step` whose files and manifest are complete in its temporary directory.
void stage_save(const testkit::TempDir& dir, int64_t step) {
  dir.write(temp_step_dir("", step) / "manifest.json", manifest_of(step));
}

TEST(CheckpointDirTest, CommitMovesAnInvalidStepDirectoryAside) {
  struct Case {
    const char* what;
    std::string manifest;  // "" for none
    const char* reason;
  };
  const Case cases[] = {
      {"manifest missing", "", "manifest.json: No such file or directory"},
      {"another step's manifest", manifest_of(40), "step 40 does not match the directory name"},
      {"manifest edited", [] {
         std::string m = manifest_of(60);
         m.replace(m.find("\"seed\": 0"), 9, "\"seed\": 7");
         return m;
       }(), "hashes to"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    testkit::TempDir dir("ckpt_dir_test");
    dir.write("step-00000060/model-rank00000.safetensors", "old");
    if (!c.manifest.empty()) dir.write("step-00000060/manifest.json", c.manifest);
    dir.write("latest", "step-00000060\n");
    stage_save(dir, 60);
    auto commit = commit_step_dir(dir.path(), 60);
    ASSERT_TRUE(commit.has_value()) << commit.error().message();
    EXPECT_EQ(commit->moved_aside, dir / ".invalid-step-00000060-1");
    EXPECT_THAT(commit->invalid_reason, HasSubstr(c.reason));
    EXPECT_TRUE(read_checkpoint_manifest(dir / "step-00000060").has_value());
    EXPECT_FALSE(fs::exists(dir / "step-00000060/model-rank00000.safetensors"));
    EXPECT_EQ(
        testkit::read_file_bytes(dir / ".invalid-step-00000060-1/model-rank00000.safetensors"),
        "old");
    EXPECT_FALSE(fs::exists(temp_step_dir(dir.path(), 60)));
    EXPECT_EQ(testkit::read_file_bytes(dir / "latest"), "step-00000060\n");
  }
}

TEST(CheckpointDirTest, CommitReplacesAValidStepDirectoryKeepingTheOldOne) {
  testkit::TempDir dir("ckpt_dir_test");
  dir.write("step-00000060/manifest.json", manifest_of(60));
  dir.write("step-00000060/model-rank00000.safetensors", "old");
  stage_save(dir, 60);
  auto commit = commit_step_dir(dir.path(), 60);
  ASSERT_TRUE(commit.has_value()) << commit.error().message();
  EXPECT_EQ(commit->moved_aside, dir / ".replaced-step-00000060-1");
  EXPECT_EQ(commit->invalid_reason, "");
  EXPECT_TRUE(read_checkpoint_manifest(dir / ".replaced-step-00000060-1").has_value());
  EXPECT_TRUE(read_checkpoint_manifest(dir / "step-00000060").has_value());
  EXPECT_THAT(steps_in(dir.path()), ElementsAre(60));

  // No directory under the name: nothing is moved.
  stage_save(dir, 80);
  auto fresh = commit_step_dir(dir.path(), 80);
  ASSERT_TRUE(fresh.has_value()) << fresh.error().message();
  EXPECT_TRUE(fresh->moved_aside.empty());
  EXPECT_EQ(testkit::read_file_bytes(dir / "latest"), "step-00000080\n");
}

}  // namespace
}  // namespace symphony
