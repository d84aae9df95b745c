#!/usr/bin/env bash
# Straggler detection on real ranks: two ranks train `tiny`, and from step HEALTHY + 1 (11) on
# rank 1 is slowed by 60% (the test knob: it busy-waits 0.6 times its compute at the end of every
# step). With the default windows (monitor.rank_stats_every = 10 steps, 3 slow windows in a row)
# the detector must name rank 1 (its host and pid, phase compute), in the log and in
# metrics.jsonl, within 50 steps of the slowdown, and must never name rank 0.
# The two ranks share the machine's two cores, so the rule's floor is the one for shared cores,
# monitor.straggler_min_excess = 0.2 (docs/monitoring.md). Such a machine also slows a healthy
# rank now and then, by up to a half for 30 steps: a 30% slowdown shows there as anything from
# 16% to 50% over 50 steps and was named within 50 steps in 31 of 36 runs (docs/monitoring.md),
# too few for a test that must not fail by chance, so this one slows rank 1 by 60%, and the
# healthy steps are not asserted free of alarms. One exception is checked, not assumed: when rank
# 0 is itself held up by more than 20% in the windows after the slowdown, rank 1 is not slower
# than its only peer for those windows and is named later; the test then requires that to show
# in rank 0's own compute times and rank 1 named within 100 steps, and says so.
# Usage: straggler_mpi_test.sh SYMPHONY_EXE WORK_DIR MPIRUN [HEALTHY_STEPS]
set -euo pipefail
exe=$1 work=$2 mpirun=$3 healthy=${4:-10}
rm -rf "$work" && mkdir -p "$work/text"
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
for i in 1 2 3 4; do cat "$src_dir"/README.md "$src_dir"/docs/*.md > "$work/text/doc$i.txt"; done
"$exe" data prepare --input "$work/text" --out "$work/data" --val-fraction 0 > /dev/null
fail() { echo "FAIL: $*"; exit 1; }

steps=$((healthy + 100))
start=$(date +%s%3N)
"$mpirun" --oversubscribe -np 2 "$exe" train tiny --set "data.datasets=[\"$work/data\"]" \
  --set train.seq_len=64 --set train.micro_batch_size=8 --set optim.warmup_steps=0 \
  --set train.eval_every=0 --set train.steps=$steps --set monitor.straggler_min_excess=0.2 \
  --set monitor.debug_slow_rank=1 --set monitor.debug_slow_factor=0.6 \
  --set monitor.debug_slow_from_step=$((healthy + 1)) \
  --set train.run_dir="$work/run" --quiet > "$work/train.log" 2>&1 \
  || { cat "$work/train.log"; fail "the 2-rank run with a slowed rank"; }
echo "2-rank run of $steps steps: $(( $(date +%s%3N) - start )) ms"
grep '^straggler: rank 1 (host .*, pid [0-9]*) is slow in compute' "$work/train.log" \
  || { cat "$work/train.log"; fail "the log does not name rank 1"; }
! grep -q '^straggler: rank 0' "$work/train.log" || fail "healthy rank 0 named a straggler"

python3 - "$work/run/metrics.jsonl" "$healthy" "$steps" <<'PY'
import json, statistics, sys
records = [json.loads(line) for line in open(sys.argv[1])]
healthy, steps = int(sys.argv[2]), int(sys.argv[3])
alarms = [r for r in records if "straggler" in r]
assert alarms, "no straggler record in metrics.jsonl"
first = alarms[0]
s = first["straggler"]
assert s["rank"] == 1 and s["phase"] == "compute", first
assert s["host"] and s["pid"] > 0, first
assert all(a["straggler"]["rank"] == 1 for a in alarms), alarms
assert first["straggler_count"] == 1, first
rows = [r for r in records if "rank_times" in r]
assert len(rows) == 2 * (steps // 10), len(rows)
pids = {r["rank"]: r["pid"] for r in rows}
assert pids[1] == s["pid"], (pids, s)
compute = {(r["step"], r["rank"]): r["rank_times"]["compute_s"] for r in rows}
windows = sorted({r["step"] for r in rows})
after = [w for w in windows if w > healthy]
ratio = lambda w: compute[(w, 1)] / compute[(w, 0)]
base0 = statistics.median(compute[(w, 0)] for w in windows)
late = first["step"] - healthy
print(f"slowed from step {healthy + 1}: rank 1 / rank 0 compute per window "
      + " ".join(f"{ratio(w):.2f}" for w in windows))
if late > 50:
    held = [w for w in after if w <= first["step"] and compute[(w, 0)] > 1.2 * base0]
    assert held and late <= 100, (f"rank 1 named only {late} steps after the slowdown, and "
                                  f"rank 0 was not held up meanwhile")
    print(f"rank 0 itself ran {max(compute[(w, 0)] for w in held) / base0 - 1:.0%} slower than "
          f"its median in windows {held}: rank 1 was named {late} steps after the slowdown")
# While slowed, rank 1 computed longer and rank 0 waited longer (for rank 1).
waits = {q: sum(sum(r["rank_times"]["comm_wait_s"].values()) for r in rows
                if r["rank"] == q and r["step"] in after) for q in (0, 1)}
assert sum(compute[(w, 1)] for w in after) > sum(compute[(w, 0)] for w in after)
assert waits[0] > waits[1], waits
assert not any(r["named_straggler"] for r in rows if r["rank"] == 0)
when = f"{late} steps after" if late >= 0 else f"{-late} steps before"
print(f"ok: rank 1 named at step {first['step']}, {when} its slowdown (windows of 10 steps)")
PY
