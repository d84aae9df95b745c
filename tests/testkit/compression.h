#pragma once
// In-memory gzip and zstd compression, for tests that need compressed input files.

#include <string>
#include <string_view>

namespace symphony::testkit {

std::string gzip_bytes(std::string_view text);  // one gzip member
std::string zstd_bytes(std::string_view text);  // one zstd frame

}  // namespace symphony::testkit
