// manifest.json: its own checksum over the canonical content, the format versions read, the
// pieces' coverage, and the step its directory's name must state.
#include "checkpoint/checkpoint_manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

CheckpointManifest small_manifest(int64_t step) {
  CheckpointManifest m;
  m.step = step;
  m.tokens_seen = step * 512;
  m.optimizer_steps = step;
  m.lr = 3e-4;
  m.seed = 1234;
  m.loader.samples = 4 * step;
  m.loader.sources = {{0, 4 * step}};
  m.config_toml = "[model]\nhidden_size = 64\n";
  m.layout = {1, 1, 0, "dp=1 zero=0"};
  m.files = {{"a.safetensors", 10, "0123456789abcdef"}};
  m.tensors = {{"w", {2, 3}, "F32", {{"a.safetensors", "w@0", 0, 6}}}};
  return m;
}

// `text` with the first match of `pattern` replaced by `replacement`; fails the test when none.
std::string edit(const std::string& text, const std::string& pattern,
                 const std::string& replacement) {
  const std::regex re(pattern);
  EXPECT_TRUE(std::regex_search(text, re)) << pattern;
  return std::regex_replace(text, re, replacement, std::regex_constants::format_first_only);
}

TEST(CheckpointManifestTest, RoundTripCarriesAChecksumThatIgnoresFormatting) {
  const std::string text = manifest_to_json(small_manifest(60));
  EXPECT_THAT(text, HasSubstr("\"manifest_xxh3\": \""));
  EXPECT_THAT(text, HasSubstr("\"format_version\": 2"));
  auto m = manifest_from_json(text, "m.json");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->step, 60);
  EXPECT_EQ(m->format_version, 2);
  EXPECT_EQ(m->loader.sources[0].position, 240);
  // Other whitespace and indentation: the same content, the same checksum.
  const std::string reformatted = nlohmann::json::parse(text).dump(4);
  ASSERT_NE(reformatted, text);
  EXPECT_TRUE(manifest_from_json(reformatted, "m.json").has_value());
}

TEST(CheckpointManifestTest, AnyEditedValueFailsTheChecksum) {
  const std::string text = manifest_to_json(small_manifest(60));
  const std::pair<const char*, const char*> edits[] = {
      {"\"step\": 60", "\"step\": 40"},
      {"\"step\": 60", "\"step\": 999"},
      {"\"position\": 240", "\"position\": 241"},
      {"\"samples\": 240", "\"samples\": 0"},
      {"\"lr\": [0-9.e-]+", "\"lr\": 0.1"},
      {"0123456789abcdef", "0123456789abcdee"},
  };
  for (auto [pattern, replacement] : edits) {
    SCOPED_TRACE(replacement);
    auto m = manifest_from_json(edit(text, pattern, replacement), "dir/manifest.json");
    ASSERT_FALSE(m.has_value());
    EXPECT_EQ(m.error().code(), ErrorCode::kCorrupt);
    EXPECT_THAT(m.error().message(),
                HasSubstr("dir/manifest.json: the manifest's content hashes to"));
    EXPECT_THAT(m.error().message(), HasSubstr("manifest_xxh3 says"));
  }
  // The checksum itself edited.
  auto sum = manifest_from_json(
      edit(text, "\"manifest_xxh3\": \"[0-9a-f]", "\"manifest_xxh3\": \"x"), "m.json");
  ASSERT_FALSE(sum.has_value());
  EXPECT_THAT(sum.error().message(), HasSubstr("hashes to"));
}

TEST(CheckpointManifestTest, VersionTwoNeedsItsChecksumVersionOneIsReadWithout) {
  nlohmann::json j = nlohmann::json::parse(manifest_to_json(small_manifest(60)));
  j.erase("manifest_xxh3");
  auto missing = manifest_from_json(j.dump(), "m.json");
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message(), HasSubstr("m.json: manifest_xxh3 is missing"));

  j["format_version"] = 1;  // as written before manifests carried their checksum
  auto v1 = manifest_from_json(j.dump(), "m.json");
  ASSERT_TRUE(v1.has_value()) << v1.error().message();
  EXPECT_EQ(v1->format_version, 1);
  EXPECT_EQ(v1->step, 60);

  j["format_version"] = 3;
  auto v3 = manifest_from_json(j.dump(), "m.json");
  ASSERT_FALSE(v3.has_value());
  EXPECT_THAT(v3.error().message(), HasSubstr("format_version 3 is not supported by this build"));
}

TEST(CheckpointManifestTest, PiecesMustCoverEachTensorOnce) {
  CheckpointManifest m;
  m.files = {{"a.safetensors", 10, "0000000000000000"}};
  m.tensors = {
      {"w", {2, 3}, "F32", {{"a.safetensors", "w@0", 0, 4}, {"a.safetensors", "w@4", 4, 6}}}};
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
  EXPECT_THAT(unlisted.error().message(),
              HasSubstr("b.safetensors, which the manifest does not list"));

  auto junk = manifest_from_json(
      "{\"format\": \"symphony-checkpoint\", \"format_version\": 1}", "m.json");
  ASSERT_FALSE(junk.has_value());
  EXPECT_THAT(junk.error().message(), HasSubstr("m.json: step is missing"));
}

TEST(CheckpointManifestTest, StepMustBeTheOneItsDirectoryNames) {
  testkit::TempDir dir("manifest_test");
  // A consistent manifest (its checksum recomputed) of step 999 in step 60's directory.
  const std::string text = manifest_to_json(small_manifest(999));
  dir.write("step-00000060/manifest.json", text);
  for (const char* name : {"step-00000060", "step-00000060/"}) {
    SCOPED_TRACE(name);
    auto m = read_checkpoint_manifest(dir / name);
    ASSERT_FALSE(m.has_value());
    EXPECT_EQ(m.error().code(), ErrorCode::kCorrupt);
    EXPECT_THAT(m.error().message(),
                HasSubstr("step-00000060/manifest.json: step 999 does not match the directory "
                          "name step-00000060"));
  }
  // Moved aside, the name still states the step.
  dir.write(".invalid-step-00000060-1/manifest.json", text);
  EXPECT_FALSE(read_checkpoint_manifest(dir / ".invalid-step-00000060-1").has_value());
  // Under its own step's name, or a name that states none (a copy the user made), it is read.
  dir.write("step-00000999/manifest.json", text);
  EXPECT_TRUE(read_checkpoint_manifest(dir / "step-00000999").has_value());
  dir.write("best/manifest.json", text);
  EXPECT_TRUE(read_checkpoint_manifest(dir / "best").has_value());

  auto missing = read_checkpoint_manifest(dir / "step-00000070");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("step-00000070/manifest.json"));
}

}  // namespace
}  // namespace symphony
