#include "data/bpe_trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "core/rng.h"
#include "data/bpe_tokenizer.h"
#include "testkit/bpe_testing.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

std::vector<std::pair<std::string, std::string>> merge_strings(const BpeModel& model) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [a, b] : model.merges())
    out.emplace_back(model.token_bytes(a), model.token_bytes(b));
  return out;
}

// The worked example of the Hugging Face course, checked by hand:
//   hug 10, pug 5, pun 12, bun 4, hugs 5
//   1. u g   20 (hug, pug, hugs)      4. p un  12
//   2. u n   16 (pun, bun)            5. p ug   5, tied with hug s (5): p (0x70) < hug (258)
//   3. h ug  15 (hug, hugs)           6. hug s  5
TEST(BpeTrainer, ToyCorpusMerges) {
  const WordCounts counts = {{"hug", 10}, {"pug", 5}, {"pun", 12}, {"bun", 4}, {"hugs", 5}};
  BpeTrainOptions options;
  options.vocab_size = 256 + 6 + 1;
  options.min_pair_count = 1;
  BpeTrainStats stats;
  Result<BpeModel> model = train_bpe_from_counts(counts, options, stats);
  ASSERT_TRUE(model.has_value()) << model.error().message();
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(merge_strings(*model), (std::vector<P>{{"u", "g"}, {"u", "n"}, {"h", "ug"},
                                                   {"p", "un"}, {"p", "ug"}, {"hug", "s"}}));
  EXPECT_EQ(model->token_bytes(256), "ug");
  EXPECT_EQ(model->token_bytes(261), "hugs");
  ASSERT_EQ(model->specials().size(), 1u);
  EXPECT_EQ(model->specials()[0].id, 262);
  EXPECT_EQ(model->id_limit(), 263);

  // Encoding the training words applies the merges learnt from them.
  auto tokenizer = std::move(BpeTokenizer::create(*model, "").value());
  EXPECT_EQ(tokenizer->encode("hugs"), std::vector<int32_t>{261});
  EXPECT_EQ(tokenizer->encode("bun"), (std::vector<int32_t>{'b', 257}));
}

// Long words over three letters: merges build on merges many levels deep, every pair is merged,
// and every word still decodes to itself.
TEST(BpeTrainer, TrainsDenseSmallAlphabets) {
  Rng rng(3);
  WordCounts counts;
  for (int i = 0; i < 400; ++i) {
    std::string word;
    for (size_t n = 2 + rng.next_u64() % 12; word.size() < n;) word += char('a' + rng.next_u64() % 3);
    counts.emplace_back(word, int64_t(1 + rng.next_u64() % 50));
  }
  BpeTrainOptions options;
  options.vocab_size = 1500;
  options.min_pair_count = 1;
  BpeTrainStats stats;
  Result<BpeModel> model = train_bpe_from_counts(counts, options, stats);
  ASSERT_TRUE(model.has_value()) << model.error().message();
  EXPECT_GT(stats.merges, 500);
  auto tokenizer = std::move(BpeTokenizer::create(*model, "").value());
  for (const auto& [word, count] : counts) EXPECT_EQ(tokenizer->decode(tokenizer->encode(word)), word);
}

TEST(BpeTrainer, MinPairCountStopsEarly) {
  const WordCounts counts = {{"hug", 10}, {"pug", 5}, {"pun", 12}, {"bun", 4}, {"hugs", 5}};
  BpeTrainOptions options;
  options.vocab_size = 1000;
  options.min_pair_count = 12;
  BpeTrainStats stats;
  Result<BpeModel> model = train_bpe_from_counts(counts, options, stats);
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(stats.merges, 4);  // u g 20, u n 16, h ug 15, p un 12; then p ug 5 < 12
}

TEST(BpeTrainer, CountsPreTokensWithoutSpecialTokens) {
  BpeTrainOptions options;
  WordCounts counts = count_bpe_words("the cat<|endoftext|>the cat, the dog's", options);
  EXPECT_THAT(counts, UnorderedElementsAre(Pair("the", 2), Pair(" cat", 2), Pair(",", 1),
                                           Pair(" the", 1), Pair(" dog", 1), Pair("'s", 1)));
}

fs::path write_corpus(const fs::path& dir, int files) {
  fs::create_directories(dir);
  const std::string text = testkit::sample_text();
  for (int f = 0; f < files; ++f) {
    std::ofstream out(dir / ("doc" + std::to_string(f) + ".txt"), std::ios::binary);
    for (int r = 0; r <= f % 7; ++r) out << text.substr(size_t(f * 37) % 400) << text;
  }
  return dir;
}

TEST(BpeTrainer, FilesThreadsAndBlocksDoNotChangeTheResult) {
  const fs::path dir = write_corpus(testkit::make_temp_dir("bpe_train") / "corpus", 23);
  std::string first;
  for (auto [threads, block_bytes] : {std::pair{1, size_t{4} << 20}, {2, size_t{3000}},
                                      {3, size_t{1500}}}) {
    BpeTrainOptions options;
    options.vocab_size = 600;
    options.threads = threads;
    options.block_bytes = block_bytes;
    BpeTrainStats stats;
    const std::vector<fs::path> inputs = {dir};
    Result<BpeModel> model = train_bpe(inputs, options, stats);
    ASSERT_TRUE(model.has_value()) << model.error().message();
    EXPECT_EQ(stats.files, 23);
    EXPECT_EQ(stats.prunings, 0);
    const std::string fp = bpe_fingerprint(*model);
    if (first.empty()) first = fp;
    EXPECT_EQ(fp, first) << threads << " threads, blocks of " << block_bytes;
  }
}

TEST(BpeTrainer, WordTableStaysBounded) {
  const fs::path dir = write_corpus(testkit::make_temp_dir("bpe_prune") / "corpus", 10);
  BpeTrainOptions options;
  options.vocab_size = 400;
  options.max_words = 60;
  options.block_bytes = 2000;
  options.threads = 1;
  BpeTrainStats stats;
  const std::vector<fs::path> inputs = {dir};
  Result<WordCounts> counts = count_bpe_words(inputs, options, stats);
  ASSERT_TRUE(counts.has_value()) << counts.error().message();
  EXPECT_GT(stats.prunings, 0);
  EXPECT_GT(stats.pruned_words, 0);
  EXPECT_LE(int64_t(counts->size()), options.max_words);
  // The frequent words survive with their counts: " the" occurs in every copy of the text.
  std::map<std::string, int64_t> table(counts->begin(), counts->end());
  EXPECT_GT(table[" the"], 100);
  Result<BpeModel> model = train_bpe_from_counts(*counts, options, stats);
  ASSERT_TRUE(model.has_value()) << model.error().message();
}

TEST(BpeTrainer, BadInput) {
  BpeTrainOptions options;
  BpeTrainStats stats;
  const std::vector<fs::path> missing = {"/no/such/corpus.txt"};
  Result<BpeModel> r = train_bpe(missing, options, stats);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("/no/such/corpus.txt"));

  options.vocab_size = 200;
  r = train_bpe_from_counts({{"ab", 3}}, options, stats);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("vocab_size 200 is too small"));

  options.vocab_size = 300;
  options.special_tokens = {"<a>", "<a>"};
  r = train_bpe_from_counts({{"ab", 3}}, options, stats);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("'<a>' is given twice"));
}

}  // namespace
}  // namespace symphony
