#include "data/prepare.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/byte_tokenizer.h"
#include "data/dataset_manifest.h"
#include "data/doc_index.h"
#include "data/token_dataset.h"
#include "testkit/compression.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A corpus of `count` documents "doc <i>\n" spread over nested directories.
fs::path make_corpus(const testkit::TempDir& dir, int count) {
  for (int i = 0; i < count; ++i)
    dir.write(fs::path("corpus") / fmt::format("part{}", i % 3) / fmt::format("doc{:03d}.txt", i),
              fmt::format("doc {}\n", i));
  return dir / "corpus";
}

std::vector<int32_t> read_all(const TokenDataset& d) {
  std::vector<int32_t> tokens(static_cast<size_t>(d.size()));
  d.read(0, tokens);
  return tokens;
}

// The documents of a split, decoded, in order (end-of-text tokens removed).
std::vector<std::string> documents_of(const TokenDataset& d) {
  const std::vector<int32_t> tokens = read_all(d);
  ByteTokenizer tokenizer;
  std::vector<std::string> docs;
  for (int64_t i = 0; i < d.num_documents(); ++i) {
    const int64_t begin = d.document_start(i);
    const int64_t end = i + 1 < d.num_documents() ? d.document_start(i + 1) : d.size();
    EXPECT_EQ(tokens[size_t(end - 1)], ByteTokenizer::kEotToken) << "document " << i;
    docs.push_back(tokenizer.decode(std::span(tokens).subspan(size_t(begin), size_t(end - begin - 1))));
  }
  return docs;
}

// Every regular file of a directory (not recursing), name -> bytes.
std::map<std::string, std::string> directory_bytes(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file())
      files[entry.path().filename().string()] = testkit::read_file_bytes(entry.path());
  }
  return files;
}

PrepareOptions options_for(const std::vector<fs::path>& inputs, const fs::path& out) {
  PrepareOptions options;
  for (const fs::path& p : inputs) options.inputs.push_back(p.string());
  options.output_dir = out.string();
  return options;
}

