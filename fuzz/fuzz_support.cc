#include "fuzz_support.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "core/check.h"

namespace symphony::fuzz {
namespace {

std::map<std::string, std::filesystem::path>& scratch_files() {
  static std::map<std::string, std::filesystem::path> files;  // [suffix]
  return files;
}

void remove_scratch_files() {
  std::error_code ignored;
  for (const auto& [suffix, path] : scratch_files()) std::filesystem::remove(path, ignored);
}

}  // namespace

std::vector<std::string_view> split_at_nul(std::string_view text) {
  std::vector<std::string_view> parts;
  for (;;) {
    const size_t nul = text.find('\0');
    parts.push_back(text.substr(0, nul));
    if (nul == std::string_view::npos) return parts;
    text.remove_prefix(nul + 1);
  }
}

const std::filesystem::path& write_scratch_file(std::string_view bytes, std::string_view suffix) {
  auto& files = scratch_files();
  auto it = files.find(std::string(suffix));
  if (it == files.end()) {
    if (files.empty()) std::atexit(remove_scratch_files);
    // Memory-backed /dev/shm, where there is one: writing each input to disk costs more than
    // parsing it.
    const char* tmpdir = std::getenv("TMPDIR");
    std::filesystem::path dir = "/tmp";
    if (tmpdir != nullptr && *tmpdir != '\0') {
      dir = tmpdir;
    } else if (std::filesystem::is_directory("/dev/shm")) {
      dir = "/dev/shm";
    }
    const std::string name = "symphony-fuzz-" + std::to_string(::getpid()) + std::string(suffix);
    it = files.emplace(std::string(suffix), dir / name).first;
  }
  std::ofstream out(it->second, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  SYM_CHECK(out.good(), "cannot write the scratch file {}", it->second.string());
  return it->second;
}

}  // namespace symphony::fuzz
