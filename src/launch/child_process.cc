#include "launch/child_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/file_io.h"

namespace symphony {

std::string ExitStatus::describe() const {
  if (signal == 0) return fmt::format("exit code {}", code);
  const char* name = sigabbrev_np(signal);
  return name ? fmt::format("signal {} (SIG{})", signal, name) : fmt::format("signal {}", signal);
}

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                         int parent_death_signal) {
  if (argv.empty()) return Error::invalid("spawn: empty command line");
  // Everything the child needs is prepared before fork(): between fork and exec the child may
  // only make async-signal-safe calls (another thread of this process may hold the allocator's
  // lock at the moment of the fork).
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return os_error("creating a pipe for", argv[0], errno);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(report[0]);
    close(report[1]);
    return os_error("starting", argv[0], err);
  }
  if (pid == 0) {
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP, SIGPIPE, SIGCHLD})
      ::signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    prctl(PR_SET_PDEATHSIG, parent_death_signal);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    execv(args[0], args.data());
    const int err = errno;
    ssize_t ignored = write(report[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }
  close(report[1]);
  // The parent sets the group too: whichever runs first, the group exists before either goes on.
  setpgid(pid, pid);
  int err = 0;
  ssize_t n;
  do {
    n = read(report[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  ChildProcess child(pid);
  if (n == ssize_t(sizeof(err))) {
    int status = 0;
    waitpid(pid, &status, 0);
    child.pid_ = -1;
    return os_error("running", argv[0], err);
  }
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), status_(std::move(other.status_)) {
  other.pid_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0 || status_) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

std::optional<ExitStatus> ChildProcess::poll() {
  if (status_ || pid_ <= 0) return status_;
  // Look without reaping first: until it is reaped the child's pid, and so its process group id,
  // cannot be given to another process, so what is left in its group can be killed safely.
  siginfo_t info{};
  if (waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid_)
    return std::nullopt;
  kill(-pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  ExitStatus s;
  if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
  } else {
    s.code = WEXITSTATUS(status);
  }
  status_ = s;
  return status_;
}

void ChildProcess::signal(int sig) const {
  if (pid_ > 0 && !status_) kill(pid_, sig);
}

void ChildProcess::signal_group(int sig) const {
  if (pid_ > 0 && !status_) kill(-pid_, sig);
}

}  // namespace symphony
