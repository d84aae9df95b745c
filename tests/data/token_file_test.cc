#include "data/token_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/rng.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path make_temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "symphony_token_file_XXXXXX").string();
  EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
  return pattern;
}

std::vector<int32_t> random_tokens(int64_t count, int64_t vocab_size, uint64_t seed) {
  std::vector<int32_t> tokens(count);
  for (int64_t i = 0; i < count; ++i)
    tokens[i] = static_cast<int32_t>(uniform_at(seed, i) * double(vocab_size));
  return tokens;
}

void write_tokens(const fs::path& path, const std::vector<int32_t>& tokens, TokenFileMeta meta) {
  auto writer = TokenFileWriter::create(path, meta);
  ASSERT_TRUE(writer.has_value()) << writer.error().message();
  // Two appends: the stream is hashed and written in pieces.
  const size_t half = tokens.size() / 2;
  ASSERT_TRUE(writer->append(std::span(tokens).first(half)).is_ok());
  ASSERT_TRUE(writer->append(std::span(tokens).subspan(half)).is_ok());
  Status closed = writer->close();
  ASSERT_TRUE(closed.is_ok()) << closed.message();
}

void flip_byte(const fs::path& path, int64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(offset);
  f.write(&c, 1);
}

TEST(Fnv1a64, KnownVectors) {
  auto hash = [](std::string_view s) { return fnv1a64(std::as_bytes(std::span(s))); };
  EXPECT_EQ(hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(hash("foobar"), 0x85944171f73967e8ull);
  std::string_view foo = "foo", bar = "bar";
  EXPECT_EQ(fnv1a64(std::as_bytes(std::span(bar)), hash(foo)), hash("foobar"));
}

TEST(TokenFile, RoundTripsTwoAndFourByteTokens) {
  const fs::path dir = make_temp_dir();
  struct Case {
    int64_t vocab_size;
    int token_bytes;  // requested; 0 = chosen by the writer
    int expected_bytes;
  };
  for (Case c : {Case{320, 0, 2}, Case{65536, 0, 2}, Case{65537, 0, 4}, Case{320, 4, 4},
                 Case{100000, 0, 4}}) {
    SCOPED_TRACE(fmt::format("vocab={} token_bytes={}", c.vocab_size, c.token_bytes));
    const fs::path path = dir / fmt::format("v{}_{}.tok", c.vocab_size, c.token_bytes);
    // 3'000'000 bytes of payload at 2 bytes/token crosses the writer's 1 MiB buffer.
    const std::vector<int32_t> tokens = random_tokens(1'500'003, c.vocab_size, c.vocab_size);
    write_tokens(path, tokens, {.vocab_size = c.vocab_size, .eot_token = 7,
                                .token_bytes = c.token_bytes});
    EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
    EXPECT_EQ(fs::file_size(path), uint64_t(64 + tokens.size() * c.expected_bytes));

    auto file = TokenFile::open(path);
    ASSERT_TRUE(file.has_value()) << file.error().message();
    EXPECT_EQ(file->size(), int64_t(tokens.size()));
    EXPECT_EQ(file->vocab_size(), c.vocab_size);
    EXPECT_EQ(file->eot_token(), 7);
    EXPECT_EQ(file->token_bytes(), c.expected_bytes);
    std::vector<int32_t> all(tokens.size());
    file->read(0, all);
    EXPECT_EQ(all, tokens);
    EXPECT_EQ(file->at(0), tokens[0]);
    EXPECT_EQ(file->at(file->size() - 1), tokens.back());
    std::vector<int32_t> middle(17);
    file->read(1000, middle);
    EXPECT_TRUE(std::equal(middle.begin(), middle.end(), tokens.begin() + 1000));
  }
  fs::remove_all(dir);
}

TEST(TokenFile, EmptyFileIsValid) {
  const fs::path dir = make_temp_dir();
  write_tokens(dir / "empty.tok", {}, {.vocab_size = 320, .eot_token = 256});
  auto file = TokenFile::open(dir / "empty.tok");
  ASSERT_TRUE(file.has_value()) << file.error().message();
  EXPECT_EQ(file->size(), 0);
  EXPECT_EQ(file->checksum(), kFnv1a64Init);
  fs::remove_all(dir);
}

TEST(TokenFile, UnclosedWriterLeavesNoFile) {
  const fs::path dir = make_temp_dir();
  {
    auto writer = TokenFileWriter::create(dir / "a.tok", {.vocab_size = 320, .eot_token = 256});
    ASSERT_TRUE(writer.has_value());
    std::vector<int32_t> tokens = {1, 2, 3};
    ASSERT_TRUE(writer->append(tokens).is_ok());
    EXPECT_TRUE(fs::exists(dir / "a.tok.tmp"));
  }
  EXPECT_FALSE(fs::exists(dir / "a.tok"));
  EXPECT_FALSE(fs::exists(dir / "a.tok.tmp"));
  fs::remove_all(dir);
}

TEST(TokenFile, WriterRejectsBadTokensAndMeta) {
  const fs::path dir = make_temp_dir();
  auto writer = TokenFileWriter::create(dir / "a.tok", {.vocab_size = 320, .eot_token = 256});
  ASSERT_TRUE(writer.has_value());
  std::vector<int32_t> bad = {5, 320};
  Status s = writer->append(bad);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("a.tok"));
  EXPECT_THAT(s.message(), HasSubstr("token 320 at index 1"));

  auto no_eot = TokenFileWriter::create(dir / "b.tok", {.vocab_size = 320, .eot_token = 320});
  ASSERT_FALSE(no_eot.has_value());
  EXPECT_THAT(no_eot.error().message(), HasSubstr("eot_token 320"));
  auto too_big = TokenFileWriter::create(dir / "c.tok",
                                         {.vocab_size = 70000, .eot_token = 0, .token_bytes = 2});
  ASSERT_FALSE(too_big.has_value());
  EXPECT_THAT(too_big.error().message(), HasSubstr("vocab_size 70000"));
  auto no_dir = TokenFileWriter::create(dir / "missing" / "d.tok",
                                        {.vocab_size = 320, .eot_token = 256});
  ASSERT_FALSE(no_dir.has_value());
  EXPECT_THAT(no_dir.error().message(), HasSubstr("missing/d.tok.tmp"));
  fs::remove_all(dir);
}

