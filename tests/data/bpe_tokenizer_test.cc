#include "data/bpe_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/rng.h"
#include "testkit/bpe_testing.h"

namespace symphony {
namespace {

using ::testing::Each;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::Lt;

std::unique_ptr<BpeTokenizer> sample_tokenizer(int64_t vocab_size = 450) {
  Result<std::unique_ptr<BpeTokenizer>> t =
      BpeTokenizer::create(testkit::train_sample_bpe(vocab_size), "");
  EXPECT_TRUE(t.has_value()) << t.error().message();
  return std::move(t).value();
}

TEST(BpeTokenizer, RoundTripsRealText) {
  auto tokenizer = sample_tokenizer();
  const std::string text = testkit::sample_text();
  const std::vector<int32_t> tokens = tokenizer->encode(text);
  EXPECT_EQ(tokenizer->decode(tokens), text);
  EXPECT_LT(tokens.size(), text.size() / 2);  // the merges apply
  EXPECT_THAT(tokens, Each(Lt(tokenizer->eot_token())));
}

TEST(BpeTokenizer, RoundTripsRandomBytes) {
  auto tokenizer = sample_tokenizer();
  for (uint64_t seed : {1, 2, 3}) {
    const std::string text = testkit::random_bytes(20000, seed);
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text)), text) << "seed " << seed;
  }
  using namespace std::string_literals;
  for (const std::string& text : {""s, "\0"s, "\xff"s, "\xc3"s, " \xe2\x82"s, "a\0b\n"s}) {
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text)), text);
  }
}

// Words over alphabets small enough that long words merge many times.
std::string random_word(Rng& rng, size_t bytes) {
  static const char* pieces[] = {"it", " was", "the", "e", "s", "t", "a", " ", "\xc3\xa9", "of"};
  std::string w;
  while (w.size() < bytes) w += pieces[rng.next_u64() % std::size(pieces)];
  return w;
}

TEST(BpeTokenizer, EncodeWordMatchesReference) {
  const BpeModel model = testkit::train_sample_bpe(450);
  BpeWordScratch scratch;
  Rng rng(11);
  // Short words take the rescanning loop, words over kLongWordBytes the heap.
  for (size_t bytes : {2, 3, 5, 8, 17, 64, 65, 100, 300, 2000}) {
    for (int i = 0; i < 20; ++i) {
      const std::string word = random_word(rng, bytes);
      std::vector<int32_t> fast;
      model.encode_word(word, scratch, fast);
      ASSERT_EQ(fast, ref::bpe_encode_word(model, word)) << "word of " << word.size() << " bytes";
    }
  }
}

TEST(BpeTokenizer, MergeUsingALaterTokenFollowsGpt2Order) {
  // Rank 0 merges "ab" + "c", but "ab" only exists from rank 1: the heap order would differ from
  // GPT-2's loop, so long words must take the loop too.
  std::vector<std::string> tokens(256);
  for (int b = 0; b < 256; ++b) tokens[size_t(b)] = std::string(1, char(b));
  tokens.push_back("ab");   // 256
  tokens.push_back("abc");  // 257
  tokens.push_back("ca");   // 258
  Result<BpeModel> model = BpeModel::create(tokens, {{256, 'c'}, {'a', 'b'}, {'c', 'a'}}, {});
  ASSERT_TRUE(model.has_value()) << model.error().message();
  EXPECT_FALSE(model->merges_ordered());
  EXPECT_TRUE(testkit::train_sample_bpe(450).merges_ordered());
  BpeWordScratch scratch;
  for (size_t repeats : {2, 30}) {  // 6 and 90 bytes: both sides of kLongWordBytes
    std::string word;
    for (size_t i = 0; i < repeats; ++i) word += "abc";
    std::vector<int32_t> fast;
    model->encode_word(word, scratch, fast);
    EXPECT_EQ(fast, ref::bpe_encode_word(*model, word));
  }
}

