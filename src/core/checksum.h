#pragma once
// Content checksums for files that must be verified before use (checkpoints): XXH3-64 from
// libxxhash, which hashes at memory speed, printed as 16 lowercase hex digits.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "core/status.h"

namespace symphony {

uint64_t xxh3_64(std::span<const std::byte> bytes);
std::string checksum_hex(uint64_t checksum);

// The checksum of a whole file's bytes and its size. Failure: os_error naming the file.
struct FileChecksum {
  int64_t bytes = 0;
  uint64_t xxh3 = 0;
};
Result<FileChecksum> checksum_file(const std::filesystem::path& path);

}  // namespace symphony
