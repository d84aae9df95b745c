#include "core/stop_signals.h"

#include <fmt/format.h>
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/check.h"

namespace symphony {
namespace {

// The flag of the live StopSignals, for the fallback handler below.
std::atomic<std::atomic<bool>*> g_requested{nullptr};

// Runs only on a thread that existed before StopSignals blocked the signals (a BLAS library may
// start its workers when it is loaded); every later thread has them blocked. It only sets the flag
// (lock-free, async-signal-safe), so a stop signal delivered there still stops the run cleanly
// instead of terminating the process.
extern "C" void fallback_stop_handler(int) {
  std::atomic<bool>* requested = g_requested.load();
  if (requested != nullptr) requested->store(true);
}

}  // namespace

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGUSR1);
  const int rc = pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  SYM_CHECK(rc == 0, "pthread_sigmask: {}", std::strerror(rc));
  g_requested.store(&requested_);
  struct sigaction action {};
  action.sa_handler = fallback_stop_handler;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGTERM, SIGINT, SIGUSR1}) sigaction(signal, &action, nullptr);
  thread_ = std::thread([this] { receive_loop(); });
}

StopSignals::~StopSignals() {
  g_requested.store(nullptr);
  closing_.store(true);
  // A signal aimed at the thread itself is pending on it alone, so its sigwait() returns.
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

void StopSignals::receive_loop() {
  for (;;) {
    int signal = 0;
    if (sigwait(&set_, &signal) != 0) continue;
    if (closing_.load()) return;
    if (!requested_.exchange(true)) {
      first_signal_.store(signal);
      fmt::print(stderr,
                 "\nreceived SIG{}: stopping after the current step and saving a checkpoint\n",
                 sigabbrev_np(signal));
      std::fflush(stderr);
    } else if (signal == SIGINT) {
      std::fputs("\nsecond SIGINT: exiting without saving\n", stderr);
      std::_Exit(130);
    }
  }
}

}  // namespace symphony