TEST(BpeTokenizer, ThreadsGiveTheSameTokens) {
  auto tokenizer = sample_tokenizer();
  // Over kParallelMinBytes, with lines of varied shapes so chunks cut at many places.
  Rng rng(5);
  std::string text;
  const std::string sample = testkit::sample_text();
  while (text.size() < 3 * BpeTokenizer::kParallelMinBytes) {
    const size_t at = rng.next_u64() % sample.size();
    text.append(sample, at, 1 + rng.next_u64() % 300);
    if (rng.next_u64() % 4 == 0) text += testkit::random_bytes(20, rng.next_u64());
  }
  const std::vector<int32_t> one = tokenizer->encode(text, SpecialTokenMode::kAsText, 1);
  for (int threads : {2, 3, 8}) {
    EXPECT_EQ(tokenizer->encode(text, SpecialTokenMode::kAsText, threads), one)
        << threads << " threads";
  }
  EXPECT_EQ(tokenizer->decode(one), text);
}

TEST(BpeTokenizer, SpecialTokens) {
  auto tokenizer = sample_tokenizer();
  const int32_t eot = tokenizer->eot_token();
  const std::string text = "the end<|endoftext|>the start<|endoftext|>";
  const std::vector<int32_t> as_text = tokenizer->encode(text);
  EXPECT_EQ(std::count(as_text.begin(), as_text.end(), eot), 0);  // documents cannot forge it
  const std::vector<int32_t> matched = tokenizer->encode(text, SpecialTokenMode::kMatch, 1);
  EXPECT_EQ(std::count(matched.begin(), matched.end(), eot), 2);
  EXPECT_EQ(matched.back(), eot);
  EXPECT_EQ(tokenizer->decode(matched), text);
  EXPECT_EQ(tokenizer->decode(as_text), text);
}

TEST(BpeTokenizer, VocabSizeIsPaddedToAMultipleOf64) {
  auto tokenizer = sample_tokenizer(450);
  EXPECT_EQ(tokenizer->model().id_limit(), 450);
  EXPECT_EQ(tokenizer->vocab_size(), 512);
  EXPECT_EQ(tokenizer->eot_token(), 449);
  // Padding and negative ids decode to nothing.
  EXPECT_EQ(tokenizer->decode(std::vector<int32_t>{451, -1, 511}), "");
}

TEST(BpeTokenizer, FingerprintFollowsTheMapping) {
  auto a = sample_tokenizer(450);
  auto b = sample_tokenizer(450);
  auto c = sample_tokenizer(451);
  EXPECT_EQ(a->fingerprint(), b->fingerprint());
  EXPECT_NE(a->fingerprint(), c->fingerprint());
  EXPECT_EQ(a->fingerprint().size(), 16u);
  // The same vocabulary with one merge less is another mapping.
  const BpeModel& m = a->model();
  std::vector<std::string> tokens;
  for (int32_t id = 0; id < m.id_limit() - 1; ++id) tokens.push_back(m.token_bytes(id));
  auto merges = m.merges();
  merges.pop_back();
  Result<BpeModel> fewer = BpeModel::create(tokens, merges, m.specials());
  ASSERT_TRUE(fewer.has_value()) << fewer.error().message();
  EXPECT_NE(bpe_fingerprint(*fewer), a->fingerprint());
}

TEST(BpeModel, RejectsBrokenVocabularies) {
  std::vector<std::string> bytes(256);
  for (int b = 0; b < 256; ++b) bytes[size_t(b)] = std::string(1, char(b));
  auto missing_byte = bytes;
  missing_byte[200].clear();
  Result<BpeModel> r = BpeModel::create(missing_byte, {}, {{"<|endoftext|>", 256}});
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("byte 0xc8"));

  r = BpeModel::create(bytes, {{'a', 'b'}}, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("merge 0 ('a' 'b') makes 'ab', which is not in"));

  r = BpeModel::create(bytes, {{'a', 999}}, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("id 999"));

  r = BpeModel::create(bytes, {}, {{"<|x|>", 65}});
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("special token '<|x|>' has id 65"));

  Result<std::unique_ptr<BpeTokenizer>> no_eot =
      BpeTokenizer::create(std::move(BpeModel::create(bytes, {}, {}).value()), "");
  ASSERT_FALSE(no_eot.has_value());
  EXPECT_THAT(no_eot.error().message(), HasSubstr("end-of-text"));
}

}  // namespace
}  // namespace symphony
