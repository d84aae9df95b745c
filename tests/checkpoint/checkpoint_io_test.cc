// Reading boxes of a checkpoint tensor from pieces saved in other boxes: a (4, 6) tensor whose
// element i holds the value i, saved by hand as dim-1 blocks (each in two runs, as replicas save
// their slices), as dim-0 blocks, and as runs of the whole tensor (format versions 1 and 2), read
// back whole, as blocks of the other dim and as boxes no layout makes.
#include "checkpoint/checkpoint_io.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "checkpoint/tensor_box.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::vector<int64_t> kShape = {4, 6};

// The value of every element of `box`: its index in the tensor.
std::vector<float> expected(const TensorBox& box) {
  std::vector<float> v;
  for (int64_t i = 0; i < box.numel(); ++i) v.push_back(float(box_element_index(kShape, box, i)));
  return v;
}

// Writes `pieces` of tensor "w" (the values expected() gives) into their files under `dir` and
// returns the manifest listing them.
CheckpointManifest write_pieces(const fs::path& dir, std::vector<TensorPiece> pieces) {
  std::map<std::string, std::vector<std::vector<float>>> data;  // file -> pieces' data
  for (TensorPiece& p : pieces) {
    const std::vector<float> box = expected(p.box);
    data[p.file].emplace_back(box.begin() + p.begin, box.begin() + p.end);
  }
  CheckpointManifest m;
  std::map<std::string, size_t> next;  // file -> piece written
  std::map<std::string, std::vector<TensorRecord>> records;
  for (TensorPiece& p : pieces) {
    const std::vector<float>& v = data[p.file][next[p.file]++];
    records[p.file].push_back(
        {p.key, "F32", {int64_t(v.size())}, v.data(), int64_t(v.size() * sizeof(float))});
  }
  for (const auto& [file, recs] : records) {
    EXPECT_TRUE(write_safetensors(dir / file, recs, {}).is_ok());
    m.files.push_back({file, int64_t(fs::file_size(dir / file)), "0000000000000000"});
  }
  m.tensors = {{"w", kShape, "F32", std::move(pieces)}};
  // Through the manifest's text, so that its checks apply.
  auto read = manifest_from_json(manifest_to_json(m), dir / "manifest.json");
  EXPECT_TRUE(read.has_value()) << read.error().message();
  return read.has_value() ? *read : m;
}

void expect_reads(const CheckpointManifest& m, const fs::path& dir) {
  const TensorBox boxes[] = {
      TensorBox::whole(kShape),
      {{0, 0}, {2, 6}},  // dim-0 blocks
      {{2, 0}, {2, 6}},
      {{0, 0}, {4, 3}},  // dim-1 blocks
      {{0, 3}, {4, 3}},
      {{0, 2}, {4, 2}},  // a third of dim 1
      {{1, 2}, {2, 3}},  // neither
      {{3, 5}, {1, 1}},
  };
  for (const TensorBox& box : boxes) {
    SCOPED_TRACE(box.describe());
    auto got = read_checkpoint_box(m, dir, "w", box);
    ASSERT_TRUE(got.has_value()) << got.error().message();
    EXPECT_EQ(*got, expected(box));
  }
}

TEST(CheckpointIo, BoxesReadFromDimOneBlocks) {
  testkit::TempDir dir("checkpoint_io_test");
  const CheckpointManifest m = write_pieces(
      dir.path(), {{"a.safetensors", "w@0", {{0, 0}, {4, 3}}, 0, 5},
                   {"b.safetensors", "w@7", {{0, 0}, {4, 3}}, 5, 12},
                   {"a.safetensors", "w@3", {{0, 3}, {4, 3}}, 0, 6},
                   {"b.safetensors", "w@15", {{0, 3}, {4, 3}}, 6, 12}});
  expect_reads(m, dir.path());
  auto whole = read_checkpoint_tensor(m, dir.path(), "w");
  ASSERT_TRUE(whole.has_value()) << whole.error().message();
  EXPECT_EQ(*whole, expected(TensorBox::whole(kShape)));
}

TEST(CheckpointIo, BoxesReadFromDimZeroBlocksAndWholeTensorRuns) {
  testkit::TempDir dir("checkpoint_io_test");
  expect_reads(write_pieces(dir.path(), {{"a.safetensors", "w@0", {{0, 0}, {2, 6}}, 0, 12},
                                         {"b.safetensors", "w@12", {{2, 0}, {2, 6}}, 0, 12}}),
               dir.path());
  // Runs of the whole tensor, as version 1 and 2 manifests describe every piece.
  const TensorBox whole = TensorBox::whole(kShape);
  expect_reads(write_pieces(dir.path(), {{"a.safetensors", "w@0", whole, 0, 7},
                                         {"a.safetensors", "w@7", whole, 7, 8},
                                         {"b.safetensors", "w@8", whole, 8, 24}}),
               dir.path());
}

TEST(CheckpointIo, BoxOutsideTheTensorOrAMissingTensorIsRefused) {
  testkit::TempDir dir("checkpoint_io_test");
  const CheckpointManifest m = write_pieces(
      dir.path(), {{"a.safetensors", "w@0", TensorBox::whole(kShape), 0, 24}});
  auto outside = read_checkpoint_box(m, dir.path(), "w", {{0, 4}, {4, 3}});
  ASSERT_FALSE(outside.has_value());
  EXPECT_THAT(outside.error().message(),
              HasSubstr("box offset [0, 4] shape [4, 3] lies outside tensor w of shape [4, 6]"));
  auto missing = read_checkpoint_tensor(m, dir.path(), "v");
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message(), HasSubstr("the checkpoint has no tensor v"));
}

}  // namespace
}  // namespace symphony
