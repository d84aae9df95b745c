#pragma once
// StopSignals: turns SIGTERM, SIGINT and SIGUSR1 into a stop request that the training loop polls,
// without ever running a signal handler.
//
// The constructor blocks the three signals in the calling thread; every thread started after it
// (OpenMP workers, MPI's progress threads, the data prefetcher, the checkpoint writer) inherits the
// mask, and one dedicated thread receives them with sigwait(). So no signal frame is ever pushed on
// a thread that happens to run library code with an unusual stack (oneDNN's JIT GEMM moves its stack
// pointer into heap memory; a handler that interrupts it writes its frame over the heap), and
// nothing async-signal-unsafe can be interrupted: correct whatever code is running.
//
// Construct it on the main thread before any other thread exists (first thing in a command); a
// thread that already existed (a BLAS library may start workers when it is loaded) gets a handler
// that only sets the flag. While
// it lives:
//   - the first SIGTERM, SIGINT or SIGUSR1 sets requested() and prints one line to stderr;
//   - a second SIGINT (Ctrl-C twice) ends the process at once with status 130;
//   - later SIGTERM/SIGUSR1 are noted and ignored: the save in progress finishes.
// The destructor stops the receiving thread; the signals stay blocked, so one arriving during the
// process's last moments is discarded instead of killing it halfway through its shutdown.

#include <atomic>
#include <csignal>
#include <thread>

namespace symphony {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Becomes true at the first stop signal; never goes back to false.
  const std::atomic<bool>& requested() const { return requested_; }
  // The first signal received (SIGTERM, SIGINT or SIGUSR1); 0 when none.
  int first_signal() const { return first_signal_.load(); }

 private:
  void receive_loop();

  sigset_t set_{};
  std::atomic<bool> requested_{false};
  std::atomic<int> first_signal_{0};
  std::atomic<bool> closing_{false};
  std::thread thread_;
};

}  // namespace symphony
