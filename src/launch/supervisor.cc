#include "launch/supervisor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "checkpoint/checkpoint_dir.h"
#include "core/check.h"
#include "core/file_io.h"
#include "launch/attempt_verdict.h"
#include "launch/child_process.h"
#include "launch/local_process.h"
#include "launch/metrics_tail.h"
#include "launch/rank_files.h"
#include "launch/world_choice.h"
#include "monitor/metrics_log.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double unix_time_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Sleeps `seconds`, waking early when `stop` is set. Returns true when it was.
bool sleep_unless_stopped(double seconds, const std::atomic<bool>* stop, double poll_s) {
  const Clock::time_point until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(seconds));
  while (Clock::now() < until) {
    if (stop != nullptr && stop->load()) return true;
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::min(poll_s, seconds_between(Clock::now(), until))));
  }
  return stop != nullptr && stop->load();
}

// The newest committed checkpoint step under `dir`; 0 when there is none.
int64_t newest_checkpoint_step(const fs::path& dir) {
  const std::vector<StepDir> steps = list_step_dirs(dir);
  return steps.empty() ? 0 : steps.back().step;
}

nlohmann::json exit_status_json(const ExitStatus& s) {
  return s.signal != 0 ? nlohmann::json{{"signal", s.signal}} : nlohmann::json{{"code", s.code}};
}

// An exclusive lock on <run_dir>/launch/lock while the supervisor lives: two supervisors of one
// run directory would restart each other's jobs over the same checkpoints.
class RunDirLock {
 public:
  static Result<RunDirLock> take(const fs::path& path) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return os_error("opening", path, errno);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      close(fd);
      if (err == EWOULDBLOCK)
        return Error::invalid("{}: another `symphony launch` supervises this run directory",
                              path.string());
      return os_error("locking", path, err);
    }
    return RunDirLock(fd);
  }
  RunDirLock(RunDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;
  RunDirLock& operator=(RunDirLock&&) = delete;
  ~RunDirLock() {
    if (fd_ >= 0) close(fd_);
  }

 private:
  explicit RunDirLock(int fd) : fd_(fd) {}
  int fd_;
};

// What one attempt did, as the supervisor saw it.
struct AttemptRecord {
  AttemptPlan plan;
  std::vector<int> slots;  // [rank] -> slot
  AttemptObservation observation;
  Clock::time_point started;
  std::optional<Clock::time_point> failed_at;  // the first rank seen ending badly
  Clock::time_point launcher_ended;
  Clock::time_point torn_down;
  std::optional<int64_t> first_step;  // the first training step it completed
  std::optional<Clock::time_point> first_step_at;
  std::optional<int64_t> last_step;
  int64_t checkpoint_step_before = 0;
  bool stop_forwarded = false;
};

// A failure whose "restart" record waits for the next attempt's first step.
struct PendingRestart {
  nlohmann::json record;
  Clock::time_point failed_at;
  int64_t last_step = 0;
};

class Supervisor {
 public:
  explicit Supervisor(const SupervisorOptions& options)
      : options_(options),
        policy_(options.policy, options.world_size),
        metrics_path_(options.run_dir / "metrics.jsonl"),
        launch_dir_(options.run_dir / "launch") {}

  Result<LaunchResult> run();

 private:
  Result<AttemptRecord> run_attempt(const AttemptPlan& plan);
  // After a failed attempt: logs it, charges it to its slots and either ends the supervisor (the
  // result) or prepares the restart (nullopt), updating the world and dp it runs on.
  Result<std::optional<LaunchResult>> after_failure(const AttemptRecord& rec,
                                                    const AttemptJudgement& verdict, int& world,
                                                    int64_t& dp);
  Status finish_restart(const AttemptRecord& rec);
  void watch_ranks(AttemptRecord& rec, std::vector<bool>& local, double now_s);
  void tear_down(AttemptRecord& rec, std::vector<bool>& local);
  Status write(nlohmann::json record) {
    record["time"] = unix_time_s();
    return log_->write(record);
  }
  Result<LaunchResult> end(LaunchEnd end, std::string message, int world_size);
  void say(const std::string& line) {
    fmt::print(options_.log, "symphony launch: {}\n", line);
    std::fflush(options_.log);
  }
  bool stop_requested() const { return options_.stop != nullptr && options_.stop->load(); }

