#include "core/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace symphony {
namespace {

Status write_through_temp_file(const std::filesystem::path& path, std::string_view bytes) {
  SYM_TRY_ASSIGN(const int fd, create_temp_file(path));
  Status status = write_all(fd, bytes.data(), bytes.size(), temp_path_for(path));
  if (!status.is_ok()) {
    discard_temp_file(fd, path);
    return status;
  }
  return commit_temp_file(fd, path);
}

}  // namespace

Status os_error(std::string_view what, const std::filesystem::path& path, int err) {
  std::string message = fmt::format("{} {}: {}", what, path.string(), std::strerror(err));
  if (err == ENOENT) return Status(ErrorCode::kNotFound, std::move(message));
  return Status(ErrorCode::kIo, std::move(message));
}

Status write_all(int fd, const void* data, size_t bytes, const std::filesystem::path& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("writing", path, errno);
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return Status::ok();
}

Status fsync_directory(const std::filesystem::path& file) {
  std::filesystem::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return os_error("opening directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return os_error("syncing directory", dir, err);
  return Status::ok();
}

Status write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  Status status = write_through_temp_file(path, bytes);
  // ENOENT here means the destination directory is missing: the output cannot be written, which
  // callers report as an I/O failure, not as a missing input.
  if (status.code() == ErrorCode::kNotFound) return Status(ErrorCode::kIo, status.message());
  return status;
}

std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  return tmp;
}

Result<int> create_temp_file(const std::filesystem::path& path) {
  const std::filesystem::path tmp = temp_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return os_error("creating", tmp, errno);
  return fd;
}

Status commit_temp_file(int fd, const std::filesystem::path& path) {
  const std::filesystem::path tmp = temp_path_for(path);
  Status status;
  if (::fsync(fd) != 0) status = os_error("syncing", tmp, errno);
  if (::close(fd) != 0 && status.is_ok()) status = os_error("closing", tmp, errno);
  if (status.is_ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    status = os_error(fmt::format("renaming {} to", tmp.string()), path, errno);
  if (!status.is_ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  return fsync_directory(path);
}

void discard_temp_file(int fd, const std::filesystem::path& path) {
  ::close(fd);
  ::unlink(temp_path_for(path).c_str());
}

}  // namespace symphony
