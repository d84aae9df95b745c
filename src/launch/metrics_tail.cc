#include "launch/metrics_tail.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace symphony {

uint64_t file_size_or_zero(const std::filesystem::path& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : uint64_t(size);
}

MetricsTail::MetricsTail(std::filesystem::path path, uint64_t offset)
    : path_(std::move(path)), offset_(offset) {}

std::vector<int64_t> MetricsTail::poll() {
  std::vector<int64_t> steps;
  const uint64_t size = file_size_or_zero(path_);
  const uint64_t read_from = offset_ + partial_.size();
  if (size <= read_from) return steps;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return steps;
  in.seekg(std::streamoff(read_from));
  std::string fresh(size_t(size - read_from), '\0');
  in.read(fresh.data(), std::streamsize(fresh.size()));
  fresh.resize(size_t(in.gcount()));
  partial_ += fresh;
  size_t begin = 0;
  for (size_t end = partial_.find('\n'); end != std::string::npos;
       begin = end + 1, end = partial_.find('\n', begin)) {
    const nlohmann::json record = nlohmann::json::parse(
        partial_.begin() + std::ptrdiff_t(begin), partial_.begin() + std::ptrdiff_t(end), nullptr,
        /*allow_exceptions=*/false);
    if (record.is_object() && record.contains("loss") && record.contains("step") &&
        record["step"].is_number_integer())
      steps.push_back(record["step"].get<int64_t>());
  }
  offset_ += begin;
  partial_.erase(0, begin);
  return steps;
}

}  // namespace symphony
