#include "data/document_reader.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/check.h"

namespace symphony {
namespace {

constexpr size_t kReadChunkBytes = size_t{1} << 16;
constexpr size_t kMaxBadLineExamples = 5;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Where to end a piece of at most `limit` bytes taken from the front of `text` (which is longer):
// just after the last newline that is followed by a non-space byte, else at `limit`.
size_t piece_end(std::string_view text, size_t limit) {
  for (size_t i = limit; i-- > 1;) {
    if (text[i - 1] == '\n' && !is_space(text[i])) return i;
  }
  return limit;
}

std::string_view json_type_name(const nlohmann::json& value) {
  return value.type_name();
}

}  // namespace

DocumentReader::DocumentReader(InputFile file, DocumentReaderOptions options,
                               CompressedReader reader)
    : file_(std::move(file)), options_(std::move(options)), reader_(std::move(reader)) {}

Result<DocumentReader> DocumentReader::open(const InputFile& file,
                                            const DocumentReaderOptions& options) {
  SYM_CHECK(options.max_piece_bytes >= 1, "max_piece_bytes {}", options.max_piece_bytes);
  SYM_TRY_ASSIGN(CompressedReader reader, CompressedReader::open(file.path, file.compression));
  return DocumentReader(file, options, std::move(reader));
}

Result<bool> DocumentReader::fill() {
  if (at_end_) return false;
  // Read into a buffer kept for the whole file and append what came: growing buffer_ by a whole
  // chunk first would zero-fill far more than a small file holds.
  if (chunk_.empty()) chunk_.resize(kReadChunkBytes);
  SYM_TRY_ASSIGN(const size_t n, reader_.read(chunk_));
  buffer_.append(chunk_.data(), n);
  text_bytes_ += static_cast<int64_t>(n);
  if (n == 0) at_end_ = true;
  return n > 0;
}

Result<std::optional<DocumentPiece>> DocumentReader::next() {
  if (file_.format == InputFormat::kJsonl) return next_jsonl_document();
  return next_text_piece();
}

Result<std::optional<DocumentPiece>> DocumentReader::next_text_piece() {
  const size_t limit = static_cast<size_t>(options_.max_piece_bytes);
  // Read until there is more than a piece, or the file ends.
  while (buffer_.size() <= limit) {
    SYM_TRY_ASSIGN(bool more, fill());
    if (!more) break;
  }
  if (buffer_.empty()) {
    // A text file is one document: an empty file is one empty document, counted once.
    if (!in_document_ && documents_ == 0 && empty_documents_ == 0) ++empty_documents_;
    return std::optional<DocumentPiece>();
  }
  DocumentPiece piece;
  piece.first = !in_document_;
  if (piece.first) ++documents_;
  in_document_ = true;
  if (buffer_.size() <= limit) {
    piece.text = std::move(buffer_);
    buffer_.clear();
    piece.last = true;
  } else {
    const size_t end = piece_end(buffer_, limit);
    piece.text.assign(buffer_, 0, end);
    buffer_.erase(0, end);
    piece.last = false;
  }
  return std::optional<DocumentPiece>(std::move(piece));
}

Status DocumentReader::bad_line(int64_t line, std::string message) {
  std::string full = fmt::format("{}:{}: {}", file_.path.string(), line, message);
  if (options_.bad_lines == BadLines::kFail) return Error::invalid("{}", full);
  ++bad_lines_;
  if (bad_line_examples_.size() < kMaxBadLineExamples) bad_line_examples_.push_back(std::move(full));
  return Status::ok();
}

Result<std::optional<DocumentPiece>> DocumentReader::next_jsonl_document() {
  while (true) {
    // Find the end of the next line, reading more as needed.
    size_t newline = buffer_.find('\n', buffer_pos_);
    while (newline == std::string::npos) {
      if (buffer_pos_ > 0) {
        buffer_.erase(0, buffer_pos_);
        buffer_pos_ = 0;
      }
      const size_t searched = buffer_.size();
      SYM_TRY_ASSIGN(bool more, fill());
      if (!more) break;
      newline = buffer_.find('\n', searched);
    }
    if (newline == std::string::npos && buffer_pos_ >= buffer_.size()) {
      return std::optional<DocumentPiece>();
    }
    const size_t end = newline == std::string::npos ? buffer_.size() : newline;
    std::string_view text(buffer_.data() + buffer_pos_, end - buffer_pos_);
    buffer_pos_ = newline == std::string::npos ? buffer_.size() : newline + 1;
    ++line_;
    if (std::all_of(text.begin(), text.end(), is_space)) continue;

    nlohmann::json object;
    try {
      object = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      SYM_TRY(bad_line(line_, fmt::format("broken JSON: {}", e.what())));
      continue;
    }
    if (!object.is_object()) {
      SYM_TRY(bad_line(line_, fmt::format("expected a JSON object, got {}", json_type_name(object))));
      continue;
    }
    auto field = object.find(options_.text_field);
    if (field == object.end()) {
      SYM_TRY(bad_line(line_, fmt::format("no \"{}\" field", options_.text_field)));
      continue;
    }
    if (!field->is_string()) {
      SYM_TRY(bad_line(line_, fmt::format("field \"{}\" is {}, expected a string",
                                          options_.text_field, json_type_name(*field))));
      continue;
    }
    DocumentPiece piece;
    piece.text = field->get_ref<std::string&>();
    piece.line = line_;
    if (piece.text.empty()) {
      ++empty_documents_;
      continue;
    }
    ++documents_;
    return std::optional<DocumentPiece>(std::move(piece));
  }
}

}  // namespace symphony
