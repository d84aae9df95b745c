#pragma once
// Helpers shared by the libFuzzer targets in fuzz/ (one target per parser, fuzz/README.md).
// A target returns normally for every input: a parser must answer bad input with a Status.
// Anything else (a sanitizer report, an uncaught exception, a failed SYM_CHECK of a property the
// target checks, a timeout or an allocation beyond -rss_limit_mb) is a crash libFuzzer records.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace symphony::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `text` at each NUL byte: "a\0b" -> {"a", "b"}; "" -> {""}.
std::vector<std::string_view> split_at_nul(std::string_view text);

// Writes `bytes` to a file private to this process, for parsers that read files (mmap, streams),
// and returns its path. The file is "<dir>/symphony-fuzz-<pid><suffix>" in $TMPDIR, else /dev/shm,
// else /tmp; every call with the same suffix rewrites it, and it is removed at exit.
const std::filesystem::path& write_scratch_file(std::string_view bytes, std::string_view suffix);

}  // namespace symphony::fuzz
