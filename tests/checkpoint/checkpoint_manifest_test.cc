// manifest.json: its own checksum over the canonical content, the format versions read (1 and 2
// without boxes), the pieces' coverage in the tensor's coordinates (boxes cut along dim 0 and
// dim 1 by hand), and the step its directory's name must state.
#include "checkpoint/checkpoint_manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <regex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/checksum.h"
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
  m.tensors = {{"w", {2, 3}, "F32", {{"a.safetensors", "w@0", TensorBox::whole({2, 3}), 0, 6}}}};
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
  EXPECT_THAT(text, HasSubstr("\"format_version\": 3"));
  auto m = manifest_from_json(text, "m.json");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->step, 60);
  EXPECT_EQ(m->format_version, 3);
  EXPECT_EQ(m->tensors[0].pieces[0].box, TensorBox::whole({2, 3}));
  EXPECT_EQ(m->loader.sources[0].position, 240);
  // Other whitespace and indentation: the same content, the same checksum.
  const std::string reformatted = nlohmann::json::parse(text).dump(4);
  ASSERT_NE(reformatted, text);
  EXPECT_TRUE(manifest_from_json(reformatted, "m.json").has_value());
}

TEST(CheckpointManifestTest, LayoutRoundTripsWithItsPipelineAndExpertSizes) {
  CheckpointManifest saved = small_manifest(60);
  saved.layout = {8, 2, 3, "pp=2 dp=2 tp=2 zero=3", 2, 2};
  auto m = manifest_from_json(manifest_to_json(saved), "m.json");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->layout.world, 8);
  EXPECT_EQ(m->layout.dp, 2);
  EXPECT_EQ(m->layout.zero_stage, 3);
  EXPECT_EQ(m->layout.description, "pp=2 dp=2 tp=2 zero=3");
  EXPECT_EQ(m->layout.ep, 2);
  EXPECT_EQ(m->layout.pp, 2);
}

TEST(CheckpointManifestTest, Fp8StateRoundTripsUnderTheChecksumAndIsAbsentOtherwise) {
  EXPECT_THAT(manifest_to_json(small_manifest(60)), ::testing::Not(HasSubstr("fp8_state")));
  CheckpointManifest saved = small_manifest(60);
  saved.fp8_state = {{"sites", {{"w fwd", {{"calls", 3}, {"fallen_back", true}}}}}};
  const std::string text = manifest_to_json(saved);
  auto m = manifest_from_json(text, "m.json");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->fp8_state, saved.fp8_state);
  auto edited = manifest_from_json(edit(text, "\"fallen_back\": true", "\"fallen_back\": false"),
                                   "m.json");
  ASSERT_FALSE(edited.has_value());
  EXPECT_THAT(edited.error().message(), HasSubstr("hashes to"));
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

// The checksum a manifest carries, recomputed as docs/checkpoints.md specifies it.
std::string canonical_checksum(const nlohmann::json& j) {
  const std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return checksum_hex(xxh3_64(std::as_bytes(std::span(text.data(), text.size()))));
}

TEST(CheckpointManifestTest, VersionsOneAndTwoHavePiecesOfTheWholeTensor) {
  CheckpointManifest m = small_manifest(60);
  m.tensors[0].pieces = {{"a.safetensors", "w@0", TensorBox::whole({2, 3}), 0, 4},
                         {"a.safetensors", "w@4", TensorBox::whole({2, 3}), 4, 6}};
  nlohmann::json j = nlohmann::json::parse(manifest_to_json(m));
  j.erase("manifest_xxh3");
  for (nlohmann::json& p : j["tensors"]["w"]["pieces"]) {
    p.erase("box_offset");
    p.erase("box_shape");
  }
  for (int version : {1, 2}) {
    SCOPED_TRACE(version);
    j["format_version"] = version;
    nlohmann::json stored = j;
    if (version == 2) stored["manifest_xxh3"] = canonical_checksum(j);
    auto read = manifest_from_json(stored.dump(), "m.json");
    ASSERT_TRUE(read.has_value()) << read.error().message();
    EXPECT_EQ(read->format_version, version);
    ASSERT_EQ(read->tensors[0].pieces.size(), 2u);
    for (const TensorPiece& p : read->tensors[0].pieces)
      EXPECT_EQ(p.box, TensorBox::whole({2, 3}));
    EXPECT_EQ(read->tensors[0].pieces[1].begin, 4);
    // Written again, as version 3 with the boxes stated.
    EXPECT_THAT(manifest_to_json(*read), HasSubstr("\"box_shape\": [\n"));
  }
  // Version 3 without its boxes is refused, naming the field.
  j["format_version"] = 3;
  j["manifest_xxh3"] = canonical_checksum(j);
  auto v3 = manifest_from_json(j.dump(), "m.json");
  ASSERT_FALSE(v3.has_value());
  EXPECT_THAT(v3.error().message(), HasSubstr(R"(m.json: tensors["w"].pieces[].box_offset is missing)"));
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

  j["format_version"] = 4;
  auto v4 = manifest_from_json(j.dump(), "m.json");
  ASSERT_FALSE(v4.has_value());
  EXPECT_THAT(v4.error().message(), HasSubstr("format_version 4 is not supported by this build"));
}

// A manifest of one tensor "w" of `shape` with `pieces`, read back.
Result<CheckpointManifest> read_pieces(std::vector<int64_t> shape,
                                       std::vector<TensorPiece> pieces) {
  CheckpointManifest m;
  m.files = {{"a.safetensors", 10, "0000000000000000"}, {"b.safetensors", 10, "0000000000000000"}};
  m.tensors = {{"w", std::move(shape), "F32", std::move(pieces)}};
  return manifest_from_json(manifest_to_json(m), "m.json");
}

