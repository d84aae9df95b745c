#include "core/checksum.h"

#include <xxhash.h>

#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <unistd.h>
#include <vector>

#include "core/file_io.h"

namespace symphony {

uint64_t xxh3_64(std::span<const std::byte> bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::string checksum_hex(uint64_t checksum) { return fmt::format("{:016x}", checksum); }

Result<FileChecksum> checksum_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("opening", path, errno);
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                  &XXH3_freeState);
  XXH3_64bits_reset(state.get());
  std::vector<char> buffer(size_t(4) << 20);
  FileChecksum result;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return os_error("reading", path, err);
    }
    if (n == 0) break;
    XXH3_64bits_update(state.get(), buffer.data(), size_t(n));
    result.bytes += n;
  }
  ::close(fd);
  result.xxh3 = XXH3_64bits_digest(state.get());
  return result;
}

}  // namespace symphony
