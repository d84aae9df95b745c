#include "launch/attempt_verdict.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace symphony {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

RankObservation started(int rank) {
  RankObservation o;
  o.start = RankStart{rank, 2, {pid_t(1000 + rank), 77}, "node-a"};
  return o;
}

RankObservation exited(int rank, RankOutcome outcome, int code, double at_s,
                       std::string message = "") {
  RankObservation o = started(rank);
  o.exit = RankExit{rank, code, outcome, std::move(message)};
  o.ended_s = at_s;
  return o;
}

RankObservation vanished(int rank, double at_s) {
  RankObservation o = started(rank);
  o.ended_s = at_s;
  return o;
}

TEST(AttemptVerdict, EveryRankDoneIsCompleted) {
  AttemptObservation o{
      {0, 0}, 3.0, {exited(0, RankOutcome::kDone, 0, 2.9), exited(1, RankOutcome::kDone, 0, 2.9)}};
  EXPECT_EQ(judge_attempt(o).verdict, AttemptVerdict::kCompleted);
  // mpirun killed by a late SIGUSR1 after its ranks finished: still completed.
  o.launcher = {0, SIGUSR1};
  EXPECT_EQ(judge_attempt(o).verdict, AttemptVerdict::kCompleted);
}

TEST(AttemptVerdict, AStoppedRankMakesItStopped) {
  const AttemptObservation o{
      {0, 0},
      3.0,
      {exited(0, RankOutcome::kStopped, 0, 2.9), exited(1, RankOutcome::kStopped, 0, 2.9)}};
  EXPECT_EQ(judge_attempt(o).verdict, AttemptVerdict::kStopped);
}

TEST(AttemptVerdict, TheRankThatVanishedFirstIsBlamed) {
  // Rank 1 killed with SIGKILL at 1.5 s; rank 0 killed by the supervisor a poll later.
  const AttemptObservation o{{137, 0}, 1.6, {vanished(0, 1.54), vanished(1, 1.52)}};
  const AttemptJudgement j = judge_attempt(o);
  EXPECT_EQ(j.verdict, AttemptVerdict::kFailed);
  EXPECT_EQ(j.kind, "rank_died");
  EXPECT_THAT(j.failed_ranks, ElementsAre(1));
  EXPECT_THAT(j.description, HasSubstr("rank 1 (pid 1001 on node-a)"));
  EXPECT_THAT(j.description, HasSubstr("killed by signal 9 (SIGKILL)"));
}

TEST(AttemptVerdict, RanksSeenEndingInTheSamePollAreBlamedTogether) {
  const AttemptObservation o{{137, 0}, 1.6, {vanished(0, 1.5), vanished(1, 1.5)}};
  EXPECT_THAT(judge_attempt(o).failed_ranks, ElementsAre(0, 1));
}

TEST(AttemptVerdict, TheWatchdogNamesTheHungRank) {
  const std::string message =
      "rank 0: watchdog: all_reduce (collective #12 of group 'world', 2 ranks) did not complete "
      "within 3 s on rank 0; ranks that did not arrive: 1 [no answer from rank(s) 1: dead, "
      "stopped or unreachable]; arrived: 0. World ranks; raise parallel.timeout_s if a rank is "
      "legitimately slower";
  // Rank 0 reports and aborts; the hung rank 1 is killed after it.
  const AttemptObservation o{
      {1, 0}, 4.0, {exited(0, RankOutcome::kFailed, 1, 3.5, message), vanished(1, 3.9)}};
  const AttemptJudgement j = judge_attempt(o);
  EXPECT_EQ(j.kind, "watchdog");
  EXPECT_THAT(j.failed_ranks, ElementsAre(1));
  EXPECT_THAT(j.description, HasSubstr("the watchdog of rank 0"));
}

TEST(AttemptVerdict, AnErrorWithoutWatchdogBlamesTheRankItself) {
  const AttemptObservation o{
      {1, 0}, 4.0, {started(0), exited(1, RankOutcome::kFailed, 1, 2.0, "step 7: loss is nan")}};
  const AttemptJudgement j = judge_attempt(o);
  EXPECT_EQ(j.kind, "rank_error");
  EXPECT_THAT(j.failed_ranks, ElementsAre(1));
  EXPECT_THAT(j.description, HasSubstr("loss is nan"));
}

TEST(AttemptVerdict, ExitCodeTwoIsBadInput) {
  const AttemptObservation o{
      {2, 0},
      1.0,
      {exited(0, RankOutcome::kFailed, 2, 0.9, "data/x.tok: No such file or directory"),
       vanished(1, 0.95)}};
  const AttemptJudgement j = judge_attempt(o);
  EXPECT_EQ(j.verdict, AttemptVerdict::kBadInput);
  EXPECT_THAT(j.description, HasSubstr("data/x.tok"));
}

TEST(AttemptVerdict, ALauncherThatDiesFirstIsTheCause) {
  // mpirun killed with SIGKILL; its ranks are killed in the teardown after it.
  AttemptObservation o{{0, 9}, 2.0, {vanished(0, 2.1), vanished(1, 2.1)}};
  AttemptJudgement j = judge_attempt(o);
  EXPECT_EQ(j.kind, "launcher_died");
  EXPECT_TRUE(j.failed_ranks.empty());
  // No rank ever started: the launcher failed by itself.
  o = {{1, 0}, 0.5, {RankObservation{}, RankObservation{}}};
  j = judge_attempt(o);
  EXPECT_EQ(j.kind, "launcher_failed");
  EXPECT_THAT(j.description, HasSubstr("exit code 1"));
}

TEST(AttemptVerdict, WatchdogMessagesAreParsed) {
  EXPECT_THAT(watchdog_missing_ranks("watchdog: x; ranks that did not arrive: 1, 3 [rank 1 has "
                                     "started 4 of them]"),
              ElementsAre(1, 3));
  EXPECT_TRUE(watchdog_missing_ranks("watchdog: x; ranks that did not arrive: none (all "
                                     "arrived; the operation itself stalled)")
                  .empty());
  EXPECT_TRUE(watchdog_missing_ranks("ranks that did not arrive: 1").empty());  // not a watchdog
}

}  // namespace
}  // namespace symphony
