#pragma once
// A fresh temporary directory per test, removed with everything in it when the object dies.

#include <filesystem>
#include <string>
#include <string_view>

namespace symphony::testkit {

class TempDir {
 public:
  // Creates $TMPDIR/symphony_<prefix>_XXXXXX. Fails the current test when it cannot.
  explicit TempDir(std::string_view prefix = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& rel) const { return path_ / rel; }

  // Writes `bytes` to path()/rel, creating parent directories; returns the full path.
  std::filesystem::path write(const std::filesystem::path& rel, std::string_view bytes) const;

 private:
  std::filesystem::path path_;
};

// The whole content of a file (empty when it cannot be read).
std::string read_file_bytes(const std::filesystem::path& path);

}  // namespace symphony::testkit
