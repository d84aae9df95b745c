#include "data/document_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testkit/compression.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;

std::vector<DocumentPiece> read_pieces(const InputFile& file, DocumentReaderOptions options = {}) {
  auto reader = DocumentReader::open(file, options);
  EXPECT_TRUE(reader.has_value()) << reader.error().message();
  std::vector<DocumentPiece> pieces;
  while (true) {
    auto piece = reader->next();
    EXPECT_TRUE(piece.has_value()) << piece.error().message();
    if (!piece.has_value() || !piece->has_value()) break;
    pieces.push_back(std::move(**piece));
  }
  return pieces;
}

TEST(DocumentReader, ClassifiesByExtension) {
  EXPECT_EQ(classify_input("a.jsonl", 0).format, InputFormat::kJsonl);
  EXPECT_EQ(classify_input("a.ndjson.zst", 0).format, InputFormat::kJsonl);
  EXPECT_EQ(classify_input("a.jsonl.gz", 0).compression, Compression::kGzip);
  EXPECT_EQ(classify_input("a.txt.gz", 0).format, InputFormat::kText);
  EXPECT_EQ(classify_input("README", 0).format, InputFormat::kText);
  EXPECT_EQ(classify_input("data.json", 0).format, InputFormat::kText);
}

TEST(DocumentReader, LongTextIsCutAfterANewlineBeforeAWord) {
  testkit::TempDir dir("reader");
  std::string text;
  for (int i = 0; i < 100; ++i) text += fmt::format("line {}\n  indented\n", i);
  const auto path = dir.write("long.txt.gz", testkit::gzip_bytes(text));
  DocumentReaderOptions options;
  options.max_piece_bytes = 64;
  const auto pieces = read_pieces(classify_input(path, 0), options);
  ASSERT_GT(pieces.size(), 10u);
  std::string joined;
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_EQ(pieces[i].first, i == 0);
    EXPECT_EQ(pieces[i].last, i + 1 == pieces.size());
    EXPECT_LE(pieces[i].text.size(), 64u);
    if (!pieces[i].last) {
      EXPECT_EQ(pieces[i].text.back(), '\n');
      EXPECT_EQ(text[joined.size() + pieces[i].text.size()], 'l');  // the next piece starts a word
    }
    joined += pieces[i].text;
  }
  EXPECT_EQ(joined, text);
}

TEST(DocumentReader, TextWithoutNewlinesIsCutAtTheLimit) {
  testkit::TempDir dir("reader");
  const auto path = dir.write("flat.txt", std::string(250, 'a'));
  DocumentReaderOptions options;
  options.max_piece_bytes = 100;
  const auto pieces = read_pieces(classify_input(path, 250), options);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].text.size(), 100u);
  EXPECT_EQ(pieces[2].text.size(), 50u);
}

TEST(DocumentReader, JsonlLinesBecomeDocumentsWithTheirLineNumbers) {
  testkit::TempDir dir("reader");
  const auto path = dir.write("d.jsonl", "{\"body\": \"one\"}\r\n\n  \n{\"body\": \"\"}\n{\"body\": \"two\"}");
  DocumentReaderOptions options;
  options.text_field = "body";
  auto reader = DocumentReader::open(classify_input(path, 0), options);
  ASSERT_TRUE(reader.has_value());
  const auto pieces = read_pieces(classify_input(path, 0), options);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].text, "one");
  EXPECT_EQ(pieces[0].line, 1);
  EXPECT_EQ(pieces[1].text, "two");  // the last line has no newline
  EXPECT_EQ(pieces[1].line, 5);
}

TEST(DocumentReader, SkippedLinesAreCountedWithExamples) {
  testkit::TempDir dir("reader");
  std::string text;
  for (int i = 0; i < 8; ++i) text += i % 2 ? "{\"text\": \"ok\"}\n" : "not json\n";
  const auto path = dir.write("s.jsonl", text);
  DocumentReaderOptions options;
  options.bad_lines = BadLines::kSkip;
  auto reader = DocumentReader::open(classify_input(path, 0), options);
  ASSERT_TRUE(reader.has_value());
  int documents = 0;
  while (true) {
    auto piece = reader->next();
    ASSERT_TRUE(piece.has_value());
    if (!piece->has_value()) break;
    ++documents;
  }
  EXPECT_EQ(documents, 4);
  EXPECT_EQ(reader->bad_lines(), 4);
  ASSERT_EQ(reader->bad_line_examples().size(), 4u);
  EXPECT_THAT(reader->bad_line_examples()[1], HasSubstr("s.jsonl:3: broken JSON"));
}

}  // namespace
}  // namespace symphony
