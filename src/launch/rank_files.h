#pragma once
// The files through which the ranks of a supervised job (launch/supervisor.h) tell the supervisor
// who they are and how they ended. The supervisor gives each attempt of the job its own directory
// (`symphony train --launch-dir DIR`), in which every rank writes
//   rank-<r>.json       once it has started and handles stop signals:
//                       {"rank", "world_size", "pid", "start_ticks", "host"}
//   rank-<r>.exit.json  when it ends through the train command's own paths, after its last
//                       collective or just before it aborts the job:
//                       {"rank", "exit_code", "outcome": "done"|"stopped"|"failed", "message"}
// A rank killed by a signal, or lost with its host, writes no exit file: that absence is how the
// supervisor tells a rank that died from one that failed and said why. Both files are written
// atomically (core/file_io.h): a reader sees the whole record or no file.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/status.h"
#include "launch/local_process.h"

namespace symphony {

struct RankStart {
  int rank = 0;
  int world_size = 1;
  LocalProcess process;  // on `host`
  std::string host;
};

enum class RankOutcome : uint8_t {
  kDone,     // trained to train.steps (or had nothing left to do)
  kStopped,  // saved a checkpoint and stopped early (a stop signal, --stop-at-step)
  kFailed,   // an error; `message` says which
};
// "done", "stopped", "failed"
const char* rank_outcome_name(RankOutcome outcome);

struct RankExit {
  int rank = 0;
  int exit_code = 0;  // what the process exits (or aborts the job) with
  RankOutcome outcome = RankOutcome::kDone;
  std::string message;  // the error for kFailed; "" otherwise
};

std::filesystem::path rank_start_path(const std::filesystem::path& dir, int rank);
std::filesystem::path rank_exit_path(const std::filesystem::path& dir, int rank);

// This process as rank `rank` of `world_size`: its pid, start time and host name.
RankStart this_rank_start(int rank, int world_size);

// Failure: kIo naming the path.
Status write_rank_start(const std::filesystem::path& dir, const RankStart& start);
Status write_rank_exit(const std::filesystem::path& dir, const RankExit& exit);

// nullopt while the file does not exist. Failure: kIo naming the path it could not read; kCorrupt
// naming it when it holds no such record.
Result<std::optional<RankStart>> read_rank_start(const std::filesystem::path& dir, int rank);
Result<std::optional<RankExit>> read_rank_exit(const std::filesystem::path& dir, int rank);

}  // namespace symphony
