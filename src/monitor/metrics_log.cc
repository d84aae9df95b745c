#include "monitor/metrics_log.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "core/file_io.h"

namespace symphony {

Result<MetricsLog> MetricsLog::open(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) return os_error("opening metrics log", path, errno);
  return MetricsLog(path, file);
}

Status MetricsLog::write(const nlohmann::json& record) {
  if (!record.is_object())
    return Error::invalid("{}: metrics record must be a JSON object, got {}", path_.string(),
                          record.type_name());
  std::string line;
  try {
    line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const nlohmann::json::exception& e) {
    return Error::invalid("{}: cannot serialise metrics record: {}", path_.string(), e.what());
  }
  line.push_back('\n');
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() ||
      std::fflush(file_.get()) != 0)
    return Error::io("writing metrics log {}: {}", path_.string(), std::strerror(errno));
  return Status::ok();
}

Result<std::vector<nlohmann::json>> read_metrics_log(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return os_error("opening metrics log", path, errno);
  std::vector<nlohmann::json> records;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (in.eof()) break;  // no newline after it: a torn final write
    if (line.empty()) continue;
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object())
      return Error::corrupt("{}:{}: not a JSON object", path.string(), line_number);
    records.push_back(std::move(record));
  }
  if (in.bad()) return Error::io("reading metrics log {}: {}", path.string(), std::strerror(errno));
  return records;
}

}  // namespace symphony