TEST(PrepareDataset, CountsTokensSplitsDeterministicallyAndWritesTheManifest) {
  testkit::TempDir dir("prepare");
  const fs::path corpus = make_corpus(dir, 60);
  dir.write("corpus/empty.txt", "");
  dir.write("corpus/.hidden", "never read");

  PrepareOptions options = options_for({corpus}, dir / "out1");
  options.val_fraction = 0.25;
  options.seed = 7;
  auto stats = prepare_dataset(options);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->tokenizer, "bytes");
  EXPECT_EQ(stats->files, 61);
  EXPECT_EQ(stats->empty_documents, 1);
  ASSERT_FALSE(stats->warnings.empty());
  EXPECT_THAT(stats->warnings[0], HasSubstr("empty.txt: empty file"));
  EXPECT_EQ(stats->train_documents + stats->val_documents, 60);
  EXPECT_GT(stats->val_documents, 5);  // about 15 expected
  EXPECT_GT(stats->train_documents, 30);
  int64_t expected_tokens = 0;
  for (int i = 0; i < 60; ++i) expected_tokens += int64_t(fmt::format("doc {}\n", i).size()) + 1;
  EXPECT_EQ(stats->train_tokens + stats->val_tokens, expected_tokens);
  EXPECT_EQ(stats->input_bytes + 60, expected_tokens);
  EXPECT_EQ(stats->token_bytes, 2);

  auto train = TokenDataset::open(dir / "out1", Split::kTrain);
  auto val = TokenDataset::open(dir / "out1", Split::kVal);
  ASSERT_TRUE(train.has_value()) << train.error().message();
  ASSERT_TRUE(val.has_value()) << val.error().message();
  EXPECT_EQ(train->size(), stats->train_tokens);
  EXPECT_EQ(val->size(), stats->val_tokens);
  EXPECT_EQ(train->num_documents(), stats->train_documents);
  EXPECT_EQ(val->num_documents(), stats->val_documents);
  EXPECT_EQ(train->vocab_size(), ByteTokenizer::kVocabSize);
  // Documents keep their (sorted path) order within each split; each lands in exactly one split.
  const std::vector<std::string> train_docs = documents_of(*train);
  const std::vector<std::string> val_docs = documents_of(*val);
  EXPECT_EQ(train_docs.size() + val_docs.size(), 60u);
  EXPECT_EQ(std::count(train_docs.begin(), train_docs.end(), "doc 11\n") +
                std::count(val_docs.begin(), val_docs.end(), "doc 11\n"),
            1);
  EXPECT_TRUE(train_docs.front() == "doc 0\n" || val_docs.front() == "doc 0\n");

  auto manifest = read_manifest(dir / "out1");
  ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
  EXPECT_EQ(manifest->tokenizer_name, "bytes");
  EXPECT_EQ(manifest->tokenizer_fingerprint, ByteTokenizer().fingerprint());
  EXPECT_EQ(manifest->vocab_size, ByteTokenizer::kVocabSize);
  EXPECT_EQ(manifest->eot_token, ByteTokenizer::kEotToken);
  EXPECT_EQ(manifest->token_bytes, 2);
  EXPECT_EQ(manifest->seed, 7u);
  EXPECT_EQ(manifest->val_fraction, 0.25);
  EXPECT_EQ(manifest->train.tokens, stats->train_tokens);
  EXPECT_EQ(manifest->val.documents, stats->val_documents);
  ASSERT_EQ(manifest->train.shards.size(), 1u);
  EXPECT_EQ(manifest->train.shards[0].path, "train-00000.tok");
  EXPECT_EQ(manifest->train.shards[0].index_path, "train-00000.idx");
  auto shard = TokenFile::open(dir / "out1" / "train-00000.tok");
  ASSERT_TRUE(shard.has_value());
  EXPECT_EQ(manifest->train.shards[0].checksum, shard->checksum());
  ASSERT_EQ(manifest->inputs.size(), 61u);
  EXPECT_EQ(manifest->inputs[0].format, "text");
  EXPECT_EQ(manifest->inputs[0].compression, "none");
  EXPECT_EQ(manifest->inputs.front().empty_documents, 1);  // corpus/empty.txt sorts first
  // The raw JSON holds the documented keys.
  auto json = nlohmann::json::parse(testkit::read_file_bytes(dir / "out1" / "manifest.json"));
  EXPECT_EQ(json["format"], "symphony-dataset");
  EXPECT_EQ(json["version"], 2);
  EXPECT_EQ(json["train"]["shards"][0]["fnv1a64"], fmt::format("{:016x}", shard->checksum()));

  // Same inputs, same seed: byte-identical outputs. A different seed: a different split.
  options.output_dir = (dir / "out2").string();
  ASSERT_TRUE(prepare_dataset(options).has_value());
  EXPECT_EQ(directory_bytes(dir / "out1"), directory_bytes(dir / "out2"));
  options.output_dir = (dir / "out3").string();
  options.seed = 8;
  ASSERT_TRUE(prepare_dataset(options).has_value());
  EXPECT_NE(testkit::read_file_bytes(dir / "out1" / "train-00000.tok"),
            testkit::read_file_bytes(dir / "out3" / "train-00000.tok"));

  // Preparing a directory into itself twice does not read the first run's shards as text.
  options.inputs = {corpus.string()};
  options.output_dir = corpus.string();
  auto first = prepare_dataset(options);
  auto second = prepare_dataset(options);
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(second->files, first->files);
  EXPECT_EQ(second->train_tokens, first->train_tokens);
}

