#!/usr/bin/env bash
# `symphony launch --shrink`: a four-rank `tiny` run (train.global_batch_tokens unset: one
# micro-batch per rank, 256 tokens) whose rank 2 is killed (SIGKILL) twice. Checks that
#   - the supervisor leaves slot 2 out after its second failure and restarts on 2 ranks (3 would
#     not split the 4 micro-batches of the global batch), dp = 2, and completes (exit 0) with no
#     process of the job left behind;
#   - every step of every attempt trained on the same global batch of 256 tokens;
#   - the losses after the shrunk restart equal bitwise those of a two-rank run resumed by hand
#     from the same checkpoint with the same global batch.
# Usage: launch_shrink_test.sh SYMPHONY_EXE WORK_DIR MPIRUN
set -euo pipefail
exe=$1 work=$2 mpirun=$3
source "$(dirname "$0")/launch_testing.sh"
prepare_launch_data
steps=24  # room for both kills on a fast machine: each lands a step or two past its poll
common+=(--set checkpoint.every=2 --set checkpoint.keep_last=100 --set train.steps=$steps)
start_ms=$(date +%s%3N)

start_supervisor "$work/shrink" -np 4 --shrink --max-restarts 3 --backoff 0.05
# Kill rank 2 of attempts 1 and 2 once each has trained 3 steps (past a checkpoint).
for i in 1 2; do
  wait_for_ranks "$i" 4
  offset=$(attempt_offset "$i")
  first=$(newest_step 0)
  until [ "$(newest_step "$offset")" -ge $((first + 3)) ]; do
    supervisor_alive || { cat "$run.log"; fail "the supervisor ended before kill $i"; }
    sleep 0.01
  done
  kill -9 "$(rank_pid "$i" 2)"
  echo "kill $i: rank 2 of attempt $i at step $(newest_step "$offset")"
done
status=0; wait "$supervisor" || status=$?
[ "$status" = 0 ] || { cat "$run.log"; fail "the supervisor exited $status"; }
grep -q "shrinking from 4 to 2 ranks" "$run.log" || { cat "$run.log"; fail "no shrink reported"; }
leftover=$(pgrep -f "train.run_dir=$run( |\$)" || true)
[ -z "$leftover" ] || { ps -fp $leftover; fail "processes of the job remain: $leftover"; }

# The checkpoint the two-rank attempt resumed from, and a two-rank run resumed from it by hand.
resumed=$(python3 -c "
import json
log = [json.loads(l) for l in open('$run/launch.jsonl')]
print([r for r in log if r['event'] == 'restart'][-1]['resumed_step'])")
"$mpirun" -np 2 "$exe" train tiny "${common[@]}" --set train.global_batch_tokens=256 \
  --set train.run_dir="$work/by-hand" --resume "$run/checkpoints/$(printf 'step-%08d' "$resumed")" \
  > "$work/by-hand.log" 2>&1 || { cat "$work/by-hand.log"; fail "the run resumed by hand"; }

python3 - "$run" "$work/by-hand" "$steps" <<'PY'
import json, sys
run, by_hand, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = [json.loads(l) for l in open(f"{run}/launch.jsonl")]
attempts = [r for r in log if r["event"] == "attempt"]
restarts = [r for r in log if r["event"] == "restart"]
assert [a["world_size"] for a in attempts] == [4, 4, 2], attempts
assert [r["failed_slots"] for r in restarts] == [[2], [2]], restarts
assert restarts[0]["excluded_slots"] == [] and restarts[1]["excluded_slots"] == [2], restarts
assert restarts[1]["next_world_size"] == 2 and restarts[1]["next_dp"] == 2, restarts[1]
assert attempts[2]["slots"] == [0, 1], attempts[2]
assert log[0]["global_batch_tokens"] == 256 and log[-1]["outcome"] == "completed", (log[0], log[-1])
records = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
steps_seen = [r for r in records if "loss" in r]
assert all(r["tokens"] == r["step"] * 256 for r in steps_seen), "the global batch changed"
# The records of the two-rank attempt start at its metrics offset.
with open(f"{run}/metrics.jsonl", "rb") as f:
    f.seek(attempts[2]["metrics_offset"])
    shrunk = [json.loads(l) for l in f.read().decode().splitlines()]
shrunk = {r["step"]: r["loss"] for r in shrunk if "loss" in r}
hand = {r["step"]: r["loss"] for r in map(json.loads, open(f"{by_hand}/metrics.jsonl")) if "loss" in r}
resumed = restarts[-1]["resumed_step"]
assert sorted(shrunk) == list(range(resumed + 1, steps + 1)) == sorted(hand), (sorted(shrunk), sorted(hand))
bad = [(s, shrunk[s], hand[s]) for s in shrunk if shrunk[s] != hand[s]]
assert not bad, f"the shrunk run differs from the run resumed by hand: {bad[:5]}"
for r in restarts:
    print(f"restart {r['restart']}: slot 2 killed at step {r['last_step']}, resumed from "
          f"{r['resumed_step']} on {r['next_world_size']} ranks, {r['steps_lost']} steps lost, "
          f"recovered in {r['recover_s']:.2f} s")
print(f"ok: 4 -> 2 ranks (dp=2, 2 micro-batches each, 256 tokens a step); steps {resumed + 1}.."
      f"{steps} bitwise equal to the two-rank run resumed by hand from step {resumed}")
PY
echo "ok: the shrink test took $(( ($(date +%s%3N) - start_ms) / 1000 )) s"
