#pragma once
// MetricsTail: follows the metrics log of a run (monitor/metrics_log.h) while the run appends to
// it, to see which training steps the job completes and when. A supervisor reads it between its
// polls; it never writes.
// Thread-safety: one owner thread.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace symphony {

// The size of `path` in bytes; 0 when it does not exist.
uint64_t file_size_or_zero(const std::filesystem::path& path);

class MetricsTail {
 public:
  // Follows `path` from byte `offset` on (the file's size when the job started); the file need
  // not exist yet.
  MetricsTail(std::filesystem::path path, uint64_t offset);

  // The steps of the training-step records ({"step": n, "loss": x, ...}) on the lines completed
  // since the last call, in file order. A line still being written is kept for the next call; a
  // line that is not a JSON object is skipped.
  std::vector<int64_t> poll();

  uint64_t offset() const { return offset_; }

 private:
  std::filesystem::path path_;
  uint64_t offset_;      // bytes consumed, complete lines only
  std::string partial_;  // bytes read after the last newline
};

}  // namespace symphony