// A mixed corpus: text files (one long enough to be cut into pieces), JSONL, gzip and zstd.
std::vector<std::string> write_mixed_corpus(const testkit::TempDir& dir) {
  std::vector<std::string> docs;
  std::string long_doc;
  for (int i = 0; i < 400; ++i) long_doc += fmt::format("line {} of the long document\n", i);
  dir.write("mixed/a_long.txt", long_doc);
  docs.push_back(long_doc);
  std::string jsonl;
  for (int i = 0; i < 50; ++i) {
    const std::string text = fmt::format("json doc {} with \"quotes\" and \u00e9\n", i);
    jsonl += nlohmann::json({{"id", i}, {"text", text}}).dump() + "\n";
    docs.push_back(text);
  }
  dir.write("mixed/b.jsonl", jsonl);
  std::string gz_jsonl;
  for (int i = 0; i < 30; ++i) {
    const std::string text = fmt::format("gzip doc {}", i);
    gz_jsonl += nlohmann::json({{"text", text}}).dump() + "\r\n";  // CRLF lines
    docs.push_back(text);
  }
  dir.write("mixed/c.jsonl.gz", testkit::gzip_bytes(gz_jsonl + "\n"));
  std::string zst_jsonl;
  for (int i = 0; i < 30; ++i) {
    const std::string text = fmt::format("zstd doc {}", i);
    zst_jsonl += nlohmann::json({{"text", text}, {"meta", {{"n", i}}}}).dump() + "\n";
    docs.push_back(text);
  }
  dir.write("mixed/d.jsonl.zst", testkit::zstd_bytes(zst_jsonl));
  dir.write("mixed/e.txt.gz", testkit::gzip_bytes("a gzip text file\n"));
  docs.push_back("a gzip text file\n");
  dir.write("mixed/f.txt.zst", testkit::zstd_bytes("a zstd text file\n"));
  docs.push_back("a zstd text file\n");
  return docs;
}

TEST(PrepareDataset, ReadsTextJsonlGzipAndZstd) {
  testkit::TempDir dir("prepare");
  const std::vector<std::string> docs = write_mixed_corpus(dir);
  PrepareOptions options = options_for({dir / "mixed"}, dir / "out");
  options.val_fraction = 0;
  options.max_piece_bytes = 1000;  // the long document goes out in many pieces
  auto stats = prepare_dataset(options);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->train_documents, int64_t(docs.size()));
  auto train = TokenDataset::open(dir / "out", Split::kTrain);
  ASSERT_TRUE(train.has_value()) << train.error().message();
  EXPECT_EQ(documents_of(*train), docs);
  auto manifest = read_manifest(dir / "out");
  ASSERT_TRUE(manifest.has_value());
  ASSERT_EQ(manifest->inputs.size(), 6u);
  EXPECT_EQ(manifest->inputs[2].format, "jsonl");
  EXPECT_EQ(manifest->inputs[2].compression, "gzip");
  EXPECT_EQ(manifest->inputs[3].compression, "zstd");
  EXPECT_EQ(manifest->inputs[3].documents, 30);
  EXPECT_EQ(manifest->inputs[4].format, "text");
  EXPECT_EQ(manifest->inputs[4].compression, "gzip");
  EXPECT_EQ(manifest->val.shards.size(), 0u);
}

TEST(PrepareDataset, OutputIsIdenticalForOneAndManyThreads) {
  testkit::TempDir dir("prepare");
  write_mixed_corpus(dir);
  make_corpus(dir, 40);
  std::map<std::string, std::string> first;
  for (int threads : {1, 2, 5}) {
    SCOPED_TRACE(threads);
    PrepareOptions options = options_for({dir / "mixed", dir / "corpus"}, dir / fmt::format("out{}", threads));
    options.threads = threads;
    options.shard_tokens = 200;  // several shards per split
    options.max_piece_bytes = 500;
    options.val_fraction = 0.3;
    auto stats = prepare_dataset(options);
    ASSERT_TRUE(stats.has_value()) << stats.error().message();
    EXPECT_GT(stats->train_shards, 3);
    EXPECT_GT(stats->val_shards, 1);
    std::map<std::string, std::string> files = directory_bytes(options.output_dir);
    EXPECT_EQ(files.size(), size_t(2 * (stats->train_shards + stats->val_shards) + 1));
    if (threads == 1) {
      first = files;
    } else {
      EXPECT_TRUE(files == first) << "outputs differ between 1 and " << threads << " threads";
    }
  }
}