  const SupervisorOptions& options_;
  RestartPolicy policy_;
  fs::path metrics_path_;
  fs::path launch_dir_;
  std::optional<MetricsLog> log_;
  std::optional<PendingRestart> pending_;
  std::string host_ = host_name();
  Clock::time_point began_ = Clock::now();
};

Result<std::optional<LaunchResult>> as_ending(Result<LaunchResult> result) {
  if (!result) return result.error();
  return std::optional<LaunchResult>(std::move(*result));
}

Result<LaunchResult> Supervisor::end(LaunchEnd end, std::string message, int world_size) {
  LaunchResult result{end, policy_.restarts(), world_size, std::move(message)};
  SYM_TRY(write({{"event", "end"},
                 {"outcome", launch_end_name(end)},
                 {"restarts", result.restarts},
                 {"world_size", world_size},
                 {"excluded_slots", policy_.excluded_slots()},
                 {"elapsed_s", seconds_between(began_, Clock::now())},
                 {"message", result.message}}));
  return result;
}

Result<LaunchResult> Supervisor::run() {
  std::error_code ec;
  fs::create_directories(launch_dir_, ec);
  if (ec) return Error::io("{}: cannot create directory: {}", launch_dir_.string(), ec.message());
  SYM_TRY_ASSIGN(RunDirLock lock, RunDirLock::take(launch_dir_ / "lock"));
  // Rank files of an earlier supervisor's attempts would be taken for this one's.
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(launch_dir_, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().starts_with("attempt-")) stale.push_back(it->path());
  for (const fs::path& dir : stale) fs::remove_all(dir, ec);
  SYM_TRY_ASSIGN(MetricsLog log, MetricsLog::open(options_.run_dir / "launch.jsonl"));
  log_.emplace(std::move(log));
  // Ranks orphaned by a launcher that died are re-parented here rather than to init, so the
  // teardown can reap them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  SYM_TRY(write({{"event", "start"},
                 {"world_size", options_.world_size},
                 {"max_restarts", options_.policy.max_restarts},
                 {"backoff_s", options_.policy.backoff_s},
                 {"shrink", options_.policy.shrink == ShrinkMode::kOn},
                 {"global_batch_tokens", options_.global_batch_tokens}}));

  int world = options_.world_size;
  int64_t dp = 0;
  for (int attempt = 1;; ++attempt) {
    AttemptPlan plan{attempt, world, dp, attempt > 1,
                     launch_dir_ / fmt::format("attempt-{}", attempt)};
    SYM_TRY_ASSIGN(AttemptRecord rec, run_attempt(plan));
    const AttemptJudgement verdict = judge_attempt(rec.observation);
    const bool clean = verdict.verdict == AttemptVerdict::kCompleted ||
                       verdict.verdict == AttemptVerdict::kStopped;
    if (stop_requested()) {
      if (clean) {
        say("stopped on request; the ranks saved a checkpoint (to go on, launch the train command "
            "with --resume auto)");
        return end(LaunchEnd::kStopped, "stopped on request; the ranks saved a checkpoint", world);
      }
      return end(LaunchEnd::kInterrupted,
                 fmt::format("stopped on request while the job failed: {}", verdict.description),
                 world);
    }
    switch (verdict.verdict) {
      case AttemptVerdict::kCompleted:
        say(fmt::format("completed after {} restart{}", policy_.restarts(),
                        policy_.restarts() == 1 ? "" : "s"));
        return end(LaunchEnd::kCompleted, "", world);
      case AttemptVerdict::kStopped:
        say("the ranks stopped and saved a checkpoint (a stop signal or --stop-at-step); not "
            "restarting");
        return end(LaunchEnd::kStopped, "the ranks stopped early and saved a checkpoint", world);
      case AttemptVerdict::kBadInput:
        return end(LaunchEnd::kBadInput, verdict.description, world);
      case AttemptVerdict::kFailed:
        break;
    }
    SYM_TRY_ASSIGN(std::optional<LaunchResult> ended, after_failure(rec, verdict, world, dp));
    if (ended) return *ended;
  }
}