TEST(TokenFile, TruncatedFileIsCorrupt) {
  const fs::path dir = make_temp_dir();
  const fs::path path = dir / "trunc.tok";
  write_tokens(path, random_tokens(1000, 320, 1), {.vocab_size = 320, .eot_token = 256});
  fs::resize_file(path, 64 + 999 * 2);
  auto file = TokenFile::open(path, ChecksumCheck::kSkip);
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(file.error().message(), HasSubstr(path.string()));
  EXPECT_THAT(file.error().message(), HasSubstr("truncated"));

  fs::resize_file(path, 10);
  auto tiny = TokenFile::open(path);
  ASSERT_FALSE(tiny.has_value());
  EXPECT_THAT(tiny.error().message(), HasSubstr(path.string()));
  EXPECT_THAT(tiny.error().message(), HasSubstr("shorter than the 64-byte"));
  fs::remove_all(dir);
}

TEST(TokenFile, CorruptedPayloadFailsChecksum) {
  const fs::path dir = make_temp_dir();
  const fs::path path = dir / "bits.tok";
  write_tokens(path, random_tokens(1000, 256, 2), {.vocab_size = 320, .eot_token = 256});
  flip_byte(path, 64 + 501 * 2);  // low byte of token 501: the token stays < 320
  auto file = TokenFile::open(path);
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(file.error().message(), HasSubstr(path.string()));
  EXPECT_THAT(file.error().message(), HasSubstr("checksum mismatch"));
  // Skipping verification trades this check for speed.
  auto unchecked = TokenFile::open(path, ChecksumCheck::kSkip);
  ASSERT_TRUE(unchecked.has_value()) << unchecked.error().message();
  EXPECT_EQ(unchecked->size(), 1000);
  fs::remove_all(dir);
}

TEST(TokenFile, BadMagicVersionAndMissingFile) {
  const fs::path dir = make_temp_dir();
  const fs::path path = dir / "magic.tok";
  write_tokens(path, random_tokens(10, 320, 3), {.vocab_size = 320, .eot_token = 256});
  flip_byte(path, 0);
  auto file = TokenFile::open(path);
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(file.error().message(), HasSubstr(path.string()));
  EXPECT_THAT(file.error().message(), HasSubstr("bad magic"));

  flip_byte(path, 0);
  flip_byte(path, 8);  // version
  auto version = TokenFile::open(path);
  ASSERT_FALSE(version.has_value());
  EXPECT_THAT(version.error().message(), HasSubstr("format version"));

  auto missing = TokenFile::open(dir / "nope.tok");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("nope.tok"));
  fs::remove_all(dir);
}

TEST(TokenFile, MoveKeepsTheMapping) {
  const fs::path dir = make_temp_dir();
  const std::vector<int32_t> tokens = random_tokens(100, 320, 4);
  write_tokens(dir / "m.tok", tokens, {.vocab_size = 320, .eot_token = 256});
  auto opened = TokenFile::open(dir / "m.tok");
  ASSERT_TRUE(opened.has_value());
  TokenFile moved = std::move(opened).value();
  TokenFile assigned = std::move(moved);
  EXPECT_EQ(assigned.size(), 100);
  EXPECT_EQ(assigned.at(42), tokens[42]);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace symphony