TEST(PrepareDataset, ShardsEndAtDocumentBoundariesWithTheirOwnIndex) {
  testkit::TempDir dir("prepare");
  const fs::path corpus = make_corpus(dir, 30);
  PrepareOptions options = options_for({corpus}, dir / "out");
  options.val_fraction = 0;
  options.shard_tokens = 40;
  auto stats = prepare_dataset(options);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  auto manifest = read_manifest(dir / "out");
  ASSERT_TRUE(manifest.has_value());
  ASSERT_GT(manifest->train.shards.size(), 4u);
  for (size_t i = 0; i < manifest->train.shards.size(); ++i) {
    const ShardEntry& s = manifest->train.shards[i];
    EXPECT_EQ(s.path, fmt::format("train-{:05d}.tok", i));
    if (i + 1 < manifest->train.shards.size()) {
      EXPECT_GE(s.tokens, 40);
    }
    EXPECT_LT(s.tokens, 40 + 10);  // closed at the first document end past 40
    auto shard = TokenFile::open(dir / "out" / s.path);
    auto index = DocIndex::open(dir / "out" / s.index_path);
    ASSERT_TRUE(shard.has_value() && index.has_value());
    EXPECT_EQ(index->num_documents(), s.documents);
    EXPECT_EQ(index->document_start(0), 0);
    EXPECT_EQ(shard->at(shard->size() - 1), ByteTokenizer::kEotToken);  // ends with a whole doc
  }
  auto train = TokenDataset::open(dir / "out", Split::kTrain);
  ASSERT_TRUE(train.has_value());
  const std::vector<std::string> docs = documents_of(*train);
  std::vector<std::string> expected;  // in path order: part0/doc000, part0/doc003, ...
  for (int part = 0; part < 3; ++part) {
    for (int i = part; i < 30; i += 3) expected.push_back(fmt::format("doc {}\n", i));
  }
  EXPECT_EQ(docs, expected);
}

TEST(PrepareDataset, InvalidUtf8RoundTripsThroughTheByteTokenizer) {
  testkit::TempDir dir("prepare");
  const std::string bytes = std::string("ok \xff\xfe broken \xc3( \xe2\x82 end\x80", 22) +
                            std::string(1, '\0') + "nul";
  dir.write("bad_utf8.txt", bytes);
  PrepareOptions options = options_for({dir / "bad_utf8.txt"}, dir / "out");
  options.val_fraction = 0;
  ASSERT_TRUE(prepare_dataset(options).has_value());
  auto train = TokenDataset::open(dir / "out", Split::kTrain);
  ASSERT_TRUE(train.has_value());
  EXPECT_EQ(documents_of(*train), std::vector<std::string>{bytes});
}

