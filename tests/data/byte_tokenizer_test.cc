#include "data/byte_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/rng.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;

TEST(ByteTokenizer, RandomBytesRoundTrip) {
  ByteTokenizer tokenizer;
  for (uint64_t seed : {1, 2, 3}) {
    Rng rng(seed);
    std::string text(1000 * seed, '\0');
    for (char& c : text) c = static_cast<char>(rng.next_u64() & 0xff);
    std::vector<int32_t> tokens = tokenizer.encode(text);
    ASSERT_EQ(tokens.size(), text.size());
    for (size_t i = 0; i < text.size(); ++i)
      ASSERT_EQ(tokens[i], static_cast<unsigned char>(text[i]));
    EXPECT_EQ(tokenizer.decode(tokens), text);
  }
}

TEST(ByteTokenizer, InvalidUtf8AndEmptyRoundTrip) {
  ByteTokenizer tokenizer;
  using namespace std::string_literals;
  const std::string text = "\xff\xfe\xc3(\xe2\x82 ok \x00 end"s;  // a NUL byte included
  ASSERT_EQ(text.size(), 15u);
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
  EXPECT_TRUE(tokenizer.encode("").empty());
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{}), "");
}

TEST(ByteTokenizer, EndOfTextAndUnusedIds) {
  ByteTokenizer tokenizer;
  EXPECT_EQ(tokenizer.vocab_size(), 320);
  EXPECT_EQ(tokenizer.vocab_size() % 64, 0);
  EXPECT_EQ(tokenizer.eot_token(), 256);
  EXPECT_EQ(tokenizer.name(), "bytes");
  const std::vector<int32_t> tokens = {'a', 256, 'b', 257, 319, -1, 1000, 'c'};
  EXPECT_EQ(tokenizer.decode(tokens), "a\n\nbc");
}

TEST(LoadTokenizer, BytesAndUnknownSpec) {
  auto bytes = load_tokenizer("bytes");
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ((*bytes)->name(), "bytes");
  EXPECT_EQ((*bytes)->vocab_size(), 320);

  auto unknown = load_tokenizer("gpt2");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(unknown.error().message(), HasSubstr("unknown tokenizer 'gpt2'"));
  EXPECT_THAT(unknown.error().message(), HasSubstr("available: bytes"));
}

}  // namespace
}  // namespace symphony
