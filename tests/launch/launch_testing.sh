# Shared by the `symphony launch` tests; sourced after `exe`, `work` and `mpirun` are set.
#   prepare_launch_data          a small prepared dataset in $work/data; sets `common`, the train
#                                options every run of the test shares (add checkpoint and step
#                                settings to it)
#   start_supervisor RUN ARGS..  `symphony launch ARGS... -- train tiny ${common[@]}` into RUN in
#                                the background, output in RUN.log; sets `supervisor` and `run`;
#                                the supervisor is killed if the test exits early
#   wait_for_ranks ATTEMPT N     until ranks 0..N-1 of the attempt have written their pid files
#   attempt_offset ATTEMPT       where the attempt's lines start in metrics.jsonl
#   newest_step OFFSET           the newest step logged after byte OFFSET of metrics.jsonl; 0: none
#   rank_pid ATTEMPT RANK        the pid from the rank's start file
fail() { echo "FAIL: $*"; exit 1; }

prepare_launch_data() {
  rm -rf "$work" && mkdir -p "$work/text"
  local src_dir
  src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  cat "$src_dir"/README.md "$src_dir"/docs/*.md > "$work/all.txt"
  for i in 1 2 3 4; do head -c $((30000 + i * 1000)) "$work/all.txt" > "$work/text/doc$i.txt"; done
  "$exe" data prepare --input "$work/text" --out "$work/data" > /dev/null
  common=(--set "data.datasets=[\"$work/data\"]" --set train.seq_len=32
          --set train.micro_batch_size=2 --set optim.warmup_steps=0 --set train.eval_every=0
          --set checkpoint.async=false --quiet)
}

start_supervisor() {
  run=$1
  shift
  "$exe" launch "$@" --mpirun "$mpirun" -- train tiny "${common[@]}" --set train.run_dir="$run" \
    > "$run.log" 2>&1 &
  supervisor=$!
  # SIGKILL to the supervisor reaches mpirun as SIGTERM (its parent-death signal), which ends
  # the ranks.
  trap 'kill -9 $supervisor 2>/dev/null || true' EXIT
}

supervisor_alive() { kill -0 "$supervisor" 2>/dev/null; }

json_field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

wait_for_ranks() {
  local r
  for r in $(seq 0 $(($2 - 1))); do
    until [ -f "$run/launch/attempt-$1/rank-$r.json" ]; do
      supervisor_alive || { cat "$run.log"; fail "the supervisor ended before attempt $1 started"; }
      sleep 0.02
    done
  done
}

attempt_offset() { grep "^{\"attempt\":$1," "$run/launch.jsonl" | json_field metrics_offset; }

newest_step() {
  local step
  step=$(tail -c +$(($1 + 1)) "$run/metrics.jsonl" 2>/dev/null | grep -o '"step":[0-9]*' \
         | tail -1 | cut -d: -f2 || true)
  echo "${step:-0}"
}

rank_pid() { json_field pid < "$run/launch/attempt-$1/rank-$2.json"; }
