#include "launch/local_process.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

namespace symphony {
namespace {

// Fields 3 (state) and 22 (starttime) of /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may hold spaces and parentheses itself: the fields after it start after the
// last ')'.
struct ProcStat {
  char state = '?';
  uint64_t start_ticks = 0;
};

// The file of a process that ends between open and read fails the read with ESRCH. Read with
// POSIX calls: std::filebuf throws on a read error whatever the stream's exception mask.
std::optional<std::string> read_proc_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buffer[1024];
  for (;;) {
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      close(fd);
      return std::nullopt;
    }
    if (got == 0) break;
    text.append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  return text;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  const std::optional<std::string> file = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  if (!file) return std::nullopt;
  const std::string& text = *file;
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 1));
  ProcStat stat;
  rest >> stat.state;
  std::string skipped;
  for (int field = 4; field < 22; ++field) rest >> skipped;
  rest >> stat.start_ticks;
  if (!rest) return std::nullopt;
  return stat;
}

}  // namespace

std::optional<uint64_t> process_start_ticks(pid_t pid) {
  const std::optional<ProcStat> stat = read_proc_stat(pid);
  if (!stat) return std::nullopt;
  return stat->start_ticks;
}

LocalProcess this_process() {
  const pid_t pid = getpid();
  return {pid, process_start_ticks(pid).value_or(0)};
}

bool process_running(const LocalProcess& process) {
  if (process.pid <= 0) return false;
  const std::optional<ProcStat> stat = read_proc_stat(process.pid);
  return stat && stat->start_ticks == process.start_ticks && stat->state != 'Z' &&
         stat->state != 'X';
}

bool signal_local_process(const LocalProcess& process, int signal) {
  if (!process_running(process)) return false;
  // Only a group the process leads: kill(-pgid) on a group it merely belongs to would reach
  // processes that are none of ours.
  if (getpgid(process.pid) == process.pid) kill(-process.pid, signal);
  kill(process.pid, signal);
  return true;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace symphony
