#include "data/prepare.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/byte_tokenizer.h"
#include "data/token_file.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path make_temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "symphony_prepare_XXXXXX").string();
  EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
  return pattern;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<int32_t> read_all(const TokenFile& file) {
  std::vector<int32_t> tokens(file.size());
  file.read(0, tokens);
  return tokens;
}

// A corpus of `count` documents "doc <i>\n" spread over nested directories.
fs::path make_corpus(const fs::path& root, int count) {
  const fs::path corpus = root / "corpus";
  for (int i = 0; i < count; ++i)
    write_text(corpus / fmt::format("part{}", i % 3) / fmt::format("doc{:03d}.txt", i),
               fmt::format("doc {}\n", i));
  return corpus;
}

TEST(PrepareDataset, CountsTokensAndSplitsDeterministically) {
  const fs::path root = make_temp_dir();
  const fs::path corpus = make_corpus(root, 60);
  write_text(corpus / "empty.txt", "");
  write_text(corpus / ".hidden", "never read");

  PrepareOptions options;
  options.inputs = {corpus.string()};
  options.output_dir = (root / "out1").string();
  options.val_fraction = 0.25;
  options.seed = 7;
  auto stats = prepare_dataset(options);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->tokenizer, "bytes");
  EXPECT_EQ(stats->files, 61);
  EXPECT_EQ(stats->empty_files, 1);
  EXPECT_EQ(stats->train_documents + stats->val_documents, 60);
  EXPECT_GT(stats->val_documents, 5);  // about 15 expected
  EXPECT_GT(stats->train_documents, 30);
  // "doc <i>\n" is 6 + digits bytes, plus one end-of-text token per document.
  int64_t expected_tokens = 0;
  for (int i = 0; i < 60; ++i) expected_tokens += int64_t(fmt::format("doc {}\n", i).size()) + 1;
  EXPECT_EQ(stats->train_tokens + stats->val_tokens, expected_tokens);
  EXPECT_EQ(stats->input_bytes + 60, expected_tokens);

  auto train = TokenFile::open(stats->train_path);
  auto val = TokenFile::open(stats->val_path);
  ASSERT_TRUE(train.has_value()) << train.error().message();
  ASSERT_TRUE(val.has_value()) << val.error().message();
  EXPECT_EQ(train->size(), stats->train_tokens);
  EXPECT_EQ(val->size(), stats->val_tokens);
  EXPECT_EQ(train->checksum(), stats->train_checksum);
  EXPECT_EQ(train->vocab_size(), ByteTokenizer::kVocabSize);
  const std::vector<int32_t> train_tokens = read_all(*train);
  const std::vector<int32_t> val_tokens = read_all(*val);
  EXPECT_EQ(train_tokens.back(), ByteTokenizer::kEotToken);
  int64_t eots = 0;
  for (int32_t t : train_tokens) eots += t == ByteTokenizer::kEotToken;
  EXPECT_EQ(eots, stats->train_documents);
  // Documents keep their (sorted path) order within each split: part0/doc000 comes first.
  ByteTokenizer tokenizer;
  const std::string train_text = tokenizer.decode(train_tokens);
  const std::string val_text = tokenizer.decode(val_tokens);
  EXPECT_EQ(train_text.find("doc 11\n") == std::string::npos,
            val_text.find("doc 11\n") != std::string::npos);

  std::ifstream manifest_in(stats->manifest_path);
  nlohmann::json manifest = nlohmann::json::parse(manifest_in, nullptr, false);
  ASSERT_TRUE(manifest.is_object());
  EXPECT_EQ(manifest["tokenizer"]["name"], "bytes");
  EXPECT_EQ(manifest["tokenizer"]["vocab_size"], 320);
  EXPECT_EQ(manifest["train"]["tokens"], stats->train_tokens);
  EXPECT_EQ(manifest["val"]["documents"], stats->val_documents);
  EXPECT_EQ(manifest["files"].size(), 61u);
  EXPECT_EQ(manifest["train"]["fnv1a64"], fmt::format("{:016x}", stats->train_checksum));

  // Same inputs, same seed: byte-identical outputs. A different seed: a different split.
  options.output_dir = (root / "out2").string();
  auto again = prepare_dataset(options);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->train_checksum, stats->train_checksum);
  EXPECT_EQ(again->val_checksum, stats->val_checksum);
  EXPECT_EQ(again->val_documents, stats->val_documents);

  options.output_dir = (root / "out3").string();
  options.seed = 8;
  auto reseeded = prepare_dataset(options);
  ASSERT_TRUE(reseeded.has_value());
  EXPECT_NE(reseeded->train_checksum, stats->train_checksum);
  fs::remove_all(root);
}

TEST(PrepareDataset, ValFractionExtremesAndGlobs) {
  const fs::path root = make_temp_dir();
  const fs::path corpus = make_corpus(root, 12);
  PrepareOptions options;
  options.inputs = {(corpus / "part1" / "*.txt").string(), (corpus / "part1").string()};
  options.output_dir = (root / "out").string();
  options.val_fraction = 0.0;
  auto stats = prepare_dataset(options);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->files, 4);  // part1 named twice, read once
  EXPECT_EQ(stats->val_documents, 0);
  EXPECT_EQ(stats->train_documents, 4);

  options.val_fraction = 1.0;
  auto all_val = prepare_dataset(options);
  ASSERT_TRUE(all_val.has_value());
  EXPECT_EQ(all_val->train_documents, 0);
  EXPECT_EQ(all_val->val_documents, 4);
  fs::remove_all(root);
}

TEST(PrepareDataset, ErrorsNameThePath) {
  const fs::path root = make_temp_dir();
  fs::create_directories(root / "empty_dir");
  PrepareOptions options;
  options.output_dir = (root / "out").string();

  options.inputs = {(root / "empty_dir").string()};
  auto empty = prepare_dataset(options);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(empty.error().message(), HasSubstr("no input files"));
  EXPECT_THAT(empty.error().message(), HasSubstr("empty_dir"));

  options.inputs = {(root / "missing.txt").string()};
  auto missing = prepare_dataset(options);
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message(), HasSubstr("missing.txt"));

  options.inputs = {(root / "*.nothing").string()};
  auto no_match = prepare_dataset(options);
  ASSERT_FALSE(no_match.has_value());
  EXPECT_THAT(no_match.error().message(), HasSubstr("*.nothing"));

  write_text(root / "locked" / "a.txt", "secret");
  fs::permissions(root / "locked" / "a.txt", fs::perms::none);
  options.inputs = {(root / "locked").string()};
  auto unreadable = prepare_dataset(options);
  if (::geteuid() != 0) {  // root reads files regardless of permissions
    ASSERT_FALSE(unreadable.has_value());
    EXPECT_THAT(unreadable.error().message(), HasSubstr("locked/a.txt"));
    EXPECT_FALSE(fs::exists(root / "out" / "train.tok"));
    EXPECT_FALSE(fs::exists(root / "out" / "train.tok.tmp"));
  }

  options.inputs = {(root / "locked").string()};
  options.tokenizer = "bpe32k";
  auto bad_tokenizer = prepare_dataset(options);
  ASSERT_FALSE(bad_tokenizer.has_value());
  EXPECT_THAT(bad_tokenizer.error().message(), HasSubstr("unknown tokenizer 'bpe32k'"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace symphony
