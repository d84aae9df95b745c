#pragma once
// A read-only memory mapping of a whole regular file, released when the object dies.

#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>

#include "core/status.h"

namespace symphony {

// Failure modes of open(): os_error("opening <what>" / "inspecting <what>" / "mapping <what>",
// path) when the operating system refuses (kNotFound for a missing file); kInvalidArgument naming
// the path when it is not a regular file. An empty file opens with size() 0.
// Thread-safety: immutable after open().
class MappedFile {
 public:
  // `what` names the kind of file in messages, e.g. "token file".
  static Result<MappedFile> open(const std::filesystem::path& path, std::string_view what);

  MappedFile() = default;  // maps nothing

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void unmap();

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace symphony
