#pragma once
// Token files: one flat stream of token ids behind a 64-byte header. The byte layout is specified
// in docs/token_file_format.md; kTokenFile* below are its constants.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/status.h"

namespace symphony {

inline constexpr char kTokenFileMagic[8] = {'S', 'Y', 'M', 'T', 'O', 'K', '\0', '\1'};
inline constexpr uint32_t kTokenFileVersion = 1;
inline constexpr int64_t kTokenFileHeaderBytes = 64;

// FNV-1a 64 over bytes, continuing from `state` so a stream can be hashed in pieces:
// fnv1a64(b, fnv1a64(a)) == fnv1a64(a ++ b).
inline constexpr uint64_t kFnv1a64Init = 0xcbf29ce484222325ull;
uint64_t fnv1a64(std::span<const std::byte> bytes, uint64_t state = kFnv1a64Init);

// The token width a writer chooses for a vocabulary: 2 bytes when vocab_size <= 65536, else 4.
int token_bytes_for_vocab(int64_t vocab_size);

// What a token file says about its tokens. token_bytes = 0 lets the writer choose: 2 when
// vocab_size <= 65536, else 4.
struct TokenFileMeta {
  int64_t vocab_size = 0;  // every token is in [0, vocab_size)
  int32_t eot_token = 0;   // end-of-text id separating documents
  int token_bytes = 0;     // 0 (choose), 2 or 4
};

// Streams tokens into `<path>.tmp`; close() writes the header, fsyncs, and renames the file to
// `path`, so a file under the final name is always complete. A writer destroyed before close()
// succeeds removes its temporary file.
// Failure modes: every I/O failure is a Status naming the path and the OS error; a token outside
// [0, vocab_size) is kInvalidArgument. Thread-safety: none; one writer per thread.
class TokenFileWriter {
 public:
  static Result<TokenFileWriter> create(const std::filesystem::path& path, TokenFileMeta meta);

  TokenFileWriter(TokenFileWriter&& other) noexcept;
  TokenFileWriter& operator=(TokenFileWriter&& other) noexcept;
  TokenFileWriter(const TokenFileWriter&) = delete;
  TokenFileWriter& operator=(const TokenFileWriter&) = delete;
  ~TokenFileWriter();

  Status append(std::span<const int32_t> tokens);
  // Finishes the file. REQUIRES: not closed yet.
  Status close();

  int64_t num_tokens() const { return num_tokens_; }
  uint64_t checksum() const { return checksum_; }  // of the payload written so far
  const TokenFileMeta& meta() const { return meta_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  TokenFileWriter(std::filesystem::path path, TokenFileMeta meta, int fd);
  Status flush_buffer();
  void abandon();  // closes and removes the temporary file

  std::filesystem::path path_;
  std::filesystem::path tmp_path_;
  TokenFileMeta meta_;
  int fd_ = -1;
  int64_t num_tokens_ = 0;
  uint64_t checksum_ = kFnv1a64Init;
  std::vector<std::byte> buffer_;  // encoded payload not yet written
};

enum class ChecksumCheck : uint8_t {
  kVerify,  // hash the whole payload and check every token < vocab_size (reads the whole file)
  kSkip,    // trust the payload; open() reads only the header
};

// A read-only, memory-mapped token file. Tokens are decoded on access, so 2-byte and 4-byte files
// look the same to callers.
// Failure modes: open() returns kNotFound/kIo when the file cannot be read and kCorrupt when it
// breaks a rule of docs/token_file_format.md; each message names the path and the rule.
// Thread-safety: all methods are const after open() and may run concurrently.
class TokenFile {
 public:
  static Result<TokenFile> open(const std::filesystem::path& path,
                                ChecksumCheck check = ChecksumCheck::kVerify);

  TokenFile(TokenFile&& other) noexcept = default;
  TokenFile& operator=(TokenFile&& other) noexcept = default;
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;

  int64_t size() const { return num_tokens_; }  // number of tokens
  // REQUIRES: 0 <= i < size().
  int32_t at(int64_t i) const;
  // Copies tokens [begin, begin + out.size()) into out. REQUIRES: the range lies inside the file.
  void read(int64_t begin, std::span<int32_t> out) const;

  int64_t vocab_size() const { return vocab_size_; }
  int32_t eot_token() const { return eot_token_; }
  int token_bytes() const { return token_bytes_; }
  uint64_t checksum() const { return checksum_; }  // as recorded in the header
  const std::filesystem::path& path() const { return path_; }

 private:
  TokenFile() = default;

  std::filesystem::path path_;
  MappedFile map_;                  // whole file, header included
  const std::byte* payload_ = nullptr;
  int64_t num_tokens_ = 0;
  int64_t vocab_size_ = 0;
  int32_t eot_token_ = 0;
  int token_bytes_ = 0;
  uint64_t checksum_ = 0;
};

}  // namespace symphony
