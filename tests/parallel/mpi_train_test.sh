#!/usr/bin/env bash
# End-to-end multi-rank runs of `symphony train` under mpirun:
#   1. two ranks with ZeRO-3 train and write the run directory (tiny, and deepseek-v3-tiny, whose
#      model file evaluates in one process);
#   2. a hung rank (SIGSTOP) is caught by the watchdog: the job ends non-zero, the error comes
#      when the timeout is reached and names the rank that did not arrive;
#   3. a killed rank (SIGKILL) ends the whole job non-zero.
# Usage: mpi_train_test.sh SYMPHONY_EXE WORK_DIR MPIRUN
set -euo pipefail
exe=$1 work=$2 mpirun=$3
rm -rf "$work" && mkdir -p "$work/text"
# Some real text to train on: the repository's own documentation, repeated.
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
for i in 1 2 3 4 5 6 7 8; do cat "$src_dir"/README.md "$src_dir"/docs/*.md > "$work/text/doc$i.txt"; done
"$exe" data prepare --input "$work/text" --out "$work/data" > /dev/null
common=(--set "data.datasets=[\"$work/data\"]"
        --set train.seq_len=32 --set train.micro_batch_size=2 --set optim.warmup_steps=0
        --set train.eval_every=0 --quiet)
launch=("$mpirun" --oversubscribe -np 2)

fail() { echo "FAIL: $*"; exit 1; }

# 1. A short ZeRO-3 run.
"${launch[@]}" "$exe" train tiny "${common[@]}" --set train.steps=4 --set parallel.zero_stage=3 \
  --set train.run_dir="$work/run-zero3" > "$work/zero3.log" 2>&1 || { cat "$work/zero3.log"; fail "2-rank ZeRO-3 run"; }
grep -q '"layout":"dp=2 zero=3"' "$work/run-zero3/metrics.jsonl" || fail "metrics.jsonl lacks the layout"
[ -s "$work/run-zero3/model.safetensors" ] || fail "no model file"
echo "ok: 2-rank ZeRO-3 run"

# 1a. The deepseek-v3-tiny preset (MLA, sigmoid group-limited routing, one MTP module), with
# gradients reduced in bf16: the MTP loss is reported, and the model file loads and evaluates in
# one process.
"${launch[@]}" "$exe" train deepseek-v3-tiny "${common[@]}" --set train.steps=4 \
  --set parallel.zero_stage=3 --set parallel.grad_dtype=bf16 --set train.run_dir="$work/run-ds" \
  > "$work/ds.log" 2>&1 || { cat "$work/ds.log"; fail "2-rank ZeRO-3 deepseek-v3-tiny run"; }
grep -q '"mtp_loss":' "$work/run-ds/metrics.jsonl" || fail "deepseek-v3-tiny: metrics.jsonl lacks the MTP loss"
grep -q '"grad_dtype":"bf16"' "$work/run-ds/metrics.jsonl" || fail "metrics.jsonl lacks grad_dtype"
"$exe" eval "$work/run-ds/model.safetensors" --data "$work/data" --seq-len 32 --batches 2 \
  > "$work/ds-eval.log" 2>&1 || { cat "$work/ds-eval.log"; fail "the deepseek-v3-tiny model file does not evaluate in one process"; }
echo "ok: 2-rank ZeRO-3 deepseek-v3-tiny run, model file evaluated in one process"

# 1b. Expert parallelism: each rank holds half the experts and exchanges tokens; the model file
# (gathered over the ep group) holds every expert and loads in one process.
"${launch[@]}" "$exe" train tiny "${common[@]}" --set train.steps=4 --set parallel.ep=2 \
  --set parallel.zero_stage=1 --set train.run_dir="$work/run-ep2" > "$work/ep2.log" 2>&1 || { cat "$work/ep2.log"; fail "2-rank ep=2 run"; }
grep -q '"layout":"dp=2 ep=2 zero=1"' "$work/run-ep2/metrics.jsonl" || fail "metrics.jsonl lacks the ep layout"
grep -q '"all_to_all_s"' "$work/run-ep2/metrics.jsonl" || fail "metrics.jsonl lacks the all-to-all time"
"$exe" eval "$work/run-ep2/model.safetensors" --data "$work/data" --seq-len 32 --batches 2 \
  > "$work/ep2-eval.log" 2>&1 || { cat "$work/ep2-eval.log"; fail "the ep=2 model file does not evaluate in one process"; }
# Full recomputation runs each MoE layer's exchange again in the backward pass: same losses, bit
# for bit.
"${launch[@]}" "$exe" train tiny "${common[@]}" --set train.steps=4 --set parallel.ep=2 \
  --set parallel.zero_stage=1 --set train.recompute=full --set train.run_dir="$work/run-ep2-full" \
  > "$work/ep2-full.log" 2>&1 || { cat "$work/ep2-full.log"; fail "2-rank ep=2 run with recomputation"; }
losses() { grep -o '"loss":[0-9.e+-]*' "$1/metrics.jsonl"; }
[ "$(losses "$work/run-ep2")" = "$(losses "$work/run-ep2-full")" ] || fail "ep=2 losses differ with train.recompute = full"
echo "ok: 2-rank ep=2 run, model file evaluated in one process, recomputation bitwise equal"

# 1c. Tensor and sequence parallelism with expert parallelism folded over the same two ranks:
# the model file (blocks gathered over tp and ep) loads in one process, and full recomputation
# gives the same losses bit for bit.
"${launch[@]}" "$exe" train tiny "${common[@]}" --set train.steps=4 --set parallel.tp=2 \
  --set parallel.ep=2 --set parallel.zero_stage=1 --set train.run_dir="$work/run-tp2" \
  > "$work/tp2.log" 2>&1 || { cat "$work/tp2.log"; fail "2-rank tp=2 ep=2 run"; }
grep -q '"layout":"tp=2 ep=2 zero=1"' "$work/run-tp2/metrics.jsonl" || fail "metrics.jsonl lacks the tp layout"
grep -q '"tensor_comm_s"' "$work/run-tp2/metrics.jsonl" || fail "metrics.jsonl lacks the tensor-parallel time"
"$exe" eval "$work/run-tp2/model.safetensors" --data "$work/data" --seq-len 32 --batches 2 \
  > "$work/tp2-eval.log" 2>&1 || { cat "$work/tp2-eval.log"; fail "the tp=2 model file does not evaluate in one process"; }
"${launch[@]}" "$exe" train tiny "${common[@]}" --set train.steps=4 --set parallel.tp=2 \
  --set parallel.ep=2 --set parallel.zero_stage=1 --set train.recompute=full \
  --set train.run_dir="$work/run-tp2-full" > "$work/tp2-full.log" 2>&1 || { cat "$work/tp2-full.log"; fail "2-rank tp=2 run with recomputation"; }
[ "$(losses "$work/run-tp2")" = "$(losses "$work/run-tp2-full")" ] || fail "tp=2 losses differ with train.recompute = full"
echo "ok: 2-rank tp=2 ep=2 run, model file evaluated in one process, recomputation bitwise equal"
# The same run with bf16 GEMMs (the vocabulary-parallel loss and the tp row chunks included):
# the metrics name the precision and each step's loss is within 5% of the fp32 run's.
"${launch[@]}" "$exe" train tiny "${common[@]}" --set train.steps=4 --set parallel.tp=2 \
  --set parallel.ep=2 --set parallel.zero_stage=1 --set train.precision=bf16 \
  --set train.run_dir="$work/run-tp2-bf16" > "$work/tp2-bf16.log" 2>&1 || { cat "$work/tp2-bf16.log"; fail "2-rank tp=2 bf16 run"; }
grep -q '"precision":"bf16"' "$work/run-tp2-bf16/metrics.jsonl" || fail "metrics.jsonl lacks the precision"
paste <(losses "$work/run-tp2" | cut -d: -f2) <(losses "$work/run-tp2-bf16" | cut -d: -f2) |
  awk '{ n++; d = $1 - $2; if (d < 0) d = -d; if (d > 0.05 * $1) bad = 1 } END { exit (n == 4 && !bad) ? 0 : 1 }' \
  || fail "bf16 tp=2 losses are not within 5% of the fp32 run's"
echo "ok: 2-rank tp=2 ep=2 bf16 run within 5% of fp32"
# FP8 (blockwise scaling) data parallel against one process on the same global batch, dense (no
# routing to part): ZeRO-1 and ZeRO-3 bitwise equal; step 0 equal to one process's; later steps
# within 2e-3 relative. FP8 rounding is discontinuous: a gradient summed in another order moves a
# block's amax, hence its scale and the rounding of every value in the block, so differences of
# 1e-8 grow to a few 1e-4 within a few steps (fp32: 1e-8 throughout), still well under FP8's
# own effect on the loss (fp8 against fp32: a few 1e-3).
fp8=(--set train.steps=6 --set train.precision=fp8 --set train.global_batch_tokens=128
     --set model.num_experts=0)
for z in 1 3; do
  "${launch[@]}" "$exe" train tiny "${common[@]}" "${fp8[@]}" --set parallel.zero_stage=$z \
    --set train.run_dir="$work/run-fp8-z$z" > "$work/fp8-z$z.log" 2>&1 || { cat "$work/fp8-z$z.log"; fail "2-rank ZeRO-$z fp8 run"; }
done
"$exe" train tiny "${common[@]}" "${fp8[@]}" --set train.run_dir="$work/run-fp8-one" \
  > "$work/fp8-one.log" 2>&1 || { cat "$work/fp8-one.log"; fail "one-process fp8 run"; }
[ "$(losses "$work/run-fp8-z1")" = "$(losses "$work/run-fp8-z3")" ] || fail "fp8 ZeRO-1 and ZeRO-3 losses differ"
paste <(losses "$work/run-fp8-z1" | cut -d: -f2) <(losses "$work/run-fp8-one" | cut -d: -f2) |
  awk '{ n++; d = $1 - $2; if (d < 0) d = -d; if (d > (n == 1 ? 1e-12 : 2e-3) * $2) bad = 1 }
       END { exit (n == 6 && !bad) ? 0 : 1 }' \
  || fail "fp8 dp=2 losses do not follow one process's"
echo "ok: 2-rank fp8 runs (ZeRO-1, ZeRO-3) follow one process on the same global batch"

# 1d. Pipeline parallelism (ZB-H1 over two stages, 4 micro-batches per step, evaluation through
# both stages): the metrics carry the measured and analytic bubble, the trace of one step is
# written, the model file (gathered over the stages) scores in one process exactly the run's last
# eval loss, and GPipe gives the same losses bit for bit.
pp=(--set parallel.pp=2 --set train.global_batch_tokens=256 --set train.steps=4
    --set train.eval_every=4 --set train.eval_batches=2)
"${launch[@]}" "$exe" train tiny "${common[@]}" "${pp[@]}" --set parallel.pp_schedule=zb-h1 \
  --set train.trace_steps=1 --set train.run_dir="$work/run-pp2" > "$work/pp2.log" 2>&1 \
  || { cat "$work/pp2.log"; fail "2-rank pp=2 run"; }
grep -q '"layout":"pp=2"' "$work/run-pp2/metrics.jsonl" || fail "metrics.jsonl lacks the pp layout"
grep -q '"pipeline_bubble_analytic"' "$work/run-pp2/metrics.jsonl" || fail "metrics.jsonl lacks the bubble"
grep -q '"pipeline_bubble_replayed"' "$work/run-pp2/metrics.jsonl" || fail "metrics.jsonl lacks the replayed bubble"
[ -s "$work/run-pp2/pipeline_trace/step_2.json" ] && [ -s "$work/run-pp2/pipeline_trace/step_2.svg" ] \
  || fail "no pipeline trace of step 2"
grep -q '"backward_weight"' "$work/run-pp2/pipeline_trace/step_2.json" || fail "the ZB-H1 trace has no W pass"
eval_loss=$(sed -n 's/.*"eval_loss":\([^,}]*\).*/\1/p' "$work/run-pp2/metrics.jsonl" | tail -1)
"$exe" eval "$work/run-pp2/model.safetensors" --data "$work/data" --seq-len 32 --batch-size 2 \
  --batches 2 --json > "$work/pp2-eval.json" 2> "$work/pp2-eval.log" \
  || { cat "$work/pp2-eval.log"; fail "the pp=2 model file does not evaluate in one process"; }