TEST(PrepareDataset, BadJsonlLinesNameFileAndLineOrAreSkippedAndCounted) {
  testkit::TempDir dir("prepare");
  dir.write("broken.jsonl", "{\"text\": \"fine\"}\n\n{\"text\": \"also fine\"}\n{\"text\": oops}\n");
  dir.write("missing.jsonl", "{\"text\": \"a\"}\n{\"body\": \"no text here\"}\n");
  dir.write("number.jsonl", "{\"text\": 42}\n");
  dir.write("array.jsonl", "[1, 2]\n");
  dir.write("bad_utf8.jsonl", "{\"text\": \"\xff\"}\n");
  for (auto [name, phrase] : {std::pair{"broken.jsonl:4: broken JSON", "parse error"},
                              {"missing.jsonl:2: no \"text\" field", ""},
                              {"number.jsonl:1: field \"text\" is number, expected a string", ""},
                              {"array.jsonl:1: expected a JSON object, got array", ""},
                              {"bad_utf8.jsonl:1: broken JSON", "UTF-8"}}) {
    const std::string file = std::string(name).substr(0, std::string(name).find(':'));
    SCOPED_TRACE(file);
    PrepareOptions options = options_for({dir / file}, dir / "out");
    auto stats = prepare_dataset(options);
    ASSERT_FALSE(stats.has_value());
    EXPECT_EQ(stats.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(stats.error().message(), HasSubstr((dir / name).string()));
    EXPECT_THAT(stats.error().message(), HasSubstr(phrase));
  }

  PrepareOptions options = options_for({dir.path()}, dir / "out");
  options.bad_lines = BadLines::kSkip;
  options.val_fraction = 0;
  auto stats = prepare_dataset(options);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->bad_lines, 5);
  EXPECT_EQ(stats->train_documents, 3);  // fine, also fine, a
  bool named = false;
  for (const std::string& w : stats->warnings) named |= w.find("missing.jsonl:2") != std::string::npos;
  EXPECT_TRUE(named);
  auto manifest = read_manifest(dir / "out");
  ASSERT_TRUE(manifest.has_value());
  EXPECT_EQ(manifest->bad_lines, 5);
}

TEST(PrepareDataset, CorruptOrTruncatedCompressedInputIsNamed) {
  testkit::TempDir dir("prepare");
  const std::string zst = testkit::zstd_bytes(std::string(100000, 'z'));
  dir.write("cut.txt.zst", zst.substr(0, zst.size() - 3));
  dir.write("fake.jsonl.gz", "{\"text\": \"not compressed\"}\n");
  for (auto [name, phrase] : {std::pair{"cut.txt.zst", "truncated"}, {"fake.jsonl.gz", "not gzip"}}) {
    SCOPED_TRACE(name);
    auto stats = prepare_dataset(options_for({dir / name}, dir / "out"));
    ASSERT_FALSE(stats.has_value());
    EXPECT_EQ(stats.error().code(), ErrorCode::kCorrupt);
    EXPECT_THAT(stats.error().message(), HasSubstr(name));
    EXPECT_THAT(stats.error().message(), HasSubstr(phrase));
  }
  EXPECT_FALSE(fs::exists(dir / "out" / kManifestFileName));
}

TEST(PrepareDataset, InputsWithoutDocumentsAreAnError) {
  testkit::TempDir dir("prepare");
  dir.write("empty/a.txt", "");
  dir.write("empty/b.jsonl", "\n{\"text\": \"\"}\n");
  auto stats = prepare_dataset(options_for({dir / "empty"}, dir / "out"));
  ASSERT_FALSE(stats.has_value());
  EXPECT_THAT(stats.error().message(), HasSubstr("no documents"));
  EXPECT_THAT(stats.error().message(), HasSubstr("2 empty documents"));
}

TEST(PrepareDataset, AFailedPrepareKeepsTheExistingDataset) {
  testkit::TempDir dir("prepare");
  const fs::path corpus = make_corpus(dir, 30);
  PrepareOptions options = options_for({corpus}, dir / "out");
  options.shard_tokens = 30;
  ASSERT_TRUE(prepare_dataset(options).has_value());
  const auto before = directory_bytes(dir / "out");
  ASSERT_GT(before.size(), 6u);

  // Fails after the first file's documents were tokenized and written to shards.
  dir.write("corpus/zz_broken.jsonl", "{\"text\": \"x\"}\n{broken\n");
  auto failed = prepare_dataset(options);
  ASSERT_FALSE(failed.has_value());
  EXPECT_THAT(failed.error().message(), HasSubstr("zz_broken.jsonl:2"));
  EXPECT_EQ(directory_bytes(dir / "out"), before);
  for (const auto& entry : fs::directory_iterator(dir / "out"))
    EXPECT_EQ(entry.path().filename().string().find(".prepare"), std::string::npos)
        << entry.path();
  ASSERT_TRUE(TokenDataset::open(dir / "out", Split::kTrain).has_value());

  // A successful prepare with fewer shards replaces the dataset and removes the stale shards.
  fs::remove(dir / "corpus" / "zz_broken.jsonl");
  options.shard_tokens = 1000;
  auto stats = prepare_dataset(options);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->train_shards, 1);
  EXPECT_EQ(directory_bytes(dir / "out").size(), size_t(1 + 2 * (1 + stats->val_shards)));
  EXPECT_FALSE(fs::exists(dir / "out" / "train-00001.tok"));
}

