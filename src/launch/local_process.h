#pragma once
// LocalProcess: a process of this host named by its pid and its start time, so that a pid the
// kernel has since given to another process is never mistaken for it (or signalled). The start
// time is field 22 of /proc/<pid>/stat, in clock ticks since boot.
// Thread-safety: the functions share no state.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace symphony {

struct LocalProcess {
  pid_t pid = 0;
  uint64_t start_ticks = 0;
};

// The start time of `pid`; nullopt when no such process exists (or /proc is unreadable).
std::optional<uint64_t> process_start_ticks(pid_t pid);

// This process.
LocalProcess this_process();

// True while `process` runs: its pid exists, has the same start time and is not a zombie.
bool process_running(const LocalProcess& process);

// Sends `signal` to the process group `process` leads (OpenMPI starts every rank as the leader of
// its own group, so helpers a rank started go too) and to the process itself, only while it runs.
// Returns false when it was no longer running.
bool signal_local_process(const LocalProcess& process, int signal);

// This host's name, as gethostname() gives it; "" when unknown.
std::string host_name();

}  // namespace symphony
