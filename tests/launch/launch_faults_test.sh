#!/usr/bin/env bash
# `symphony launch` against real failures: a two-rank `tiny` run with a checkpoint every 2 steps is
# killed KILLS times (default 10): each time a rank picked at random, found through the pid files
# the ranks write for the supervisor, gets SIGKILL at a random moment (a random step of the
# attempt, 0 to 3 steps after the checkpoint it resumed from, plus 0 to 150 ms; step 0 kills it
# while it starts). Checks that
#   - the supervisor completes the run (exit 0) after exactly KILLS restarts, each blamed on the
#     rank that was killed, and leaves no process of the job behind;
#   - every loss in metrics.jsonl, the steps re-run after each resume included, equals bitwise the
#     loss of the same step in an uninterrupted two-rank run, and so do the final weights;
#   - each failure lost at most one checkpoint interval (2 steps; the checkpoints are synchronous);
#   - each restart reports its time to recover (printed).
# Usage: launch_faults_test.sh SYMPHONY_EXE WORK_DIR MPIRUN [KILLS] [SEED]
set -euo pipefail
exe=$1 work=$2 mpirun=$3 kills=${4:-10} seed=${5:-16}
source "$(dirname "$0")/launch_testing.sh"
prepare_launch_data
# Ten steps per kill: on a fast machine an attempt runs up to 7 steps past its checkpoint before
# the kill lands (the random pause and the polling), and the run must outlast the last kill.
every=2 steps=$((kills * 10))
common+=(--set checkpoint.every=$every --set checkpoint.keep_last=2 --set train.steps=$steps)
RANDOM=$seed
start_ms=$(date +%s%3N)

"$mpirun" -np 2 "$exe" train tiny "${common[@]}" --set train.run_dir="$work/ref" > "$work/ref.log" 2>&1 \
  || { cat "$work/ref.log"; fail "uninterrupted run"; }

start_supervisor "$work/sup" -np 2 --max-restarts $((kills + 2)) --backoff 0.05
for i in $(seq 1 "$kills"); do
  wait_for_ranks "$i" 2
  offset=$(attempt_offset "$i")
  newest=$(ls "$run/checkpoints" 2>/dev/null | sed -n 's/^step-0*\([0-9][0-9]*\)$/\1/p' | sort -n | tail -1 || true)
  target=$(( ${newest:-0} + RANDOM % 4 ))
  [ "$target" -lt "$steps" ] || fail "kill $i: the run is too short for $kills kills"
  while [ "$target" -gt "${newest:-0}" ] && [ "$(newest_step "$offset")" -lt "$target" ]; do
    supervisor_alive || { cat "$run.log"; fail "the supervisor ended before kill $i"; }
    sleep 0.01
  done
  sleep "0.$(printf '%03d' $((RANDOM % 150)))"
  rank=$((RANDOM % 2))
  pid=$(rank_pid "$i" "$rank")
  kill -9 "$pid" || fail "kill $i: rank $rank (pid $pid) was not running"
  echo "kill $i: rank $rank (pid $pid) at step $(newest_step "$offset") (target $target)"
  echo "$rank" >> "$work/killed_ranks"
done
status=0; wait "$supervisor" || status=$?
[ "$status" = 0 ] || { cat "$run.log"; fail "the supervisor exited $status"; }
leftover=$(pgrep -f "train.run_dir=$run( |\$)" || true)
[ -z "$leftover" ] || { ps -fp $leftover; fail "processes of the job remain: $leftover"; }

python3 - "$work" "$steps" "$every" "$kills" <<'PY'
import json, struct, sys
work, steps, every, kills = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def losses(path):
    out = []
    for line in open(path):
        r = json.loads(line)
        if "loss" in r: out.append((r["step"], r["loss"]))
    return out
ref = dict(losses(f"{work}/ref/metrics.jsonl"))
got = losses(f"{work}/sup/metrics.jsonl")
log = [json.loads(l) for l in open(f"{work}/sup/launch.jsonl")]
restarts = [r for r in log if r["event"] == "restart"]
# The trainer writes a step's metrics line before it saves the step's checkpoint, so every step
# has a loss line, whatever moment a rank was killed.
missing = set(range(1, steps + 1)) - set(s for s, _ in got)
assert not missing, f"steps without a loss line: {sorted(missing)}"
bad = [(s, l, ref[s]) for s, l in got if l != ref[s]]
assert not bad, f"losses differ from the uninterrupted run: {bad[:5]}"
rerun = len(got) - steps
killed = [int(x) for x in open(f"{work}/killed_ranks")]
assert len(restarts) == kills, f"{len(restarts)} restarts for {kills} kills"
assert log[-1]["event"] == "end" and log[-1]["outcome"] == "completed", log[-1]
for r, rank in zip(restarts, killed):
    assert r["cause"] == "rank_died" and r["failed_ranks"] == [rank], (r, rank)
    assert r["steps_lost"] <= every, f"restart {r['restart']} lost {r['steps_lost']} steps"
    if not r["recovered"]:  # killed again before its first step
        print(f"restart {r['restart']}: rank {rank} killed at step {r['last_step']}, "
              f"{r['steps_lost']} lost; the next attempt was killed while it started")
        continue
    print(f"restart {r['restart']}: rank {rank} killed at step {r['last_step']}, resumed from "
          f"{r['resumed_step']}, {r['steps_lost']} lost; recovered in {r['recover_s']:.2f} s "
          f"(teardown {r['teardown_s']:.2f} s, start-up and first step {r['startup_s']:.2f} s)")
rec = [r["recover_s"] for r in restarts if r["recovered"]]
lost = [r["steps_lost"] for r in restarts]
print(f"ok: {kills} kills, {rerun} steps re-run, all {len(got)} losses bitwise equal to the "
      f"uninterrupted run, every step with its loss line; steps lost per failure max {max(lost)} (interval {every}), mean "
      f"{sum(lost)/len(lost):.1f}; time to recover mean {sum(rec)/len(rec):.2f} s, max {max(rec):.2f} s")
def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n]); header.pop("__metadata__", None)
    return header, data[8 + n:]
assert tensors(f"{work}/sup/model.safetensors") == tensors(f"{work}/ref/model.safetensors"), \
    "final weights differ"
print("ok: final weights bitwise equal")
PY
echo "ok: the fault-injection test took $(( ($(date +%s%3N) - start_ms) / 1000 )) s"