TEST(PrepareDataset, ErrorsNameThePath) {
  testkit::TempDir dir("prepare");
  fs::create_directories(dir / "empty_dir");
  PrepareOptions options = options_for({dir / "empty_dir"}, dir / "out");
  auto empty = prepare_dataset(options);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(empty.error().message(), HasSubstr("no input files"));
  EXPECT_THAT(empty.error().message(), HasSubstr("empty_dir"));

  options.inputs = {(dir / "missing.txt").string()};
  auto missing = prepare_dataset(options);
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message(), HasSubstr("missing.txt"));

  options.inputs = {(dir / "*.nothing").string()};
  auto no_match = prepare_dataset(options);
  ASSERT_FALSE(no_match.has_value());
  EXPECT_THAT(no_match.error().message(), HasSubstr("*.nothing"));

  dir.write("locked/a.txt", "secret");
  fs::permissions(dir / "locked" / "a.txt", fs::perms::none);
  options.inputs = {(dir / "locked").string()};
  auto unreadable = prepare_dataset(options);
  if (::geteuid() != 0) {  // root reads files regardless of permissions
    ASSERT_FALSE(unreadable.has_value());
    EXPECT_THAT(unreadable.error().message(), HasSubstr("locked/a.txt"));
    EXPECT_FALSE(fs::exists(dir / "out" / kManifestFileName));
  }

  options.tokenizer = "bpe32k";
  auto bad_tokenizer = prepare_dataset(options);
  ASSERT_FALSE(bad_tokenizer.has_value());
  EXPECT_THAT(bad_tokenizer.error().message(), HasSubstr("unknown tokenizer 'bpe32k'"));

  options.tokenizer = "bytes";
  options.threads = 0;
  auto no_threads = prepare_dataset(options);
  ASSERT_FALSE(no_threads.has_value());
  EXPECT_THAT(no_threads.error().message(), HasSubstr("threads"));
}

// A seed under which the document split of `documents` documents at `val_fraction` sends every
// document to train (to_val false) or every one to val (to_val true).
uint64_t seed_sending_all(int documents, double val_fraction, bool to_val) {
  for (uint64_t seed = 1;; ++seed) {
    const uint64_t key = key_for(seed, "data.split");
    bool all = true;
    for (int i = 0; i < documents; ++i)
      all &= (uniform_at(key, uint64_t(i)) < val_fraction) == to_val;
    if (all) return seed;
  }
}

