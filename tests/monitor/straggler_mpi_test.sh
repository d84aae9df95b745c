#!/usr/bin/env bash
# A rank slowed on purpose is found: two ranks train `tiny` while rank 1 busy-waits 60% of its
# compute time at the end of every step (the test knob monitor.debug_slow_rank /
# monitor.debug_slow_factor). With windows of 5 steps and 3 slow windows in a row, the straggler
# detector must name rank 1 (its host and pid, phase compute) in the log and in metrics.jsonl
# within 50 steps and must not name rank 0; over the run, the per-rank rows show rank 1 computing
# longer and rank 0 waiting for it. The rule's 30%-in-50-steps and no-false-alarm figures over
# many noisy runs are tested on synthetic timings (straggler_detector_test.cc): on 2 shared cores
# a step of a few milliseconds is too noisy for a 30% slowdown to show reliably in every run
# (named in 8 of 9 runs at load <= 3), so this end-to-end run slows rank 1 by 60%.
# Usage: straggler_mpi_test.sh SYMPHONY_EXE WORK_DIR MPIRUN
set -euo pipefail
exe=$1 work=$2 mpirun=$3
rm -rf "$work" && mkdir -p "$work/text"
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
for i in 1 2 3 4; do cat "$src_dir"/README.md "$src_dir"/docs/*.md > "$work/text/doc$i.txt"; done
"$exe" data prepare --input "$work/text" --out "$work/data" --val-fraction 0 > /dev/null
fail() { echo "FAIL: $*"; exit 1; }

steps=50
start=$(date +%s%3N)
"$mpirun" --oversubscribe -np 2 "$exe" train tiny --set "data.datasets=[\"$work/data\"]" \
  --set train.seq_len=64 --set train.micro_batch_size=8 --set optim.warmup_steps=0 \
  --set train.eval_every=0 --set train.steps=$steps --set monitor.rank_stats_every=5 \
  --set monitor.debug_slow_rank=1 --set monitor.debug_slow_factor=0.6 \
  --set train.run_dir="$work/run" --quiet > "$work/train.log" 2>&1 \
  || { cat "$work/train.log"; fail "the 2-rank run with a slowed rank"; }
echo "2-rank run of $steps steps: $(( $(date +%s%3N) - start )) ms"
grep '^straggler: rank 1 (host .*, pid [0-9]*) is slow in compute' "$work/train.log" \
  || { cat "$work/train.log"; fail "the log does not name rank 1"; }
! grep -q '^straggler: rank 0' "$work/train.log" || fail "healthy rank 0 named a straggler"

python3 - "$work/run/metrics.jsonl" "$steps" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
steps = int(sys.argv[2])
alarms = [r for r in records if "straggler" in r]
assert alarms, "no straggler record in metrics.jsonl"
first = alarms[0]
s = first["straggler"]
assert s["rank"] == 1 and s["phase"] == "compute", first
assert s["host"] and s["pid"] > 0, first
assert first["step"] <= 50, f"named only at step {first['step']}"
assert all(a["straggler"]["rank"] == 1 for a in alarms), alarms
assert first["straggler_count"] == 1, first
rows = [r for r in records if "rank_times" in r]
assert len(rows) == 2 * (steps // 5), len(rows)
pids = {r["rank"]: r["pid"] for r in rows}
assert pids[1] == s["pid"], (pids, s)
# Over the run, rank 1 computed longer and rank 0 waited longer (for rank 1).
compute = [sum(r["rank_times"]["compute_s"] for r in rows if r["rank"] == q) for q in (0, 1)]
waits = [sum(sum(r["rank_times"]["comm_wait_s"].values()) for r in rows if r["rank"] == q)
         for q in (0, 1)]
assert compute[1] > compute[0] and waits[0] > waits[1], (compute, waits)
assert not any(r["named_straggler"] for r in rows if r["rank"] == 0)
windows = len(rows) // 2
print(f"ok: rank 1 named at step {first['step']} (slowed from step 1; windows of 5 steps); "
      f"mean compute {compute[0] / windows * 1e3:.2f} / {compute[1] / windows * 1e3:.2f} ms, "
      f"waits {waits[0] / windows * 1e3:.2f} / {waits[1] / windows * 1e3:.2f} ms per step on "
      f"ranks 0 / 1")
PY