grep -q "\"loss\":$eval_loss[,}]" "$work/pp2-eval.json" \
  || fail "the pp=2 model file scores $(cat "$work/pp2-eval.json"), the run's eval loss was $eval_loss"
"${launch[@]}" "$exe" train tiny "${common[@]}" "${pp[@]}" --set parallel.pp_schedule=gpipe \
  --set train.run_dir="$work/run-pp2-gpipe" > "$work/pp2-gpipe.log" 2>&1 \
  || { cat "$work/pp2-gpipe.log"; fail "2-rank pp=2 GPipe run"; }
[ "$(losses "$work/run-pp2")" = "$(losses "$work/run-pp2-gpipe")" ] || fail "pp=2 losses differ between ZB-H1 and GPipe"
echo "ok: 2-rank pp=2 run (ZB-H1), trace written, model file scores the eval loss in one process, GPipe bitwise equal"
# With bf16 GEMMs and the SwiGLU activations saved in bf16 (restored before each backward pass,
# ZB-H1's deferred weight gradients included): ZB-H1 and GPipe still bitwise equal, each step
# within 5% of the fp32 run's.
for schedule in zb-h1 gpipe; do
  "${launch[@]}" "$exe" train tiny "${common[@]}" "${pp[@]}" --set parallel.pp_schedule=$schedule \
    --set train.precision=bf16 --set train.run_dir="$work/run-pp2-bf16-$schedule" \
    > "$work/pp2-bf16-$schedule.log" 2>&1 \
    || { cat "$work/pp2-bf16-$schedule.log"; fail "2-rank pp=2 $schedule bf16 run"; }