TEST(PrepareDataset, OneTextFileIsSplitByTokens) {
  testkit::TempDir dir("prepare");
  std::string text;
  for (int i = 0; i < 100; ++i) text += fmt::format("line {} of the only file\n", i);
  dir.write("input.txt", text);
  const int64_t total = int64_t(text.size()) + 1;  // bytes and end-of-text
  const int64_t val_tokens = std::llround(0.1 * double(total));

  std::map<std::string, std::string> first;
  for (int threads : {1, 3}) {
    SCOPED_TRACE(threads);
    PrepareOptions options = options_for({dir / "input.txt"}, dir / fmt::format("out{}", threads));
    options.val_fraction = 0.1;
    options.threads = threads;
    options.max_piece_bytes = 300;  // the file goes to the workers in pieces
    auto stats = prepare_dataset(options);
    ASSERT_TRUE(stats.has_value()) << stats.error().message();
    EXPECT_EQ(stats->split_unit, SplitUnit::kTokens);
    EXPECT_EQ(stats->val_tokens, val_tokens);
    EXPECT_EQ(stats->train_tokens, total - val_tokens);
    EXPECT_EQ(stats->train_documents, 1);
    EXPECT_EQ(stats->val_documents, 1);

    // The train split is the file's first bytes (no end-of-text), val the rest and end-of-text.
    auto train = TokenDataset::open(options.output_dir, Split::kTrain);
    auto val = TokenDataset::open(options.output_dir, Split::kVal);
    ASSERT_TRUE(train.has_value()) << train.error().message();
    ASSERT_TRUE(val.has_value()) << val.error().message();
    ByteTokenizer bytes;
    const std::vector<int32_t> train_tokens = read_all(*train);
    const std::vector<int32_t> val_tokens_read = read_all(*val);
    EXPECT_EQ(bytes.decode(train_tokens), text.substr(0, size_t(total - val_tokens)));
    ASSERT_FALSE(val_tokens_read.empty());
    EXPECT_EQ(val_tokens_read.back(), ByteTokenizer::kEotToken);
    EXPECT_EQ(bytes.decode(std::span(val_tokens_read).first(val_tokens_read.size() - 1)),
              text.substr(size_t(total - val_tokens)));
    EXPECT_EQ(val->document_start(0), 0);

    auto manifest = read_manifest(options.output_dir);
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    EXPECT_EQ(manifest->split_unit, SplitUnit::kTokens);
    auto json = nlohmann::json::parse(testkit::read_file_bytes(dir / fmt::format("out{}", threads) /
                                                               "manifest.json"));
    EXPECT_EQ(json["split"]["by"], "tokens");
    // Only the committed files: no staging directory is left behind.
    std::map<std::string, std::string> files = directory_bytes(options.output_dir);
    EXPECT_EQ(files.size(), 5u);
    int entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(options.output_dir)) ++entries;
    EXPECT_EQ(entries, 5);
    if (threads == 1) first = files;
    else EXPECT_TRUE(files == first) << "outputs differ between 1 and " << threads << " threads";
  }
}

