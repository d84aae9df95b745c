#pragma once
// Document index files (`*.idx`): where each document starts inside one token shard. The byte
// layout is specified in docs/dataset_format.md; kDocIndex* below are its constants.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/mapped_file.h"
#include "core/status.h"
#include "data/token_file.h"

namespace symphony {

inline constexpr char kDocIndexMagic[8] = {'S', 'Y', 'M', 'I', 'D', 'X', '\0', '\1'};
inline constexpr uint32_t kDocIndexVersion = 1;
inline constexpr int64_t kDocIndexHeaderBytes = 64;

// Streams document start offsets into `<path>.tmp`; close() writes the header, fsyncs and renames
// to `path`, like TokenFileWriter. A writer destroyed before close() removes its temporary file.
// Failure: I/O errors name the path; an offset not above the previous one is kInvalidArgument.
// Thread-safety: none.
class DocIndexWriter {
 public:
  static Result<DocIndexWriter> create(const std::filesystem::path& path);

  DocIndexWriter(DocIndexWriter&& other) noexcept;
  DocIndexWriter& operator=(DocIndexWriter&& other) noexcept;
  DocIndexWriter(const DocIndexWriter&) = delete;
  DocIndexWriter& operator=(const DocIndexWriter&) = delete;
  ~DocIndexWriter();

  // Records a document starting at token `offset` of the shard.
  Status append(int64_t offset);
  // Finishes the file for a shard of `num_tokens` tokens. REQUIRES: not closed yet.
  Status close(int64_t num_tokens);

  int64_t num_documents() const { return num_documents_; }
  uint64_t checksum() const { return checksum_; }

 private:
  DocIndexWriter(std::filesystem::path path, int fd);
  Status flush_buffer();
  void abandon();

  std::filesystem::path path_;
  int fd_ = -1;
  int64_t num_documents_ = 0;
  int64_t last_offset_ = -1;
  uint64_t checksum_ = kFnv1a64Init;
  std::vector<std::byte> buffer_;
};

// A read-only, memory-mapped document index.
// Failure: open() returns kNotFound/kIo when the file cannot be read and kCorrupt, naming the path
// and the rule, when it breaks docs/dataset_format.md (size, magic, version, checksum, offsets not
// strictly increasing from 0 or not below num_tokens).
// Thread-safety: const after open().
class DocIndex {
 public:
  static Result<DocIndex> open(const std::filesystem::path& path,
                               ChecksumCheck check = ChecksumCheck::kVerify);

  DocIndex(DocIndex&& other) noexcept = default;
  DocIndex& operator=(DocIndex&& other) noexcept = default;
  DocIndex(const DocIndex&) = delete;
  DocIndex& operator=(const DocIndex&) = delete;

  int64_t num_documents() const { return num_documents_; }
  int64_t num_tokens() const { return num_tokens_; }  // of the shard it indexes
  // The first token of document d. REQUIRES: 0 <= d < num_documents().
  int64_t document_start(int64_t d) const;
  // The document holding token t: the last d with document_start(d) <= t.
  // REQUIRES: num_documents() > 0, 0 <= t < num_tokens().
  int64_t document_of(int64_t token) const;
  uint64_t checksum() const { return checksum_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  DocIndex() = default;

  std::filesystem::path path_;
  MappedFile map_;  // whole file, header included
  int64_t num_documents_ = 0;
  int64_t num_tokens_ = 0;
  uint64_t checksum_ = 0;
};

}  // namespace symphony
