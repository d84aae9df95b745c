#pragma once
// supervise(): runs a training job under its launcher (mpirun) and, when the job fails, starts it
// again from its newest valid checkpoint (`train --resume auto`), until it completes, a retry
// limit is reached, or it is stopped. docs/launch.md describes it for users.
//
// One attempt:
//   1. a fresh directory <run_dir>/launch/attempt-<k>/ for the ranks' files
//      (launch/rank_files.h), and an "attempt" record in <run_dir>/launch.jsonl;
//   2. the launcher, started by options.command (launch/child_process.h: own process group,
//      SIGTERM should the supervisor die);
//   3. every poll_s: the ranks' start files (pid, host), whether each local rank still runs
//      (launch/local_process.h), the training steps appended to metrics.jsonl
//      (launch/metrics_tail.h). A rank that ends without an exit file, or with a failure, fails
//      the attempt at once: the other local ranks are killed (SIGKILL) rather than left waiting in
//      a collective for a peer that is gone, and the launcher then ends;
//   4. teardown: whatever the launcher left in its process group, and every local rank still
//      running, is killed and waited for (up to teardown_timeout_s), so no rank of a failed
//      attempt is alive when the next starts; orphans adopted by the supervisor (it is a child
//      subreaper) are reaped;
//   5. the verdict (launch/attempt_verdict.h): completed, stopped, bad input, or failed.
// A failure is charged to the slots of the ranks blamed, and the job restarts after a back-off on
// the world the policy allows (launch/restart_policy.h; with shrink, launch/world_choice.h).
// Each restart is reported on options.log and as a "restart" record: the cause, the launcher's
// status, the ranks and slots blamed, the last step reached, the step resumed from, the steps
// lost, and the time to recover (from the failure to the first step of the next attempt), written
// once the next attempt has run its first step or ended.
//
// A stop request (*options.stop becomes true: SIGTERM, SIGINT or SIGUSR1 to the supervisor) is
// passed to the job as SIGUSR1 to the launcher, which OpenMPI forwards to every rank, once every
// rank has started (so each handles it: core/stop_signals.h); the ranks save a checkpoint and
// exit, and nothing is restarted. During a back-off it ends the supervisor at once.
//
// Thread-safety: call from one thread; nothing else may wait for this process's children.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/status.h"
#include "launch/restart_policy.h"

namespace symphony {

struct AttemptPlan {
  int attempt = 1;  // 1 for the first launch
  int world_size = 1;
  int64_t dp = 0;                  // parallel.dp the attempt must set; 0: the config's own
  bool restart = false;            // resume from the newest valid checkpoint
  std::filesystem::path rank_dir;  // `train --launch-dir`
};

struct SupervisorOptions {
  int world_size = 1;  // of the first attempt
  RestartPolicyOptions policy;
  // The job's resolved config, for the world of a shrunk restart; must outlive supervise().
  const RunConfig* config = nullptr;
  int64_t global_batch_tokens = 0;       // the global batch every world keeps (shrink)
  std::filesystem::path run_dir;         // launch.jsonl, launch/, metrics.jsonl
  std::filesystem::path checkpoint_dir;  // the job's checkpoints (newest step: steps lost)
  // The launcher's command line for an attempt: argv[0] a path.
  std::function<std::vector<std::string>(const AttemptPlan&)> command;
  const std::atomic<bool>* stop = nullptr;
  std::FILE* log = stderr;
  double poll_s = 0.02;
  double teardown_timeout_s = 30;
};

enum class LaunchEnd : uint8_t {
  kCompleted,    // the job trained to train.steps
  kStopped,      // stopped and saved (a stop request, or ranks stopped from outside)
  kInterrupted,  // a stop request while the job was failing: it could not save
  kBadInput,     // a rank refused its config or data (exit code 2), or the first launch failed
                 // before any rank started: not restarted
  kGaveUp,       // failed with no restart left, or no world left to run on
};
// "completed", "stopped", "interrupted", "bad_input", "gave_up"
const char* launch_end_name(LaunchEnd end);

struct LaunchResult {
  LaunchEnd end = LaunchEnd::kCompleted;
  int restarts = 0;
  int world_size = 0;   // of the last attempt
  std::string message;  // why, for every end but kCompleted
};

// Failure: what keeps the supervisor itself from working: the run directory or launch.jsonl
// cannot be written, another supervisor holds <run_dir>/launch/lock, the launcher cannot be
// started (kNotFound/kIo naming it).
Result<LaunchResult> supervise(const SupervisorOptions& options);

}  // namespace symphony
