#pragma once
// Streams the bytes of a plain, gzip or zstd file in chunks, decompressing on the fly, so a file of
// any size is read in constant memory.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "core/status.h"

namespace symphony {

enum class Compression : uint8_t { kNone, kGzip, kZstd };

// "none", "gzip" or "zstd", as recorded in dataset manifests.
std::string_view compression_name(Compression compression);

// The compression a file name announces: ".gz" gzip, ".zst" zstd, anything else none.
Compression compression_for_path(const std::filesystem::path& path);

// Reads the decompressed bytes of one file. open() checks that a gzip file starts with 1f 8b and
// a zstd file with 28 b5 2f fd; concatenated gzip members and zstd frames are read as one stream.
// Failure modes, each a Status naming the path: kNotFound/kIo when the file cannot be opened or
// read; kCorrupt for wrong magic bytes, corrupt compressed data (with the compressed byte offset)
// and data that ends before its last gzip member or zstd frame is complete (truncation).
// Thread-safety: none; one reader per thread.
class CompressedReader {
 public:
  static Result<CompressedReader> open(const std::filesystem::path& path, Compression compression);

  CompressedReader(CompressedReader&&) noexcept;
  CompressedReader& operator=(CompressedReader&&) noexcept;
  ~CompressedReader();

  // Fills out with the next decompressed bytes and returns how many it wrote: at least 1 while
  // data remains, 0 at the end of the stream. REQUIRES: !out.empty().
  Result<size_t> read(std::span<char> out);

  int64_t compressed_bytes_read() const;  // bytes consumed from the file so far

 private:
  struct State;
  explicit CompressedReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace symphony
