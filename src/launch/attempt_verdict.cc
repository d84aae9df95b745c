#include "launch/attempt_verdict.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>

namespace symphony {
namespace {

// The exit code of bad input (cli/cli_common.h kExitBadInput).
constexpr int kBadInputCode = 2;

// "mpirun: exit code 137 (a rank was killed by signal 9 (SIGKILL))"
std::string launcher_note(const ExitStatus& launcher) {
  std::string note = "mpirun: " + launcher.describe();
  // OpenMPI exits with 128 + the signal that killed the first rank to die.
  if (launcher.signal == 0 && launcher.code > 128 && launcher.code < 128 + 65)
    note +=
        fmt::format(" (a rank was killed by {})", ExitStatus{0, launcher.code - 128}.describe());
  return note;
}

std::string who(int rank, const RankObservation& r) {
  if (!r.start) return fmt::format("rank {}", rank);
  return fmt::format("rank {} (pid {} on {})", rank, r.start->process.pid,
                     r.start->host.empty() ? "?" : r.start->host);
}

bool ended_well(const RankObservation& r) {
  return r.exit && r.exit->outcome != RankOutcome::kFailed;
}

}  // namespace

std::vector<int> watchdog_missing_ranks(const std::string& message) {
  static const std::string kPhrase = "ranks that did not arrive: ";
  std::vector<int> ranks;
  if (message.find("watchdog") == std::string::npos) return ranks;
  const size_t at = message.find(kPhrase);
  if (at == std::string::npos) return ranks;
  size_t i = at + kPhrase.size();
  while (i < message.size() && std::isdigit(static_cast<unsigned char>(message[i]))) {
    int rank = 0;
    while (i < message.size() && std::isdigit(static_cast<unsigned char>(message[i])))
      rank = rank * 10 + (message[i++] - '0');
    ranks.push_back(rank);
    if (message.compare(i, 2, ", ") != 0) break;
    i += 2;
  }
  return ranks;
}

AttemptJudgement judge_attempt(const AttemptObservation& o) {
  AttemptJudgement j;
  const int n = int(o.ranks.size());
  // 1. Bad input.
  for (int r = 0; r < n; ++r) {
    const std::optional<RankExit>& e = o.ranks[size_t(r)].exit;
    if (e && e->outcome == RankOutcome::kFailed && e->exit_code == kBadInputCode) {
      j.verdict = AttemptVerdict::kBadInput;
      j.failed_ranks = {r};
      j.description = fmt::format("rank {} refused its input: {}", r, e->message);
      return j;
    }
  }
  // 2. A clean end.
  bool all_well = n > 0, any_stopped = false, any_bad = false;
  for (const RankObservation& r : o.ranks) {
    all_well = all_well && ended_well(r);
    any_stopped = any_stopped || (r.exit && r.exit->outcome == RankOutcome::kStopped);
    any_bad =
        any_bad || (r.exit && r.exit->outcome == RankOutcome::kFailed) || (r.ended_s && !r.exit);
  }
  if (all_well || (o.launcher.success() && !any_bad)) {
    j.verdict = any_stopped ? AttemptVerdict::kStopped : AttemptVerdict::kCompleted;
    return j;
  }
  // 3. A failure: the earliest bad event.
  j.verdict = AttemptVerdict::kFailed;
  double first_s = std::numeric_limits<double>::infinity();
  for (const RankObservation& r : o.ranks) {
    const bool bad = (r.ended_s && !r.exit) || (r.exit && r.exit->outcome == RankOutcome::kFailed);
    // A rank that wrote a failure but was not seen ending (another host) counts at the end.
    if (bad) first_s = std::min(first_s, r.ended_s.value_or(o.launcher_ended_s));
  }
  if (first_s == std::numeric_limits<double>::infinity() || o.launcher_ended_s < first_s) {
    j.kind = o.launcher.signal != 0 ? "launcher_died" : "launcher_failed";
    j.description = o.launcher.signal != 0
                        ? fmt::format("mpirun was killed by {}", o.launcher.describe())
                        : launcher_note(o.launcher) + ", and no rank reported why";
    return j;
  }
  std::vector<int> died, failed;
  for (int r = 0; r < n; ++r) {
    const RankObservation& ro = o.ranks[size_t(r)];
    if (ro.ended_s.value_or(o.launcher_ended_s) != first_s) continue;
    if (ro.ended_s && !ro.exit) died.push_back(r);
    if (ro.exit && ro.exit->outcome == RankOutcome::kFailed) failed.push_back(r);
  }
  if (!died.empty()) {
    j.kind = "rank_died";
    j.failed_ranks = died;
    std::string names;
    for (int r : died) names += (names.empty() ? "" : ", ") + who(r, o.ranks[size_t(r)]);
    j.description = fmt::format("{} ended without an exit record (killed or crashed); {}", names,
                                launcher_note(o.launcher));
    return j;
  }
  std::vector<int> missing;
  for (int r : failed) {
    for (int m : watchdog_missing_ranks(o.ranks[size_t(r)].exit->message))
      if (m >= 0 && m < n) missing.push_back(m);
  }
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
  const int reporter = failed.front();
  const std::string& message = o.ranks[size_t(reporter)].exit->message;
  if (!missing.empty()) {
    j.kind = "watchdog";
    j.failed_ranks = missing;
    std::string names;
    for (int r : missing) names += (names.empty() ? "" : ", ") + who(r, o.ranks[size_t(r)]);
    j.description =
        fmt::format("{} hung: the watchdog of rank {} says: {}", names, reporter, message);
    return j;
  }
  j.kind = "rank_error";
  j.failed_ranks = failed;
  j.description =
      fmt::format("{} failed with exit code {}: {}", who(reporter, o.ranks[size_t(reporter)]),
                  o.ranks[size_t(reporter)].exit->exit_code, message);
  return j;
}

}  // namespace symphony
