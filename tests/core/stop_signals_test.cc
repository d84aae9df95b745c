#include "core/stop_signals.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace symphony {
namespace {

// Waits up to 5 s for the flag.
bool becomes_true(const std::atomic<bool>& flag) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!flag.load()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

bool blocked_in_this_thread(int signal) {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, signal) == 1;
}

// Each test runs in a child process: StopSignals changes the process's signal mask and
// dispositions for good, and a test that fails must not leave the runner killable by SIGTERM
// alone. The child's exit status carries the verdict.
template <typename Body>
void in_child(Body body) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(body());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "check " << WEXITSTATUS(status) << " failed in the child";
}

TEST(StopSignals, SigtermToTheProcessRequestsAStop) {
  in_child([] {
    StopSignals signals;
    if (signals.requested().load()) return 1;
    kill(getpid(), SIGTERM);
    if (!becomes_true(signals.requested())) return 2;
    if (signals.first_signal() != SIGTERM) return 3;
    // A second SIGTERM is ignored: the process goes on.
    kill(getpid(), SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return 0;
  });
}

TEST(StopSignals, Sigusr1RequestsAStop) {
  in_child([] {
    StopSignals signals;
    kill(getpid(), SIGUSR1);
    if (!becomes_true(signals.requested())) return 1;
    return signals.first_signal() == SIGUSR1 ? 0 : 2;
  });
}

TEST(StopSignals, ThreadsStartedLaterHaveTheSignalsBlocked) {
  in_child([] {
    StopSignals signals;
    bool blocked = false;
    std::thread worker([&] {
      blocked = blocked_in_this_thread(SIGTERM) && blocked_in_this_thread(SIGINT) &&
                blocked_in_this_thread(SIGUSR1);
    });
    worker.join();
    if (!blocked) return 1;
    // With busy workers about, a signal to the process is still received by the watcher.
    std::atomic<bool> done{false};
    std::thread busy([&] {
      while (!done.load()) std::this_thread::yield();
    });
    kill(getpid(), SIGTERM);
    const bool seen = becomes_true(signals.requested());
    done.store(true);
    busy.join();
    return seen ? 0 : 2;
  });
}

TEST(StopSignals, SecondSigintExitsAtOnceWith130) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    StopSignals signals;
    kill(getpid(), SIGINT);
    if (!becomes_true(signals.requested())) _exit(1);
    kill(getpid(), SIGINT);
    std::this_thread::sleep_for(std::chrono::seconds(5));
    _exit(2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
}

TEST(StopSignals, AThreadThatExistedBeforeStillOnlySetsTheFlag) {
  in_child([] {
    // This thread starts with the signals unblocked, as a BLAS library's worker loaded early.
    std::atomic<bool> done{false};
    std::atomic<bool> ready{false};
    pthread_t early_handle{};
    std::thread early([&] {
      early_handle = pthread_self();
      ready.store(true);
      while (!done.load()) std::this_thread::yield();
    });
    while (!ready.load()) std::this_thread::yield();
    bool seen = false;
    {
      StopSignals signals;
      pthread_kill(early_handle, SIGTERM);  // lands on the unblocked thread: the fallback handler
      seen = becomes_true(signals.requested());
    }
    done.store(true);
    early.join();
    return seen ? 0 : 1;
  });
}

}  // namespace
}  // namespace symphony