done
[ "$(losses "$work/run-pp2-bf16-zb-h1")" = "$(losses "$work/run-pp2-bf16-gpipe")" ] \
  || fail "bf16 pp=2 losses differ between ZB-H1 and GPipe"
paste <(losses "$work/run-pp2" | cut -d: -f2) <(losses "$work/run-pp2-bf16-zb-h1" | cut -d: -f2) |
  awk '{ n++; d = $1 - $2; if (d < 0) d = -d; if (d > 0.05 * $1) bad = 1 } END { exit (n == 4 && !bad) ? 0 : 1 }' \
  || fail "bf16 pp=2 losses are not within 5% of the fp32 run's"
echo "ok: 2-rank pp=2 bf16 runs, ZB-H1 and GPipe bitwise equal, within 5% of fp32"

# The pid of world rank $1 of the running job whose run directory is $2.
rank_pid() {
  for p in $(pgrep -f "$2" || true); do
    if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
      echo "$p"; return 0
    fi
  done
  return 1
}

# Starts a long run in the background; waits until it has logged a step.
start_long_run() {
  local run=$1
  "${launch[@]}" "$exe" train tiny "${common[@]}" --set train.steps=100000 \
    --set parallel.timeout_s=3 --set train.run_dir="$run" > "$run.log" 2>&1 &
  job=$!
  for _ in $(seq 1 300); do
    [ -s "$run/metrics.jsonl" ] && return 0
    sleep 0.1
  done
  cat "$run.log"; fail "the run did not start"
}

