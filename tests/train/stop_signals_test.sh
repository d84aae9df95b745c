#!/usr/bin/env bash
# Stop signals at random moments of real `symphony train` runs, with the prefetching loader and
# asynchronous checkpoints on and checkpoint.every = 0 (the stop save is the only one):
#   1. 20 single-process runs get SIGTERM (a few SIGINT or SIGUSR1) at a random moment: each
#      exits 0, and resuming it (--resume auto) ends with weights bitwise equal to a run that was
#      never stopped;
#   2. 10 two-rank runs: SIGTERM to every rank (what Slurm's scancel does), SIGTERM to one rank
#      only, or SIGUSR1 to mpirun (which forwards it to the ranks): mpirun exits 0 and resuming
#      ends bitwise equal to an uninterrupted two-rank run;
#   3. SIGTERM to mpirun itself: the ranks save within mpirun's grace time
#      (OMPI_MCA_odls_base_sigkill_timeout), and the run resumes.
# Usage: stop_signals_test.sh SYMPHONY_EXE WORK_DIR MPIRUN [SINGLE_RUNS] [RANK_RUNS]
set -euo pipefail
exe=$1 work=$2 mpirun=$3 single_runs=${4:-20} rank_runs=${5:-10}
rm -rf "$work" && mkdir -p "$work/text"
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
cat "$src_dir"/README.md "$src_dir"/docs/*.md > "$work/all.txt"
for i in $(seq 1 24); do head -c $((20000 + i * 1000)) "$work/all.txt" > "$work/text/doc$i.txt"; done
"$exe" data prepare --input "$work/text" --out "$work/data" --val-fraction 0.25 > /dev/null
steps=40
common=(--set "data.datasets=[\"$work/data\"]" --set train.seq_len=32 --set train.micro_batch_size=2
        --set train.global_batch_tokens=128 --set optim.warmup_steps=0 --set train.eval_every=10
        --set train.eval_batches=2 --set data.prefetch_depth=2 --set checkpoint.async=true
        --set checkpoint.every=0 --set train.steps=$steps --quiet)
fail() { echo "FAIL: $*"; exit 1; }
RANDOM=$$
# A random delay in seconds, from 0.2 s to $1 ms.
random_delay() { local ms=$((200 + RANDOM % ($1 - 200))); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }
now_ms() { date +%s%3N; }
# True when two model files hold the same tensors, bit for bit (the metadata names the run
# directory, so it differs).
same_weights() {
  python3 - "$1" "$2" <<'PY'
import json, struct, sys
def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    return header, data[8 + n:]
sys.exit(0 if tensors(sys.argv[1]) == tensors(sys.argv[2]) else 1)
PY
}

# Checks one stopped run: status 0; when it stopped early, the message and a resume that ends
# bitwise equal to the reference. $1 run dir, $2 status, $3 reference model, $4.. launcher.
check_stopped_run() {
  local run=$1 status=$2 reference=$3
  shift 3
  [ "$status" = 0 ] || { cat "$run.log"; fail "$run: exit status $status after the signal"; }
  if grep -q "stopped after step" "$run.log"; then
    "$@" "$exe" train tiny "${common[@]}" --set train.run_dir="$run" --resume auto \
      > "$run.resume.log" 2>&1 || { cat "$run.log" "$run.resume.log"; fail "$run: resume failed"; }
    grep -q "resuming from" "$run.resume.log" || { cat "$run.resume.log"; fail "$run: did not resume"; }
    outcome="stopped after step $(sed -n 's/.*stopped after step \([0-9]*\).*/\1/p' "$run.log" | tail -1), resumed"
  else
    outcome="finished before the signal took effect"
  fi
  same_weights "$run/model.safetensors" "$reference" || fail "$run: final weights differ from the uninterrupted run"
}

# 1. One process.
start=$(now_ms)
"$exe" train tiny "${common[@]}" --set train.run_dir="$work/ref" > "$work/ref.log" 2>&1 \
  || { cat "$work/ref.log"; fail "reference run"; }