Result<std::optional<LaunchResult>> Supervisor::after_failure(const AttemptRecord& rec,
                                                              const AttemptJudgement& verdict,
                                                              int& world, int64_t& dp) {
  const int attempt = rec.plan.attempt;
  // A first launch that fails before any rank has started is the launcher refusing its command
  // line or hosts (too few slots, a bad hostfile): as for bad input, a restart would not help.
  if (attempt == 1 && verdict.kind == "launcher_failed" &&
      std::none_of(rec.observation.ranks.begin(), rec.observation.ranks.end(),
                   [](const RankObservation& r) { return r.start.has_value(); }))
    return as_ending(
        end(LaunchEnd::kBadInput,
            fmt::format("mpirun ended with {} before any rank started (its output above "
                        "says why)",
                        rec.observation.launcher.describe()),
            world));
  // Ranks killed in the teardown of a launcher that died end after it: the failure is its end.
  const Clock::time_point failed_at =
      rec.failed_at ? std::min(*rec.failed_at, rec.launcher_ended) : rec.launcher_ended;
  const int64_t checkpoint_step = newest_checkpoint_step(options_.checkpoint_dir);
  // A checkpoint is committed before its step's metrics line is written: a failure between the
  // two leaves the newest step in the checkpoint only.
  const int64_t last_step = std::max(rec.last_step.value_or(0), checkpoint_step);
  std::vector<int> failed_slots;
  for (int r : verdict.failed_ranks) failed_slots.push_back(rec.slots[size_t(r)]);
  const std::vector<int> excluded =
      policy_.record_failure(verdict.failed_ranks, checkpoint_step > rec.checkpoint_step_before
                                                       ? FailureProgress::kNewCheckpoint
                                                       : FailureProgress::kNone);
  say(
      fmt::format("attempt {} on {} rank{} failed after {:.2f} s: {}; last step {}, newest "
                  "checkpoint step {}",
                  attempt, world, world == 1 ? "" : "s", seconds_between(rec.started, failed_at),
                  verdict.description, last_step, checkpoint_step));
  for (int slot : excluded)
    say(fmt::format("slot {} (rank {} of the first launch) failed {} times: leaving it out", slot,
                    slot, policy_.failures_of(slot)));
  nlohmann::json record = {{"event", "restart"},
                           {"restart", policy_.restarts() + 1},
                           {"failed_attempt", attempt},
                           {"cause", verdict.kind},
                           {"description", verdict.description},
                           {"failed_ranks", verdict.failed_ranks},
                           {"failed_slots", failed_slots},
                           {"launcher_status", exit_status_json(rec.observation.launcher)},
                           {"world_size", world},
                           {"last_step", last_step},
                           {"checkpoint_step", checkpoint_step},
                           // Until the next attempt shows the step it resumed from: the newest
                           // checkpoint, which it will resume from unless that proves invalid.
                           {"steps_lost", last_step - checkpoint_step},
                           {"teardown_s", seconds_between(failed_at, rec.torn_down)},
                           {"excluded_slots", excluded}};
  if (!policy_.may_restart()) {
    SYM_TRY(write(std::move(record)));
    return as_ending(
        end(LaunchEnd::kGaveUp,
            fmt::format("attempt {} failed ({}) and the {} restart{} allowed are used up", attempt,
                        verdict.description, options_.policy.max_restarts,
                        options_.policy.max_restarts == 1 ? "" : "s"),
            world));
  }
  if (options_.policy.shrink == ShrinkMode::kOn) {
    const int available = int(policy_.healthy_slots().size());
    const Result<WorldChoice> choice =
        available > 0 ? choose_world(*options_.config, available, options_.global_batch_tokens)
                      : Result<WorldChoice>(Error::invalid("every slot was left out"));
    if (!choice) {
      SYM_TRY(write(std::move(record)));
      return as_ending(end(LaunchEnd::kGaveUp,
                           fmt::format("no world left to restart on: {}", choice.error().message()),
                           world));
    }
    if (choice->world_size != world)
      say(
          fmt::format("shrinking from {} to {} rank{} (dp = {}, {} micro-batch{} per rank: the "
                      "global batch of {} tokens is kept)",
                      world, choice->world_size, choice->world_size == 1 ? "" : "s", choice->dp,
                      choice->micro_batches, choice->micro_batches == 1 ? "" : "es",
                      options_.global_batch_tokens));
    world = choice->world_size;
    dp = world == options_.world_size ? 0 : choice->dp;
  }
  const double backoff = policy_.backoff_s();
  record["next_world_size"] = world;
  if (dp > 0) record["next_dp"] = dp;
  record["backoff_s"] = backoff;
  say(fmt::format("restart {} of {} in {:.2f} s on {} rank{}, from the newest valid checkpoint",
                  policy_.restarts() + 1, options_.policy.max_restarts, backoff, world,
                  world == 1 ? "" : "s"));
  if (sleep_unless_stopped(backoff, options_.stop, options_.poll_s)) {
    SYM_TRY(write(std::move(record)));
    return as_ending(end(LaunchEnd::kStopped,
                         "stopped on request between attempts; the newest checkpoint stands",
                         world));
  }
  policy_.record_restart();
  pending_ = PendingRestart{std::move(record), failed_at, last_step};
  return std::optional<LaunchResult>();
}