std::string read_pieces_error(std::vector<int64_t> shape, std::vector<TensorPiece> pieces) {
  auto m = read_pieces(std::move(shape), std::move(pieces));
  return m.has_value() ? "read without error" : m.error().message();
}

TEST(CheckpointManifestTest, PiecesOfTheWholeTensorMustCoverItOnce) {
  const TensorBox whole = TensorBox::whole({2, 3});
  auto ok = read_pieces({2, 3}, {{"a.safetensors", "w@0", whole, 0, 4},
                                 {"b.safetensors", "w@4", whole, 4, 6}});
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->tensors[0].pieces.size(), 2u);

  EXPECT_THAT(read_pieces_error({2, 3}, {{"a.safetensors", "w@0", whole, 0, 4},
                                         {"a.safetensors", "w@5", whole, 5, 6}}),
              HasSubstr("m.json: the pieces of tensor w do not cover its 6 elements exactly "
                        "once: they hold 5 of them"));
  EXPECT_THAT(read_pieces_error({2, 3}, {{"a.safetensors", "w@0", whole, 0, 4},
                                         {"a.safetensors", "w@3", whole, 3, 6}}),
              HasSubstr("m.json: the pieces of tensor w do not cover its 6 elements exactly "
                        "once: two pieces of box offset [0, 0] shape [2, 3] hold its element 3"));
  EXPECT_THAT(read_pieces_error({2, 3}, {{"c.safetensors", "w@0", whole, 0, 6}}),
              HasSubstr("c.safetensors, which the manifest does not list"));

  auto junk = manifest_from_json(
      "{\"format\": \"symphony-checkpoint\", \"format_version\": 1}", "m.json");
  ASSERT_FALSE(junk.has_value());
  EXPECT_THAT(junk.error().message(), HasSubstr("m.json: step is missing"));
}

// (4, 6) cut along dim 1 into two blocks of (4, 3), each saved by two replicas in two runs, as
// tensor parallelism saves a row-parallel weight.
std::vector<TensorPiece> dim1_pieces() {
  return {{"a.safetensors", "w@0", {{0, 0}, {4, 3}}, 0, 5},
          {"b.safetensors", "w@7", {{0, 0}, {4, 3}}, 5, 12},
          {"a.safetensors", "w@3", {{0, 3}, {4, 3}}, 0, 6},
          {"b.safetensors", "w@15", {{0, 3}, {4, 3}}, 6, 12}};
}

TEST(CheckpointManifestTest, BoxesAlongAnyDimCoverTheTensorOnce) {
  auto dim1 = read_pieces({4, 6}, dim1_pieces());
  ASSERT_TRUE(dim1.has_value()) << dim1.error().message();
  const std::vector<TensorPiece>& pieces = dim1->tensors[0].pieces;
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(pieces[3].box, (TensorBox{{0, 3}, {4, 3}}));
  EXPECT_EQ(pieces[3].begin, 6);
  EXPECT_EQ(pieces[3].end, 12);
  // Blocks of (E, F, D) along dim 0 (expert parallelism), each whole in one piece.
  auto dim0 = read_pieces({4, 2, 3}, {{"a.safetensors", "w@0", {{0, 0, 0}, {2, 2, 3}}, 0, 12},
                                      {"b.safetensors", "w@12", {{2, 0, 0}, {2, 2, 3}}, 0, 12}});
  ASSERT_TRUE(dim0.has_value()) << dim0.error().message();

  // One block missing a run; a block overlapping its neighbour.
  std::vector<TensorPiece> gap = dim1_pieces();
  gap[1].begin = 6;
  EXPECT_THAT(read_pieces_error({4, 6}, gap),
              HasSubstr("m.json: the pieces of tensor w do not cover its 24 elements exactly once: "
                        "they hold 23 of them"));
  std::vector<TensorPiece> overlap = dim1_pieces();
  overlap[2].box.offset = {0, 2};
  overlap[3].box.offset = {0, 2};
  EXPECT_THAT(read_pieces_error({4, 6}, overlap),
              HasSubstr("m.json: the pieces of tensor w do not cover its 24 elements exactly once: "
                        "pieces of boxes offset [0, 0] shape [4, 3] and offset [0, 2] shape [4, 3], "
                        "which intersect"));
  // Boxes outside the tensor, runs outside their box.
  std::vector<TensorPiece> outside = dim1_pieces();
  outside[2].box.offset = {0, 4};
  EXPECT_THAT(read_pieces_error({4, 6}, outside),
              HasSubstr("m.json: tensor w of shape [4, 6] has a piece in a.safetensors whose box "
                        "(offset [0, 4] shape [4, 3]) lies outside it"));
  std::vector<TensorPiece> dims = dim1_pieces();
  dims[0].box = {{0, 0, 0}, {4, 3, 1}};
  EXPECT_THAT(read_pieces_error({4, 6}, dims), HasSubstr("lies outside it"));
  std::vector<TensorPiece> huge = dim1_pieces();
  huge[0].box.offset = {std::numeric_limits<int64_t>::max(), 0};
  EXPECT_THAT(read_pieces_error({4, 6}, huge), HasSubstr("lies outside it"));
  std::vector<TensorPiece> long_run = dim1_pieces();
  long_run[1].end = 13;
  EXPECT_THAT(read_pieces_error({4, 6}, long_run),
              HasSubstr("m.json: tensor w has a piece in b.safetensors of elements [5, 13) of a "
                        "box of 12 elements (offset [0, 0] shape [4, 3])"));
  std::vector<TensorPiece> empty = dim1_pieces();
  empty[0].end = 0;
  EXPECT_THAT(read_pieces_error({4, 6}, empty), HasSubstr("of elements [0, 0) of a box"));
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
