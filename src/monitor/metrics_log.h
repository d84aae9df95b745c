#pragma once
// The metrics log: an append-only JSON Lines file, one JSON object per line (step, loss, lr,
// tokens/s, ...). Each line is flushed as it is written, so the file is current even if the
// process dies; a line torn by a crash is at most the last one, and read_metrics_log skips it.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "core/status.h"

namespace symphony {

// Thread-safety: none; one writer per file.
class MetricsLog {
 public:
  // Opens `path` for appending, creating it (not its directory) if missing: a resumed run keeps
  // the lines of the runs before it. Failure: kIo/kNotFound naming the path.
  static Result<MetricsLog> open(const std::filesystem::path& path);

  // Appends `record` as one line and flushes it. Strings that are not valid UTF-8 are written
  // with U+FFFD in their place. Failure: kInvalidArgument when record is not an object; kIo
  // naming the path when the write fails.
  Status write(const nlohmann::json& record);

  const std::filesystem::path& path() const { return path_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  MetricsLog(std::filesystem::path path, std::FILE* file) : path_(std::move(path)), file_(file) {}

  std::filesystem::path path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
};

// Reads every complete line of a metrics log. A last line without its newline (a write cut short)
// is skipped. Failure: kNotFound/kIo naming the path; kCorrupt naming path:line for a complete
// line that is not a JSON object.
Result<std::vector<nlohmann::json>> read_metrics_log(const std::filesystem::path& path);

}  // namespace symphony
