#include "data/compressed_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "core/rng.h"
#include "testkit/compression.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string gzip(std::string_view text) { return testkit::gzip_bytes(text); }
std::string zstd(std::string_view text) { return testkit::zstd_bytes(text); }

// Bytes that compress poorly, so small read buffers see many chunks.
std::string random_text(size_t bytes, uint64_t seed) {
  Rng rng(seed);
  std::string text(bytes, '\0');
  for (char& c : text) c = static_cast<char>(rng.next_u64() & 0xff);
  return text;
}

Result<std::string> read_all(const fs::path& path, Compression compression, size_t chunk = 7000) {
  SYM_TRY_ASSIGN(CompressedReader reader, CompressedReader::open(path, compression));
  std::string out, buffer(chunk, '\0');
  while (true) {
    SYM_TRY_ASSIGN(size_t n, reader.read(buffer));
    if (n == 0) break;
    out.append(buffer.data(), n);
  }
  return out;
}

TEST(CompressedReader, NamesFromExtensions) {
  EXPECT_EQ(compression_for_path("a/b.jsonl.gz"), Compression::kGzip);
  EXPECT_EQ(compression_for_path("b.txt.zst"), Compression::kZstd);
  EXPECT_EQ(compression_for_path("c.txt"), Compression::kNone);
  EXPECT_EQ(compression_name(Compression::kZstd), "zstd");
}

TEST(CompressedReader, RoundTripsPlainGzipAndZstdIncludingConcatenatedMembers) {
  testkit::TempDir dir("compressed");
  const std::string a = random_text(300000, 1) + "the end", b = "second member\n";
  dir.write("plain.txt", a);
  dir.write("one.gz", gzip(a));
  dir.write("two.gz", gzip(a) + gzip(b));
  dir.write("one.zst", zstd(a));
  dir.write("two.zst", zstd(a) + zstd(b));
  dir.write("empty.txt", "");
  for (auto [name, compression, expected] :
       {std::tuple{"plain.txt", Compression::kNone, a}, {"one.gz", Compression::kGzip, a},
        {"two.gz", Compression::kGzip, a + b}, {"one.zst", Compression::kZstd, a},
        {"two.zst", Compression::kZstd, a + b}, {"empty.txt", Compression::kNone, std::string()}}) {
    SCOPED_TRACE(name);
    Result<std::string> text = read_all(dir / name, compression);
    ASSERT_TRUE(text.has_value()) << text.error().message();
    EXPECT_EQ(*text, expected);
  }
}

TEST(CompressedReader, TruncatedDataIsAnErrorNamingTheFile) {
  testkit::TempDir dir("compressed");
  const std::string text = random_text(100000, 2);
  const std::string gz = gzip(text), zst = zstd(text);
  dir.write("cut.gz", gz.substr(0, gz.size() / 2));
  dir.write("cut.zst", zst.substr(0, zst.size() / 2));
  dir.write("no_trailer.gz", gz.substr(0, gz.size() - 4));  // CRC and size missing
  for (auto [name, compression] : {std::pair{"cut.gz", Compression::kGzip},
                                   {"cut.zst", Compression::kZstd},
                                   {"no_trailer.gz", Compression::kGzip}}) {
    SCOPED_TRACE(name);
    Result<std::string> read = read_all(dir / name, compression);
    ASSERT_FALSE(read.has_value());
    EXPECT_EQ(read.error().code(), ErrorCode::kCorrupt);
    EXPECT_THAT(read.error().message(), HasSubstr(name));
    EXPECT_THAT(read.error().message(), HasSubstr("truncated"));
  }
}

TEST(CompressedReader, CorruptDataAndWrongMagicAreErrors) {
  testkit::TempDir dir("compressed");
  std::string text = random_text(200000, 3);
  for (char& c : text) c = static_cast<char>('a' + static_cast<unsigned char>(c) % 16);
  std::string gz = gzip(text), zst = zstd(text);
  gz[gz.size() / 2] ^= 0x55;
  gz[gz.size() / 2 + 1] ^= 0x55;
  zst[zst.size() / 2] ^= 0x55;
  dir.write("bad.gz", gz);
  dir.write("bad.zst", zst);
  dir.write("text.gz", "plain text, not gzip");
  dir.write("empty.zst", "");
  for (auto [name, compression, phrase] :
       {std::tuple{"bad.gz", Compression::kGzip, "gzip"}, {"bad.zst", Compression::kZstd, "zstd"},
        {"text.gz", Compression::kGzip, "not gzip data"},
        {"empty.zst", Compression::kZstd, "is empty"}}) {
    SCOPED_TRACE(name);
    Result<std::string> read = read_all(dir / name, compression);
    ASSERT_FALSE(read.has_value());
    EXPECT_EQ(read.error().code(), ErrorCode::kCorrupt);
    EXPECT_THAT(read.error().message(), HasSubstr(name));
    EXPECT_THAT(read.error().message(), HasSubstr(phrase));
  }
}

TEST(CompressedReader, MissingFileIsNotFound) {
  Result<CompressedReader> r = CompressedReader::open("/no/such/file.gz", Compression::kGzip);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message(), HasSubstr("/no/such/file.gz"));
}

}  // namespace
}  // namespace symphony
