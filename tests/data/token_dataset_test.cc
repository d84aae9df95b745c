#include "data/token_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/byte_tokenizer.h"
#include "data/prepare.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A tokenizer that maps like ByteTokenizer but claims another identity.
class OtherTokenizer final : public Tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text) const override { return bytes_.encode(text); }
  std::string decode(std::span<const int32_t> tokens) const override { return bytes_.decode(tokens); }
  int64_t vocab_size() const override { return bytes_.vocab_size(); }
  int32_t eot_token() const override { return bytes_.eot_token(); }
  std::string name() const override { return "other.json"; }
  std::string fingerprint() const override { return "0123456789abcdef"; }

 private:
  ByteTokenizer bytes_;
};

// 40 documents "document <i>: <i x 'z'>\n" in shards of about 100 tokens, all in train.
fs::path make_dataset(const testkit::TempDir& dir, const std::string& name = "ds") {
  for (int i = 0; i < 40; ++i)
    dir.write(fs::path("text_" + name) / fmt::format("{:03d}.txt", i),
              fmt::format("document {}: {}\n", i, std::string(size_t(i), 'z')));
  PrepareOptions options;
  options.inputs = {(dir / ("text_" + name)).string()};
  options.output_dir = (dir / name).string();
  options.val_fraction = 0;
  options.shard_tokens = 100;
  auto stats = prepare_dataset(options);
  EXPECT_TRUE(stats.has_value()) << stats.error().message();
  return dir / name;
}

void flip_byte(const fs::path& path, int64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.get(c);
  f.seekp(offset);
  f.put(static_cast<char>(c ^ 0x20));
}

TEST(TokenDataset, ReadsAcrossShardsAsOneStreamAndFindsDocuments) {
  testkit::TempDir dir("dataset");
  const fs::path ds = make_dataset(dir);
  auto d = TokenDataset::open(ds, Split::kTrain);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_GT(d->num_shards(), 5);
  EXPECT_EQ(d->num_documents(), 40);
  EXPECT_EQ(d->tokenizer_name(), "bytes");
  std::string all;
  for (int i = 0; i < 40; ++i) all += fmt::format("document {}: {}\n", i, std::string(size_t(i), 'z')) + '\x01';
  ASSERT_EQ(d->size(), int64_t(all.size()));
  // Every range, including those spanning shard boundaries, reads the concatenated stream.
  std::vector<int32_t> tokens(size_t(d->size()));
  d->read(0, tokens);
  for (size_t i = 0; i < all.size(); ++i) {
    const int32_t expected = all[i] == '\x01' ? ByteTokenizer::kEotToken : static_cast<unsigned char>(all[i]);
    ASSERT_EQ(tokens[i], expected) << "token " << i;
  }
  for (int64_t begin : {0, 95, 99, 100, 101, 250}) {
    std::vector<int32_t> part(150);
    d->read(begin, part);
    EXPECT_TRUE(std::equal(part.begin(), part.end(), tokens.begin() + begin)) << begin;
  }
  int64_t offset = 0;
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(d->document_start(i), offset) << i;
    offset += int64_t(fmt::format("document {}: {}\n", i, std::string(size_t(i), 'z')).size()) + 1;
  }
  auto val = TokenDataset::open(ds, Split::kVal);
  ASSERT_TRUE(val.has_value());
  EXPECT_EQ(val->size(), 0);
}

TEST(TokenDataset, TruncatedShardIsNamed) {
  testkit::TempDir dir("dataset");
  const fs::path ds = make_dataset(dir);
  fs::resize_file(ds / "train-00002.tok", fs::file_size(ds / "train-00002.tok") - 6);
  auto d = TokenDataset::open(ds, Split::kTrain);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(d.error().message(), HasSubstr("train-00002.tok"));
  EXPECT_THAT(d.error().message(), HasSubstr("truncated"));
}

TEST(TokenDataset, CorruptedShardFailsItsChecksum) {
  testkit::TempDir dir("dataset");
  const fs::path ds = make_dataset(dir);
  flip_byte(ds / "train-00003.tok", kTokenFileHeaderBytes + 10);
  auto d = TokenDataset::open(ds, Split::kTrain);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(d.error().message(), HasSubstr("train-00003.tok: checksum mismatch"));
  // Without verification the header's checksum still matches the manifest's: the damage is only
  // found by reading, which is what kVerify is for.
  EXPECT_TRUE(TokenDataset::open(ds, Split::kTrain, ChecksumCheck::kSkip).has_value());
}

TEST(TokenDataset, CorruptedOrMissingIndexIsNamed) {
  testkit::TempDir dir("dataset");
  const fs::path ds = make_dataset(dir);
  flip_byte(ds / "train-00001.idx", kDocIndexHeaderBytes + 9);
  auto d = TokenDataset::open(ds, Split::kTrain);
  ASSERT_FALSE(d.has_value());
  EXPECT_THAT(d.error().message(), HasSubstr("train-00001.idx: checksum mismatch"));
  fs::remove(ds / "train-00001.idx");
  auto missing = TokenDataset::open(ds, Split::kTrain);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("train-00001.idx"));
}

