#include "launch/child_process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "launch/local_process.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;

ExitStatus wait_for(ChildProcess& child) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    if (std::optional<ExitStatus> s = child.poll()) return *s;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "the child did not end";
  return {};
}

TEST(ChildProcess, ReportsExitCodesAndSignals) {
  Result<ChildProcess> exits = ChildProcess::spawn({"/bin/sh", "-c", "exit 3"}, SIGTERM);
  ASSERT_TRUE(exits.has_value()) << exits.error().message();
  EXPECT_EQ(wait_for(*exits).code, 3);
  Result<ChildProcess> killed = ChildProcess::spawn({"/bin/sh", "-c", "kill -9 $$"}, SIGTERM);
  ASSERT_TRUE(killed.has_value());
  const ExitStatus s = wait_for(*killed);
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_EQ(s.describe(), "signal 9 (SIGKILL)");
}

TEST(ChildProcess, AMissingProgramIsNamed) {
  Result<ChildProcess> missing = ChildProcess::spawn({"/no/such/mpirun", "-np", "2"}, SIGTERM);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("/no/such/mpirun"));
}

TEST(ChildProcess, RunsInItsOwnGroupWhichDiesWithIt) {
  testkit::TempDir dir("child_process");
  const std::string pid_file = (dir / "sleeper.pid").string();
  // The child leaves a sleeper in its process group and exits.
  Result<ChildProcess> child = ChildProcess::spawn(
      {"/bin/sh", "-c", "sleep 60 & echo $! > " + pid_file + "; exit 0"}, SIGTERM);
  ASSERT_TRUE(child.has_value());
  EXPECT_EQ(getpgid(child->pid()), child->pid());
  EXPECT_TRUE(wait_for(*child).success());
  const pid_t sleeper = pid_t(std::stol(testkit::read_file_bytes(pid_file)));
  // Killed by poll(); reaped by init (or this test's parent) soon after.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (kill(sleeper, 0) == 0 && process_start_ticks(sleeper) &&
         process_running({sleeper, process_start_ticks(sleeper).value_or(0)}) &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const std::optional<uint64_t> ticks = process_start_ticks(sleeper);
  EXPECT_FALSE(ticks && process_running({sleeper, *ticks}));
}

TEST(ChildProcess, TheDestructorKillsARunningChild) {
  pid_t pid = 0;
  LocalProcess process;
  {
    Result<ChildProcess> child = ChildProcess::spawn({"/bin/sleep", "60"}, SIGTERM);
    ASSERT_TRUE(child.has_value());
    pid = child->pid();
    process = {pid, process_start_ticks(pid).value_or(0)};
    EXPECT_TRUE(process_running(process));
  }
  EXPECT_FALSE(process_running(process));
}

TEST(LocalProcess, AnotherStartTimeIsAnotherProcess) {
  const LocalProcess me = this_process();
  EXPECT_TRUE(process_running(me));
  EXPECT_FALSE(process_running({me.pid, me.start_ticks + 1}));
  EXPECT_FALSE(signal_local_process({me.pid, me.start_ticks + 1}, SIGKILL));
}

// A process reaped between the open and the read of its /proc/<pid>/stat fails the read (ESRCH),
// as a rank does when mpirun reaps it while the supervisor looks: not running, and nothing
// throws. Children that exit at once, reaped by another thread while this one watches them,
// hit that window many times a second.
TEST(LocalProcess, AProcessReapedWhileItIsReadIsNotRunning) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  int children = 0;
  while (std::chrono::steady_clock::now() < until) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(0);
    ++children;
    const LocalProcess child{pid, process_start_ticks(pid).value_or(0)};
    std::jthread reaper([pid] {
      int status = 0;
      waitpid(pid, &status, 0);
    });
    while (process_running(child)) {
    }
    reaper.join();
    EXPECT_FALSE(process_running(child));
  }
  EXPECT_GT(children, 0);
}

}  // namespace
}  // namespace symphony