Status Supervisor::finish_restart(const AttemptRecord& rec) {
  nlohmann::json& r = pending_->record;
  r["recovered"] = rec.first_step.has_value();
  if (rec.first_step) {
    const int64_t resumed = *rec.first_step - 1;
    const int64_t lost = std::max<int64_t>(0, pending_->last_step - resumed);
    const double recover_s = seconds_between(pending_->failed_at, *rec.first_step_at);
    r["resumed_step"] = resumed;
    r["steps_lost"] = lost;
    r["recover_s"] = recover_s;
    r["startup_s"] = seconds_between(rec.started, *rec.first_step_at);
    say(
        fmt::format("recovered in {:.2f} s: resumed from step {}, {} step{} lost (step {} was "
                    "reached)",
                    recover_s, resumed, lost, lost == 1 ? "" : "s", pending_->last_step));
  }
  Status written = write(std::move(r));
  pending_.reset();
  return written;
}

Result<AttemptRecord> Supervisor::run_attempt(const AttemptPlan& plan) {
  std::error_code ec;
  fs::remove_all(plan.rank_dir, ec);
  fs::create_directories(plan.rank_dir, ec);
  if (ec) return Error::io("{}: cannot create directory: {}", plan.rank_dir.string(), ec.message());
  AttemptRecord rec;
  rec.plan = plan;
  rec.slots = policy_.slots_for(plan.world_size);
  rec.checkpoint_step_before = newest_checkpoint_step(options_.checkpoint_dir);
  const uint64_t metrics_offset = file_size_or_zero(metrics_path_);
  const std::vector<std::string> argv = options_.command(plan);
  SYM_TRY(write({{"event", "attempt"},
                 {"attempt", plan.attempt},
                 {"world_size", plan.world_size},
                 {"slots", rec.slots},
                 {"metrics_offset", metrics_offset},
                 {"rank_dir", plan.rank_dir.string()},
                 {"command", argv}}));
  rec.observation.ranks.resize(size_t(plan.world_size));
  rec.started = Clock::now();
  SYM_TRY_ASSIGN(ChildProcess launcher, ChildProcess::spawn(argv, SIGTERM));
  MetricsTail tail(metrics_path_, metrics_offset);
  std::vector<bool> local(size_t(plan.world_size), false);
  // An error from here on is returned only after the teardown: no rank may outlive its attempt.
  Status deferred;
  for (;;) {
    const Clock::time_point now = Clock::now();
    watch_ranks(rec, local, seconds_between(rec.started, now));
    for (int64_t step : tail.poll()) {
      if (!rec.first_step) rec.first_step = step, rec.first_step_at = now;
      rec.last_step = std::max(rec.last_step.value_or(step), step);
    }
    if (pending_ && rec.first_step && deferred.is_ok()) deferred = finish_restart(rec);
    if (stop_requested() && !rec.stop_forwarded) {
      bool all_started = true;
      for (const RankObservation& r : rec.observation.ranks) all_started = all_started && r.start;
      if (all_started || rec.failed_at) {
        say("stop requested: asking every rank to save a checkpoint and stop");
        launcher.signal(SIGUSR1);
        rec.stop_forwarded = true;
      }
    }
    if (std::optional<ExitStatus> status = launcher.poll()) {
      rec.launcher_ended = Clock::now();
      rec.observation.launcher = *status;
      rec.observation.launcher_ended_s = seconds_between(rec.started, rec.launcher_ended);
      break;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(options_.poll_s));
  }
  tear_down(rec, local);
  for (int64_t step : tail.poll()) {
    if (!rec.first_step) rec.first_step = step, rec.first_step_at = rec.launcher_ended;
    rec.last_step = std::max(rec.last_step.value_or(step), step);
  }
  if (pending_ && deferred.is_ok()) deferred = finish_restart(rec);
  if (!deferred.is_ok()) return deferred;
  return rec;
}

