#include "data/doc_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testkit/temp_dir.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;

TEST(DocIndex, WritesReadsAndLocatesDocuments) {
  testkit::TempDir dir("doc_index");
  auto writer = DocIndexWriter::create(dir / "a.idx");
  ASSERT_TRUE(writer.has_value()) << writer.error().message();
  std::vector<int64_t> starts;
  for (int64_t d = 0, at = 0; d < 20000; ++d, at += 1 + d % 7) starts.push_back(at);
  for (int64_t s : starts) ASSERT_TRUE(writer->append(s).is_ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "a.idx"));  // only the temporary file so far
  const int64_t tokens = starts.back() + 3;
  ASSERT_TRUE(writer->close(tokens).is_ok());
  auto index = DocIndex::open(dir / "a.idx");
  ASSERT_TRUE(index.has_value()) << index.error().message();
  EXPECT_EQ(index->num_documents(), 20000);
  EXPECT_EQ(index->num_tokens(), tokens);
  EXPECT_EQ(index->checksum(), writer->checksum());
  for (size_t d = 0; d < starts.size(); d += 997) EXPECT_EQ(index->document_start(int64_t(d)), starts[d]);
  EXPECT_EQ(index->document_of(0), 0);
  EXPECT_EQ(index->document_of(starts[500]), 500);
  EXPECT_EQ(index->document_of(starts[500] - 1), 499);
  EXPECT_EQ(index->document_of(tokens - 1), 19999);
}

TEST(DocIndex, OffsetsMustRise) {
  testkit::TempDir dir("doc_index");
  auto writer = DocIndexWriter::create(dir / "b.idx");
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE(writer->append(0).is_ok());
  ASSERT_TRUE(writer->append(5).is_ok());
  Status s = writer->append(5);
  ASSERT_FALSE(s.is_ok());
  EXPECT_THAT(s.message(), HasSubstr("b.idx: document offset 5 does not follow 5"));
}

TEST(DocIndex, DamagedFilesAreNamed) {
  testkit::TempDir dir("doc_index");
  auto writer = DocIndexWriter::create(dir / "c.idx");
  ASSERT_TRUE(writer.has_value());
  for (int64_t s : {0, 4, 9}) ASSERT_TRUE(writer->append(s).is_ok());
  ASSERT_TRUE(writer->close(12).is_ok());
  const std::string good = testkit::read_file_bytes(dir / "c.idx");

  dir.write("short.idx", good.substr(0, good.size() - 3));
  auto truncated = DocIndex::open(dir / "short.idx");
  ASSERT_FALSE(truncated.has_value());
  EXPECT_THAT(truncated.error().message(), HasSubstr("short.idx: file is"));
  EXPECT_THAT(truncated.error().message(), HasSubstr("truncated"));

  std::string flipped = good;
  flipped[kDocIndexHeaderBytes + 8] ^= 1;
  dir.write("flipped.idx", flipped);
  auto corrupt = DocIndex::open(dir / "flipped.idx");
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_THAT(corrupt.error().message(), HasSubstr("flipped.idx: checksum mismatch"));

  dir.write("magic.idx", "XXXXXXXX" + good.substr(8));
  auto magic = DocIndex::open(dir / "magic.idx");
  ASSERT_FALSE(magic.has_value());
  EXPECT_THAT(magic.error().message(), HasSubstr("magic.idx: bad magic"));
}

}  // namespace
}  // namespace symphony
