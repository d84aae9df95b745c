#pragma once
// ChildProcess: a program this process started and waits for, the way a supervisor needs it:
//   - it runs in a new process group of its own, so a Ctrl-C at the terminal reaches the
//     supervisor alone, which decides what the job gets;
//   - it starts with an empty signal mask and default dispositions (the supervisor blocks its
//     stop signals: core/stop_signals.h), this process's environment and standard streams;
//   - it gets `parent_death_signal` if the thread that started it dies first, so a supervisor
//     killed with SIGKILL does not leave its job running unwatched.
// Thread-safety: one owner thread.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace symphony {

// How a process ended: an exit code, or the signal that killed it.
struct ExitStatus {
  int code = 0;    // valid when signal == 0
  int signal = 0;  // non-zero: killed by this signal
  bool success() const { return signal == 0 && code == 0; }
  // "exit code 2", "signal 9 (SIGKILL)"
  std::string describe() const;
};

class ChildProcess {
 public:
  // Starts argv[0] (a path, not searched for) with `argv`. Failure: kNotFound/kIo naming the
  // program when it cannot be started (fork, or exec: the reason comes back through a pipe).
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv, int parent_death_signal);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  // A child still running is killed (SIGKILL to its group) and reaped.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Reaps the child if it has ended, after killing (SIGKILL) whatever it left running in its
  // process group; nullopt while it runs. Never blocks.
  std::optional<ExitStatus> poll();
  // Sends `sig` to the child (not its group). No effect once it has been reaped.
  void signal(int sig) const;
  // Sends `sig` to the child's process group: whatever it started there. Only before the child
  // is reaped: until then its pid, and so its group id, cannot be reused.
  void signal_group(int sig) const;
  // The status once poll() has seen the child end.
  const std::optional<ExitStatus>& status() const { return status_; }

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

}  // namespace symphony