void Supervisor::watch_ranks(AttemptRecord& rec, std::vector<bool>& local, double now_s) {
  bool failing = false;
  for (size_t r = 0; r < rec.observation.ranks.size(); ++r) {
    RankObservation& o = rec.observation.ranks[r];
    if (!o.start) {
      Result<std::optional<RankStart>> start = read_rank_start(rec.plan.rank_dir, int(r));
      if (!start || !*start) continue;
      o.start = **start;
      local[r] = o.start->host == host_;
    }
    if (!local[r] || o.ended_s || process_running(o.start->process)) continue;
    o.ended_s = now_s;
    Result<std::optional<RankExit>> exit = read_rank_exit(rec.plan.rank_dir, int(r));
    if (exit && *exit) o.exit = **exit;
    if (!o.exit || o.exit->outcome == RankOutcome::kFailed) failing = true;
  }
  if (!failing || rec.failed_at) return;
  rec.failed_at = Clock::now();
  // The job is lost: its other ranks wait in a collective for a peer that is gone.
  for (size_t r = 0; r < rec.observation.ranks.size(); ++r) {
    const RankObservation& o = rec.observation.ranks[r];
    if (local[r] && o.start && !o.ended_s) signal_local_process(o.start->process, SIGKILL);
  }
}

void Supervisor::tear_down(AttemptRecord& rec, std::vector<bool>& local) {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(options_.teardown_timeout_s));
  for (;;) {
    watch_ranks(rec, local, seconds_between(rec.started, Clock::now()));
    bool running = false;
    for (size_t r = 0; r < rec.observation.ranks.size(); ++r) {
      const RankObservation& o = rec.observation.ranks[r];
      if (local[r] && o.start && signal_local_process(o.start->process, SIGKILL)) running = true;
    }
    // Children this process adopted (ranks whose launcher died) are reaped here.
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (!running) break;
    if (Clock::now() >= deadline) {
      say(fmt::format("warning: ranks of attempt {} still run {:.0f} s after SIGKILL",
                      rec.plan.attempt, options_.teardown_timeout_s));
      break;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(options_.poll_s));
  }
  // Exit files written by ranks on other hosts, or just before the launcher ended.
  for (size_t r = 0; r < rec.observation.ranks.size(); ++r) {
    RankObservation& o = rec.observation.ranks[r];
    if (o.exit) continue;
    Result<std::optional<RankExit>> exit = read_rank_exit(rec.plan.rank_dir, int(r));
    if (exit && *exit) o.exit = **exit;
  }
  rec.torn_down = Clock::now();
}

}  // namespace

const char* launch_end_name(LaunchEnd end) {
  switch (end) {
    case LaunchEnd::kCompleted:
      return "completed";
    case LaunchEnd::kStopped:
      return "stopped";
    case LaunchEnd::kInterrupted:
      return "interrupted";
    case LaunchEnd::kBadInput:
      return "bad_input";
    case LaunchEnd::kGaveUp:
      return "gave_up";
  }
  return "gave_up";
}

Result<LaunchResult> supervise(const SupervisorOptions& options) {
  SYM_CHECK(options.world_size >= 1 && options.command, "world size {}", options.world_size);
  SYM_CHECK(options.policy.shrink == ShrinkMode::kOff || options.config != nullptr,
            "shrink needs the config");
  Supervisor supervisor(options);
  return supervisor.run();
}

}  // namespace symphony
