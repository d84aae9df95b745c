#include "data/input_files.h"

#include <glob.h>

#include <algorithm>
#include <unordered_set>

namespace symphony {
namespace {

namespace fs = std::filesystem;

bool is_glob_pattern(const std::string& input) {
  return input.find_first_of("*?[") != std::string::npos;
}

bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

Status add_directory(const fs::path& dir, std::vector<fs::path>& files) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Error::io("listing {}: {}", dir.string(), ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Error::io("listing {}: {}", dir.string(), ec.message());
    if (is_hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) found.push_back(it->path());
  }
  if (ec) return Error::io("listing {}: {}", dir.string(), ec.message());
  std::sort(found.begin(), found.end());
  files.insert(files.end(), found.begin(), found.end());
  return Status::ok();
}

Status add_path(const fs::path& path, std::vector<fs::path>& files) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (fs::is_directory(status)) return add_directory(path, files);
  if (fs::is_regular_file(status)) {
    files.push_back(path);
    return Status::ok();
  }
  if (!fs::exists(status)) return Error::not_found("input {} does not exist", path.string());
  return Error::invalid("input {} is neither a file nor a directory", path.string());
}

Status add_glob(const std::string& pattern, std::vector<fs::path>& files) {
  glob_t matches{};
  int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
  std::vector<fs::path> found;
  if (rc == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) found.emplace_back(matches.gl_pathv[i]);
  }
  ::globfree(&matches);
  if (rc == GLOB_NOMATCH || (rc == 0 && found.empty()))
    return Error::not_found("input pattern {} matches no files", pattern);
  if (rc != 0) return Error::io("expanding input pattern {}: glob error {}", pattern, rc);
  std::sort(found.begin(), found.end());
  for (const fs::path& path : found) SYM_TRY(add_path(path, files));
  return Status::ok();
}

}  // namespace

std::string_view input_format_name(InputFormat format) {
  return format == InputFormat::kJsonl ? "jsonl" : "text";
}

InputFile classify_input(const fs::path& path, int64_t bytes) {
  InputFile file{path, InputFormat::kText, compression_for_path(path), bytes};
  const fs::path stem = file.compression == Compression::kNone ? path : path.stem();
  const fs::path ext = stem.extension();
  if (ext == ".jsonl" || ext == ".ndjson") file.format = InputFormat::kJsonl;
  return file;
}

Result<std::vector<InputFile>> list_input_files(const std::vector<std::string>& inputs) {
  if (inputs.empty()) return Error::invalid("no inputs given");
  std::vector<fs::path> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (is_glob_pattern(input) && !fs::exists(input, ec)) {
      SYM_TRY(add_glob(input, files));
    } else {
      SYM_TRY(add_path(input, files));
    }
  }
  std::vector<InputFile> unique;
  std::unordered_set<std::string> seen;
  for (fs::path& file : files) {
    std::error_code ec;
    fs::path key = fs::weakly_canonical(file, ec);
    if (!seen.insert(ec ? file.string() : key.string()).second) continue;
    const auto bytes = fs::file_size(file, ec);
    if (ec) return Error::io("inspecting {}: {}", file.string(), ec.message());
    unique.push_back(classify_input(file, static_cast<int64_t>(bytes)));
  }
  if (unique.empty()) {
    std::string listed;
    for (const std::string& input : inputs) listed += (listed.empty() ? "" : ", ") + input;
    return Error::not_found("no input files found in: {}", listed);
  }
  return unique;
}

}  // namespace symphony