TEST(PrepareDataset, FewDocumentsInOneSplitAreSplitByTokensKeepingShardsAndDocuments) {
  testkit::TempDir dir("prepare");
  const fs::path corpus = make_corpus(dir, 12);  // 12 documents "doc <i>\n", 7 or 8 tokens each
  for (bool all_to_val : {false, true}) {
    SCOPED_TRACE(all_to_val ? "every document went to val" : "every document went to train");
    const double fraction = all_to_val ? 0.7 : 0.3;  // seeds for either are common
    PrepareOptions options = options_for({corpus}, dir / (all_to_val ? "to_val" : "to_train"));
    options.val_fraction = fraction;
    options.seed = seed_sending_all(12, fraction, all_to_val);
    options.shard_tokens = 20;
    auto stats = prepare_dataset(options);
    ASSERT_TRUE(stats.has_value()) << stats.error().message();
    EXPECT_EQ(stats->split_unit, SplitUnit::kTokens);

    // The same corpus without a val split: the stream the token split cuts.
    PrepareOptions whole_options = options;
    whole_options.val_fraction = 0;
    whole_options.output_dir = (dir / (all_to_val ? "whole_v" : "whole_t")).string();
    ASSERT_TRUE(prepare_dataset(whole_options).has_value());
    auto whole = TokenDataset::open(whole_options.output_dir, Split::kTrain);
    ASSERT_TRUE(whole.has_value());
    const int64_t total = whole->size();
    const int64_t val_size = std::llround(fraction * double(total));
    EXPECT_EQ(stats->val_tokens, val_size);
    EXPECT_EQ(stats->train_tokens, total - val_size);

    auto train = TokenDataset::open(options.output_dir, Split::kTrain);
    auto val = TokenDataset::open(options.output_dir, Split::kVal);
    ASSERT_TRUE(train.has_value() && val.has_value());
    std::vector<int32_t> joined = read_all(*train);
    const std::vector<int32_t> val_read = read_all(*val);
    joined.insert(joined.end(), val_read.begin(), val_read.end());
    EXPECT_EQ(joined, read_all(*whole));
    // Documents keep their boundaries; the one the cut falls in is counted in both splits.
    const int64_t cut = total - val_size;
    int64_t whole_docs_before_cut = 0;
    bool cut_inside = true;
    for (int64_t d = 0; d < whole->num_documents(); ++d) {
      if (whole->document_start(d) < cut) ++whole_docs_before_cut;
      if (whole->document_start(d) == cut) cut_inside = false;
    }
    EXPECT_EQ(train->num_documents(), whole_docs_before_cut);
    EXPECT_EQ(train->num_documents() + val->num_documents(),
              whole->num_documents() + (cut_inside ? 1 : 0));
    for (int64_t d = 1; d < train->num_documents(); ++d)
      EXPECT_EQ(train->document_start(d), whole->document_start(d));

    // Train shards before the one holding the cut are those of the whole stream, byte for byte.
    auto manifest = read_manifest(options.output_dir);
    auto whole_manifest = read_manifest(whole_options.output_dir);
    ASSERT_TRUE(manifest.has_value() && whole_manifest.has_value());
    ASSERT_GT(manifest->train.shards.size(), 1u);
    for (size_t i = 0; i + 1 < manifest->train.shards.size(); ++i) {
      const std::string name = manifest->train.shards[i].path;
      EXPECT_EQ(testkit::read_file_bytes(fs::path(options.output_dir) / name),
                testkit::read_file_bytes(fs::path(whole_options.output_dir) / name))
          << name;
    }
  }
}

TEST(PrepareDataset, NoTokenSplitWhenTheFractionAsksForAnEmptySplit) {
  testkit::TempDir dir("prepare");
  dir.write("input.txt", "a single document\n");
  for (double fraction : {0.0, 1.0}) {
    SCOPED_TRACE(fraction);
    PrepareOptions options = options_for({dir / "input.txt"}, dir / fmt::format("out{}", fraction));
    options.val_fraction = fraction;
    auto stats = prepare_dataset(options);
    ASSERT_TRUE(stats.has_value()) << stats.error().message();
    EXPECT_EQ(stats->split_unit, SplitUnit::kDocuments);
    EXPECT_EQ(stats->val_documents, fraction == 0.0 ? 0 : 1);
    EXPECT_EQ(stats->train_documents, fraction == 0.0 ? 1 : 0);
  }
}

TEST(PrepareDataset, ManifestsWithoutSplitByWereSplitByDocuments) {
  testkit::TempDir dir("prepare");
  dir.write("input.txt", "one document, split by tokens\n");
  ASSERT_TRUE(prepare_dataset(options_for({dir / "input.txt"}, dir / "out")).has_value());
  auto json = nlohmann::ordered_json::parse(testkit::read_file_bytes(dir / "out/manifest.json"));
  ASSERT_EQ(json["split"]["by"], "tokens");
  json["split"].erase("by");  // as written before the key existed
  auto older = parse_manifest(json.dump(), "older");
  ASSERT_TRUE(older.has_value()) << older.error().message();
  EXPECT_EQ(older->split_unit, SplitUnit::kDocuments);
  json["split"]["by"] = "pages";
  auto bad = parse_manifest(json.dump(), "bad");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(bad.error().message(), HasSubstr("bad: split.by is \"pages\""));
}

}  // namespace
}  // namespace symphony