duration_ms=$(( $(now_ms) - start ))
for i in $(seq 1 "$single_runs"); do
  case $((i % 10)) in 3) signal=INT ;; 7) signal=USR1 ;; *) signal=TERM ;; esac
  run="$work/single-$i" delay=$(random_delay "$duration_ms")
  "$exe" train tiny "${common[@]}" --set train.run_dir="$run" > "$run.log" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -s "$signal" "$pid" 2>/dev/null || true
  status=0; wait "$pid" || status=$?
  check_stopped_run "$run" "$status" "$work/ref/model.safetensors"
  echo "ok: SIG$signal at +${delay}s: exit 0, $outcome, bitwise equal"
done

# 2. Two ranks.
launch=("$mpirun" --oversubscribe -np 2)
start=$(now_ms)
"${launch[@]}" "$exe" train tiny "${common[@]}" --set train.run_dir="$work/ref2" > "$work/ref2.log" 2>&1 \
  || { cat "$work/ref2.log"; fail "two-rank reference run"; }
duration_ms=$(( $(now_ms) - start ))
# The pids of the ranks of the job whose run directory is $1.
rank_pids() {
  for p in $(pgrep -f "train.run_dir=$1\$" || true); do
    tr '\0' '\n' 2>/dev/null < /proc/$p/environ | grep -q "^OMPI_COMM_WORLD_RANK=" && echo "$p"
  done
  return 0
}
for i in $(seq 1 "$rank_runs"); do
  run="$work/ranks-$i" delay=$(random_delay "$duration_ms")
  "${launch[@]}" "$exe" train tiny "${common[@]}" --set train.run_dir="$run" > "$run.log" 2>&1 &
  job=$!
  sleep "$delay"
  pids=$(rank_pids "$run")
  case $((i % 3)) in
    0) what="SIGTERM to every rank"; [ -z "$pids" ] || kill -TERM $pids 2>/dev/null || true ;;
    1) what="SIGTERM to one rank"; [ -z "$pids" ] || kill -TERM $(echo "$pids" | shuf -n1) 2>/dev/null || true ;;
    2) what="SIGUSR1 to mpirun"; kill -USR1 "$job" 2>/dev/null || true ;;
  esac
  status=0; wait "$job" || status=$?
  # mpirun itself has no SIGUSR1 handler left once its ranks have finished: a signal that comes
  # that late ends mpirun (status 138) after a run that completed.
  if [ "$status" = 138 ] && [ $((i % 3)) = 2 ] && grep -q "^done: final loss" "$run.log"; then
    status=0
  fi
  check_stopped_run "$run" "$status" "$work/ref2/model.safetensors" "${launch[@]}"
  echo "ok: $what at +${delay}s: mpirun exit 0, $outcome, bitwise equal"
done

# 3. SIGTERM to mpirun: OpenMPI 4.1's mpirun passes SIGTERM on to the ranks, kills them
#    odls_base_sigkill_timeout seconds later, and exits 1 whatever the ranks did.
run="$work/mpirun-term"
OMPI_MCA_odls_base_sigkill_timeout=5 "${launch[@]}" "$exe" train tiny "${common[@]}" \
  --set train.steps=100000 --set train.run_dir="$run" > "$run.log" 2>&1 &
job=$!
sleep 3
kill -TERM "$job"
status=0; wait "$job" || status=$?
grep -q "stopped after step" "$run.log" || { cat "$run.log"; fail "SIGTERM to mpirun: the ranks did not save"; }
saved=$(sed -n 's/.*stopped after step \([0-9]*\).*/\1/p' "$run.log" | tail -1)
"${launch[@]}" "$exe" train tiny "${common[@]}" --set train.steps=$((saved + 2)) \
  --set train.run_dir="$run" --resume auto > "$run.resume.log" 2>&1 \
  || { cat "$run.resume.log"; fail "the run stopped by SIGTERM to mpirun does not resume"; }
grep -q "resuming from .*(step $saved" "$run.resume.log" || { cat "$run.resume.log"; fail "did not resume from step $saved"; }
echo "ok: SIGTERM to mpirun: the ranks saved step $saved (mpirun exit $status) and the run resumed"