# Waits up to $1 seconds for the background job; sets status.
wait_job() {
  for _ in $(seq 1 $(($1 * 10))); do
    if ! kill -0 "$job" 2>/dev/null; then
      set +e; wait "$job"; status=$?; set -e
      return 0
    fi
    sleep 0.1
  done
  kill -9 "$job" 2>/dev/null || true
  fail "the job still runs after $1 s"
}

# 2. Hang rank 1.
start_long_run "$work/run-hang"
pid=$(rank_pid 1 "$work/run-hang") || fail "rank 1 not found"
kill -STOP "$pid"
wait_job 60
kill -9 "$pid" 2>/dev/null || true
[ "$status" -ne 0 ] || fail "the job exited 0 with a hung rank"
grep -q "watchdog" "$work/run-hang.log" || { cat "$work/run-hang.log"; fail "no watchdog error"; }
grep -q "ranks that did not arrive: 1" "$work/run-hang.log" || { cat "$work/run-hang.log"; fail "the error does not name rank 1"; }
# The error comes when parallel.timeout_s is reached, the diagnosis included.
grep -q "did not complete within 3 s" "$work/run-hang.log" || { cat "$work/run-hang.log"; fail "the watchdog fired later than parallel.timeout_s"; }
echo "ok: hung rank named by the watchdog, job exited $status"

# 3. Kill rank 1.
start_long_run "$work/run-kill"
pid=$(rank_pid 1 "$work/run-kill") || fail "rank 1 not found"
kill -9 "$pid"
wait_job 60
[ "$status" -ne 0 ] || fail "the job exited 0 with a killed rank"
echo "ok: killed rank ended the job, exit $status"
