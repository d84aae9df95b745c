#pragma once
// How one attempt of a supervised job ended, judged from what the supervisor observed: the
// launcher's (mpirun's) exit status, each rank's start and exit files (launch/rank_files.h) and
// the moment the supervisor saw each process end. Pure: no process or file is touched.
//
// The rules, in order:
//   1. a rank that exited with code 2 (bad input: a config or data error) → kBadInput: another
//      attempt would fail the same way;
//   2. every rank wrote an exit file saying done or stopped, or the launcher exited 0 and no rank
//      failed or vanished → kStopped when some rank stopped early, else kCompleted;
//   3. otherwise kFailed, blamed on the first event seen:
//      - a rank that ended without an exit file (killed by a signal, crashed, lost): it is the
//        failed rank ("rank_died"); ranks seen ending in the same poll are blamed together;
//      - a rank whose exit file says it failed: when its message is the collective watchdog's
//        (parallel/comm_mpi.cc: "ranks that did not arrive: 1, 3") the ranks it names are the
//        failed ones ("watchdog"), else the rank itself ("rank_error");
//      - the launcher ending before any rank: "launcher_died" (killed by a signal) or
//        "launcher_failed" (an exit code, e.g. it could not start the ranks); no rank blamed.

#include <optional>
#include <string>
#include <vector>

#include "launch/child_process.h"
#include "launch/rank_files.h"

namespace symphony {

struct RankObservation {
  std::optional<RankStart> start;  // its start file, once written
  std::optional<RankExit> exit;    // its exit file, when it wrote one
  // Seconds from the attempt's start to the poll that found the process gone; nullopt when never
  // seen ending (still running, on another host, or never started).
  std::optional<double> ended_s;
};

struct AttemptObservation {
  ExitStatus launcher;
  double launcher_ended_s = 0;
  std::vector<RankObservation> ranks;  // [rank]
};

enum class AttemptVerdict : uint8_t { kCompleted, kStopped, kBadInput, kFailed };

struct AttemptJudgement {
  AttemptVerdict verdict = AttemptVerdict::kFailed;
  std::string kind;               // kFailed: "rank_died", "watchdog", "rank_error",
                                  // "launcher_died", "launcher_failed"; else ""
  std::vector<int> failed_ranks;  // ranks of the attempt to blame, ascending
  std::string description;        // one sentence for people, naming ranks, pids, hosts, status
};

AttemptJudgement judge_attempt(const AttemptObservation& observation);

// The world ranks a collective-watchdog message names as not arrived; empty when `message` is no
// such message or names none.
std::vector<int> watchdog_missing_ranks(const std::string& message);

}  // namespace symphony
