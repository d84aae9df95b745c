#include "launch/rank_files.h"

#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/file_io.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

// The JSON object in `path`; nullopt when the file does not exist.
Result<std::optional<nlohmann::json>> read_record(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<nlohmann::json>();
    return os_error("opening", path, errno);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return os_error("reading", path, errno);
  nlohmann::json record = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!record.is_object()) return Error::corrupt("{}: not a JSON object", path.string());
  return std::optional<nlohmann::json>(std::move(record));
}

template <typename T>
Status get_field(const nlohmann::json& record, const char* key, const fs::path& path, T& out) {
  auto it = record.find(key);
  if (it == record.end()) return Error::corrupt("{}: no \"{}\"", path.string(), key);
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return Error::corrupt("{}: \"{}\" has the wrong type", path.string(), key);
  }
  return Status::ok();
}

}  // namespace

const char* rank_outcome_name(RankOutcome outcome) {
  switch (outcome) {
    case RankOutcome::kDone:
      return "done";
    case RankOutcome::kStopped:
      return "stopped";
    case RankOutcome::kFailed:
      return "failed";
  }
  return "failed";
}

fs::path rank_start_path(const fs::path& dir, int rank) {
  return dir / fmt::format("rank-{}.json", rank);
}

fs::path rank_exit_path(const fs::path& dir, int rank) {
  return dir / fmt::format("rank-{}.exit.json", rank);
}

RankStart this_rank_start(int rank, int world_size) {
  return {rank, world_size, this_process(), host_name()};
}

Status write_rank_start(const fs::path& dir, const RankStart& start) {
  const nlohmann::json record = {{"rank", start.rank},
                                 {"world_size", start.world_size},
                                 {"pid", start.process.pid},
                                 {"start_ticks", start.process.start_ticks},
                                 {"host", start.host}};
  return write_file_atomic(rank_start_path(dir, start.rank), record.dump() + "\n");
}

Status write_rank_exit(const fs::path& dir, const RankExit& exit) {
  const nlohmann::json record = {{"rank", exit.rank},
                                 {"exit_code", exit.exit_code},
                                 {"outcome", rank_outcome_name(exit.outcome)},
                                 {"message", exit.message}};
  return write_file_atomic(
      rank_exit_path(dir, exit.rank),
      record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

Result<std::optional<RankStart>> read_rank_start(const fs::path& dir, int rank) {
  const fs::path path = rank_start_path(dir, rank);
  SYM_TRY_ASSIGN(std::optional<nlohmann::json> record, read_record(path));
  if (!record) return std::optional<RankStart>();
  RankStart start;
  SYM_TRY(get_field(*record, "rank", path, start.rank));
  SYM_TRY(get_field(*record, "world_size", path, start.world_size));
  SYM_TRY(get_field(*record, "pid", path, start.process.pid));
  SYM_TRY(get_field(*record, "start_ticks", path, start.process.start_ticks));
  SYM_TRY(get_field(*record, "host", path, start.host));
  if (start.rank != rank)
    return Error::corrupt("{}: \"rank\" is {}, not {}", path.string(), start.rank, rank);
  return std::optional<RankStart>(std::move(start));
}

Result<std::optional<RankExit>> read_rank_exit(const fs::path& dir, int rank) {
  const fs::path path = rank_exit_path(dir, rank);
  SYM_TRY_ASSIGN(std::optional<nlohmann::json> record, read_record(path));
  if (!record) return std::optional<RankExit>();
  RankExit exit;
  std::string outcome;
  SYM_TRY(get_field(*record, "rank", path, exit.rank));
  SYM_TRY(get_field(*record, "exit_code", path, exit.exit_code));
  SYM_TRY(get_field(*record, "outcome", path, outcome));
  SYM_TRY(get_field(*record, "message", path, exit.message));
  if (outcome == "done") {
    exit.outcome = RankOutcome::kDone;
  } else if (outcome == "stopped") {
    exit.outcome = RankOutcome::kStopped;
  } else if (outcome == "failed") {
    exit.outcome = RankOutcome::kFailed;
  } else {
    return Error::corrupt("{}: unknown \"outcome\" \"{}\"", path.string(), outcome);
  }
  if (exit.rank != rank)
    return Error::corrupt("{}: \"rank\" is {}, not {}", path.string(), exit.rank, rank);
  return std::optional<RankExit>(std::move(exit));
}

}  // namespace symphony
