// The document reader (data/document_reader.h) over an uncompressed file, read as JSONL (bad lines
// skipped, then failing) and as one text document.
// Input: the file's bytes.
// Properties: reading ends; JSONL lines and documents are counted consistently; the text pieces of
// the file, each at most max_piece_bytes long, concatenate to the file.

#include <string>

#include "core/check.h"
#include "data/document_reader.h"
#include "fuzz_support.h"

namespace {

using namespace symphony;

// Reads every piece of `file`; returns the concatenated text, or nullopt on an error.
std::optional<std::string> read_all(const InputFile& file, const DocumentReaderOptions& options,
                                    size_t file_bytes, int64_t* documents) {
  Result<DocumentReader> reader = DocumentReader::open(file, options);
  SYM_CHECK(reader.has_value(), "cannot open the scratch file: {}", reader.error().message());
  std::string text;
  for (size_t pieces = 0;; ++pieces) {
    SYM_CHECK(pieces <= file_bytes + 1, "{} pieces from {} bytes", pieces, file_bytes);
    Result<std::optional<DocumentPiece>> piece = reader->next();
    if (!piece.has_value()) return std::nullopt;
    if (!piece->has_value()) break;
    const DocumentPiece& p = **piece;
    SYM_CHECK(!p.text.empty(), "an empty piece");
    SYM_CHECK(static_cast<int64_t>(p.text.size()) <= options.max_piece_bytes ||
                  file.format == InputFormat::kJsonl,
              "a piece of {} bytes, the limit is {}", p.text.size(), options.max_piece_bytes);
    text += p.text;
  }
  SYM_CHECK(reader->text_bytes() == static_cast<int64_t>(file_bytes), "read {} of {} bytes",
            reader->text_bytes(), file_bytes);
  *documents = reader->documents();
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = fuzz::as_text(data, size);
  const std::filesystem::path& path = fuzz::write_scratch_file(bytes, ".jsonl");
  InputFile file{path, InputFormat::kJsonl, Compression::kNone, static_cast<int64_t>(size)};

  DocumentReaderOptions skip;
  skip.bad_lines = BadLines::kSkip;
  int64_t skip_documents = 0;
  std::optional<std::string> all = read_all(file, skip, size, &skip_documents);
  SYM_CHECK(all.has_value(), "an error while skipping bad lines");

  DocumentReaderOptions fail;
  fail.bad_lines = BadLines::kFail;
  int64_t fail_documents = 0;
  if (read_all(file, fail, size, &fail_documents).has_value())
    SYM_CHECK(fail_documents == skip_documents, "{} documents, {} when skipping bad lines",
              fail_documents, skip_documents);

  file.format = InputFormat::kText;
  DocumentReaderOptions text;
  text.max_piece_bytes = 1 + static_cast<int64_t>(size % 97);
  int64_t text_documents = 0;
  std::optional<std::string> whole = read_all(file, text, size, &text_documents);
  SYM_CHECK(whole.has_value() && *whole == bytes, "the text pieces do not make up the file");
  SYM_CHECK(text_documents == (size > 0 ? 1 : 0), "{} text documents", text_documents);
  return 0;
}
