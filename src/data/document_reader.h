#pragma once
// Reads the documents of one input file (see InputFormat in data/input_files.h) as a stream of
// text pieces, holding at most one piece (and one read chunk) in memory.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/compressed_reader.h"
#include "data/input_files.h"

namespace symphony {

enum class BadLines : uint8_t {
  kFail,  // a bad JSONL line is an error naming file:line
  kSkip,  // a bad JSONL line is counted and skipped
};

struct DocumentReaderOptions {
  std::string text_field = "text";  // the JSONL key holding a document's text
  BadLines bad_lines = BadLines::kFail;
  // A text document longer than this is handed out in several pieces, cut after a newline that is
  // followed by a non-space byte when there is one (a word boundary for GPT-2 style
  // pre-tokenisation), else at exactly this size. REQUIRES: >= 1.
  int64_t max_piece_bytes = int64_t{8} << 20;
};

// One piece of a document. A document is the concatenation of its pieces, from the piece with
// first == true to the one with last == true (often the same piece).
struct DocumentPiece {
  std::string text;
  bool first = true;
  bool last = true;
  int64_t line = 0;  // JSONL: the 1-based line the document came from; text: 0
};

// Failure modes: those of CompressedReader (missing file, wrong magic, corrupt or truncated data)
// and, with BadLines::kFail, a JSONL line that is not a JSON object, lacks the text field or holds
// a non-string there: kInvalidArgument "<path>:<line>: <what>".
// An empty text file, and a JSONL document whose text is "", produce no piece; they are counted in
// empty_documents(). Thread-safety: none.
class DocumentReader {
 public:
  static Result<DocumentReader> open(const InputFile& file, const DocumentReaderOptions& options);

  // The next piece, or nullopt at the end of the file.
  Result<std::optional<DocumentPiece>> next();

  int64_t documents() const { return documents_; }  // non-empty documents started so far
  int64_t empty_documents() const { return empty_documents_; }
  int64_t bad_lines() const { return bad_lines_; }
  // The messages of the first few skipped lines ("<path>:<line>: <what>").
  const std::vector<std::string>& bad_line_examples() const { return bad_line_examples_; }
  int64_t text_bytes() const { return text_bytes_; }  // decompressed bytes read so far

 private:
  DocumentReader(InputFile file, DocumentReaderOptions options, CompressedReader reader);
  // Reads more bytes into buffer_; false at the end of the file.
  Result<bool> fill();
  Result<std::optional<DocumentPiece>> next_text_piece();
  Result<std::optional<DocumentPiece>> next_jsonl_document();
  Status bad_line(int64_t line, std::string message);

  InputFile file_;
  DocumentReaderOptions options_;
  CompressedReader reader_;
  std::vector<char> chunk_;  // one read
  std::string buffer_;      // bytes read and not yet handed out
  size_t buffer_pos_ = 0;   // JSONL: start of the next line in buffer_
  bool at_end_ = false;     // the reader has no more bytes
  bool in_document_ = false;  // text: a piece of the document has been handed out
  int64_t line_ = 0;
  int64_t documents_ = 0;
  int64_t empty_documents_ = 0;
  int64_t bad_lines_ = 0;
  std::vector<std::string> bad_line_examples_;
  int64_t text_bytes_ = 0;
};

}  // namespace symphony