TEST(TokenDataset, ShardFromAnotherDatasetDisagreesWithTheManifest) {
  testkit::TempDir dir("dataset");
  const fs::path a = make_dataset(dir, "a");
  dir.write("text_b/x.txt", std::string(300, 'q'));
  PrepareOptions options;
  options.inputs = {(dir / "text_b").string()};
  options.output_dir = (dir / "b").string();
  options.val_fraction = 0;
  ASSERT_TRUE(prepare_dataset(options).has_value());
  fs::copy_file(dir / "b" / "train-00000.tok", a / "train-00000.tok",
                fs::copy_options::overwrite_existing);
  auto d = TokenDataset::open(a, Split::kTrain);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(d.error().message(), HasSubstr("train-00000.tok"));
  EXPECT_THAT(d.error().message(), HasSubstr("manifest.json lists"));
}

TEST(TokenDataset, TokenizerThatDoesNotMatchTheManifestIsRejected) {
  testkit::TempDir dir("dataset");
  const fs::path ds = make_dataset(dir);
  auto d = TokenDataset::open(ds, Split::kTrain);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->check_tokenizer(ByteTokenizer()).is_ok());
  Status s = d->check_tokenizer(OtherTokenizer());
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("manifest.json"));
  EXPECT_THAT(s.message(), HasSubstr("'bytes' (fingerprint " + ByteTokenizer().fingerprint()));
  EXPECT_THAT(s.message(), HasSubstr("'other.json' (fingerprint 0123456789abcdef)"));
}

TEST(TokenDataset, DirectoryWithoutManifestOrWithABrokenOneIsExplained) {
  testkit::TempDir dir("dataset");
  auto none = TokenDataset::open(dir.path(), Split::kTrain);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(none.error().message(), HasSubstr("symphony data prepare"));
  dir.write("manifest.json", "{\"format\": \"symphony-dataset\", \"version\": 2}");
  auto broken = TokenDataset::open(dir.path(), Split::kTrain);
  ASSERT_FALSE(broken.has_value());
  EXPECT_EQ(broken.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(broken.error().message(), HasSubstr("manifest.json: the manifest has no \"tokenizer\""));
  dir.write("manifest.json", "{\"format\": \"symphony-dataset\", \"version\": 1}");
  auto old = TokenDataset::open(dir.path(), Split::kTrain);
  ASSERT_FALSE(old.has_value());
  EXPECT_THAT(old.error().message(), HasSubstr("dataset version 1"));
}

TEST(TokenDataset, ManifestRoundTripsThroughJson) {
  DatasetManifest m;
  m.tokenizer_name = "bytes";
  m.tokenizer_fingerprint = "00ff00ff00ff00ff";
  m.vocab_size = 320;
  m.eot_token = 256;
  m.token_bytes = 2;
  m.seed = 9;
  m.val_fraction = 0.125;
  m.text_field = "content";
  m.shard_tokens = 1000;
  m.input_bytes = 77;
  m.train.documents = 3;
  m.train.tokens = 80;
  m.train.shards.push_back({"train-00000.tok", "train-00000.idx", 80, 3, 0x1234, 0xabcd});
  m.inputs.push_back({"a.jsonl.zst", "jsonl", "zstd", 50, 77, 3, 1, 2});
  auto back = parse_manifest(manifest_to_json(m), "test");
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(manifest_to_json(*back), manifest_to_json(m));
  EXPECT_EQ(back->train.shards[0].index_checksum, 0xabcdu);
  m.train.tokens = 81;  // no longer the sum of its shards
  auto bad = parse_manifest(manifest_to_json(m), "test");
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("shards add up to 80 tokens"));
}

TEST(TokenDataset, OpensASingleTokenFile) {
  testkit::TempDir dir("dataset");
  auto writer = TokenFileWriter::create(dir / "one.tok", TokenFileMeta{64, 63, 0});
  ASSERT_TRUE(writer.has_value());
  std::vector<int32_t> tokens(500);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t(i % 63);
  ASSERT_TRUE(writer->append(tokens).is_ok());
  ASSERT_TRUE(writer->close().is_ok());
  auto d = TokenDataset::open_token_file(dir / "one.tok");
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(d->size(), 500);
  EXPECT_EQ(d->num_documents(), 0);
  EXPECT_EQ(d->vocab_size(), 64);
  std::vector<int32_t> back(500);
  d->read(0, back);
  EXPECT_EQ(back, tokens);
  EXPECT_TRUE(d->check_tokenizer(ByteTokenizer()).is_ok());  // 64 ids fit 320
}

}  // namespace
}  // namespace symphony
