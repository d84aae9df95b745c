#!/usr/bin/env bash
# Checkpoints of real `symphony train` processes:
#   1. kill -9 at several moments of a run that saves every step: the newest checkpoint left
#      verifies, and --resume auto finishes the run;
#   2. SIGTERM: the run saves a checkpoint, says so and exits 0; resuming continues from it;
#   3. a write failure while saving (file size limit, as on a full disk): the run fails naming
#      the file, the earlier checkpoint stays valid and the failed one leaves no step directory;
#   4. two ranks save (ZeRO-2; and ep=2 with ZeRO-3), one process resumes; `ckpt inspect` reports
#      the layout, its dp, ep and ZeRO stage; a checkpoint of two pipeline stages (pp=2) is
#      inspected (pp reported), exported (`ckpt export-hf`) and evaluated (`eval`) by one process,
#      like the model file the same run wrote;
#   5. `ckpt export-hf` of a checkpoint step directory equals that of the model file;
#   6. resuming on data prepared with another tokenizer is refused;
#   7. invalid checkpoints (manifest removed; step (4 -> 2, 4 -> 999) or loader position edited,
#      failing the manifest's checksum; a manifest in another step's directory): --resume PATH
#      exits 2 naming the path and the reason and moves nothing; --resume auto warns, moves the
#      checkpoint aside, falls back, saves that step again and exits 0.
# Usage: ckpt_cli_test.sh SYMPHONY_EXE WORK_DIR MPIRUN
set -euo pipefail
exe=$1 work=$2 mpirun=$3
rm -rf "$work" && mkdir -p "$work/text"
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
for i in 1 2 3 4; do cat "$src_dir"/README.md "$src_dir"/docs/*.md > "$work/text/doc$i.txt"; done
"$exe" data prepare --input "$work/text" --out "$work/data" > /dev/null
common=(--set "data.datasets=[\"$work/data\"]" --set train.seq_len=32 --set train.micro_batch_size=2
        --set train.global_batch_tokens=128 --set optim.warmup_steps=0 --set train.eval_every=0
        --quiet)
fail() { echo "FAIL: $*"; exit 1; }
newest() { ls -d "$1"/step-* 2>/dev/null | sort | tail -1; }

# 1. kill -9 during a run that checkpoints every step.
for delay in 0.7 1.3 2.1; do
  run="$work/kill-$delay"
  "$exe" train tiny "${common[@]}" --set train.steps=100000 --set checkpoint.every=1 \
    --set checkpoint.keep_last=2 --set train.run_dir="$run" > "$run.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -e "$run/checkpoints/latest" ] && break; sleep 0.1; done
  sleep "$delay"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  last=$(newest "$run/checkpoints")
  [ -n "$last" ] || fail "kill at +$delay s: no checkpoint"
  "$exe" ckpt inspect "$last" > "$run.inspect" || { cat "$run.inspect"; fail "kill at +$delay s: $last does not verify"; }
  step=$(basename "$last" | sed 's/step-0*//')
  "$exe" train tiny "${common[@]}" --set train.steps=$((step + 2)) --set checkpoint.every=1 \
    --set checkpoint.keep_last=2 --set train.run_dir="$run" --resume auto > "$run.resume.log" 2>&1 \
    || { cat "$run.resume.log"; fail "kill at +$delay s: resume failed"; }
  grep -q "resuming from .*step-0*$step (step $step" "$run.resume.log" || { cat "$run.resume.log"; fail "did not resume from step $step"; }
  echo "ok: killed at +$delay s after the first save; step $step verified and resumed"
done

# 2. SIGTERM saves and exits cleanly.
run="$work/term"
"$exe" train tiny "${common[@]}" --set train.steps=100000 --set train.run_dir="$run" > "$run.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$run/metrics.jsonl" ] && break; sleep 0.1; done
kill -TERM "$pid"
status=0; wait "$pid" || status=$?
[ "$status" = 0 ] || { cat "$run.log"; fail "SIGTERM: exit status $status"; }
grep -q "stopped after step .*continue with --resume auto" "$run.log" || { cat "$run.log"; fail "SIGTERM: no message"; }
last=$(newest "$run/checkpoints")
"$exe" ckpt inspect "$last" > /dev/null || fail "SIGTERM checkpoint does not verify"
echo "ok: SIGTERM saved $(basename "$last") and exited 0"

# 3. A failed write leaves the previous checkpoint usable.
run="$work/full"
"$exe" train tiny "${common[@]}" --set train.steps=6 --set checkpoint.every=2 --stop-at-step 2 \
  --set train.run_dir="$run" > "$run.log" 2>&1 || fail "first part of the write-failure run"
status=0
( trap '' XFSZ; ulimit -f 4096; exec "$exe" train tiny "${common[@]}" --set train.steps=6 \
    --set checkpoint.every=2 --set train.run_dir="$run" --resume auto ) > "$run.fail.log" 2>&1 || status=$?
[ "$status" != 0 ] || fail "a save beyond the file size limit succeeded"
grep -q "rank00000.safetensors.tmp: File too large" "$run.fail.log" || { cat "$run.fail.log"; fail "the error does not name the file"; }
[ "$(ls -d "$run"/checkpoints/step-* | xargs -n1 basename | tr '\n' ' ')" = "step-00000002 " ] \
  || { ls -la "$run/checkpoints"; fail "the failed save left a step directory"; }
"$exe" ckpt inspect "$run/checkpoints/step-00000002" > /dev/null || fail "the earlier checkpoint no longer verifies"
"$exe" train tiny "${common[@]}" --set train.steps=6 --set checkpoint.every=2 --set train.run_dir="$run" \
  --resume auto > "$run.resume.log" 2>&1 || { cat "$run.resume.log"; fail "resume after the failed save"; }
echo "ok: a failed save named the file and kept step-00000002 usable"

# 4. Two ranks save, one process resumes.
run="$work/ranks"
"$mpirun" --oversubscribe -np 2 "$exe" train tiny "${common[@]}" --set train.steps=6 \
  --set parallel.zero_stage=2 --stop-at-step 3 --set train.run_dir="$run" > "$run.log" 2>&1 \
  || { cat "$run.log"; fail "2-rank run"; }
"$exe" ckpt inspect "$run" > "$run.inspect" || { cat "$run.inspect"; fail "inspect of the 2-rank checkpoint"; }
grep -q "dp=2 zero=2 (2 ranks; dp 2, ep 1, ZeRO stage 2)" "$run.inspect" || { cat "$run.inspect"; fail "inspect does not report the layout"; }
grep -q "optim-rank00001.safetensors .*checksum ok" "$run.inspect" || fail "rank 1's file not verified"
"$exe" train tiny "${common[@]}" --set train.steps=6 --set train.run_dir="$run" --resume auto \
  > "$run.resume.log" 2>&1 || { cat "$run.resume.log"; fail "one process resuming a 2-rank checkpoint"; }
grep -q "saved as dp=2 zero=2" "$run.resume.log" || fail "did not resume the 2-rank checkpoint"
echo "ok: a 2-rank ZeRO-2 checkpoint resumed in one process"
run="$work/experts"
"$mpirun" --oversubscribe -np 2 "$exe" train tiny "${common[@]}" --set train.steps=6 \
  --set parallel.ep=2 --set parallel.zero_stage=3 --stop-at-step 3 --set train.run_dir="$run" \
  > "$run.log" 2>&1 || { cat "$run.log"; fail "2-rank expert-parallel run"; }
"$exe" ckpt inspect "$run" > "$run.inspect" || { cat "$run.inspect"; fail "inspect of the ep=2 checkpoint"; }
grep -q "layout .*ep=2 zero=3 (2 ranks; dp 2, ep 2, ZeRO stage 3)" "$run.inspect" \
  || { cat "$run.inspect"; fail "inspect does not report ep"; }
"$exe" train tiny "${common[@]}" --set train.steps=6 --set train.run_dir="$run" --resume auto \
  > "$run.resume.log" 2>&1 || { cat "$run.resume.log"; fail "one process resuming an ep=2 checkpoint"; }
grep -q "saved as dp=2 ep=2 zero=3" "$run.resume.log" || { cat "$run.resume.log"; fail "did not resume the ep=2 checkpoint"; }
echo "ok: inspect reports ep=2 of a 2-rank expert-parallel checkpoint, which one process resumes"

run="$work/pipeline"
"$mpirun" --oversubscribe -np 2 "$exe" train tiny "${common[@]}" --set train.steps=2 \
  --set checkpoint.every=2 --set parallel.pp=2 --set model.n_shared_experts=0 \
  --set train.run_dir="$run" > "$run.log" 2>&1 || { cat "$run.log"; fail "2-stage pipeline run"; }
"$exe" ckpt inspect "$run" > "$run.inspect" \
  || { cat "$run.inspect"; fail "inspect of the pp=2 checkpoint"; }
grep -q "layout .*pp=2 (2 ranks; pp 2, dp 1, ep 1, ZeRO stage 0)" "$run.inspect" \
  || { cat "$run.inspect"; fail "inspect does not report pp"; }
"$exe" ckpt export-hf "$run/checkpoints/step-00000002" "$work/hf-pp-ckpt" > /dev/null \
  || fail "export-hf from the pp=2 checkpoint"
"$exe" ckpt export-hf "$run/model.safetensors" "$work/hf-pp-model" > /dev/null \
  || fail "export-hf from the pp=2 run's model file"
cmp "$work/hf-pp-ckpt/model.safetensors" "$work/hf-pp-model/model.safetensors" \
  || fail "export from the pp=2 checkpoint differs from export from its model file"
eval_settings=(--data "$work/data" --seq-len 32 --batch-size 2 --batches 2 --json)
from_ckpt=$("$exe" eval "$run/checkpoints/step-00000002" "${eval_settings[@]}") \
  || fail "eval of the pp=2 checkpoint"
from_model=$("$exe" eval "$run/model.safetensors" "${eval_settings[@]}") \
  || fail "eval of the pp=2 model file"
loss_of() { sed -n 's/.*"loss":\([^,}]*\).*/\1/p' <<< "$1"; }
[ -n "$(loss_of "$from_ckpt")" ] && [ "$(loss_of "$from_ckpt")" = "$(loss_of "$from_model")" ] \
  || fail "eval of the pp=2 checkpoint: $from_ckpt; of its model file: $from_model"
echo "ok: inspect reports pp=2 of a 2-stage checkpoint; one process exports and evaluates it" \
  "like its model file"

# 5. Hugging Face export from a checkpoint equals export from the model file of the same weights.
run="$work/export"
"$exe" train tiny "${common[@]}" --set train.steps=2 --set checkpoint.every=2 \
  --set model.n_shared_experts=0 --set train.run_dir="$run" > "$run.log" 2>&1 || { cat "$run.log"; fail "export run"; }
"$exe" ckpt export-hf "$run/checkpoints/step-00000002" "$work/hf-from-ckpt" > /dev/null \
  || fail "export-hf from a checkpoint step directory"
"$exe" ckpt export-hf "$run/model.safetensors" "$work/hf-from-model" > /dev/null || fail "export-hf from the model file"
grep -q '"model_type": "qwen3_moe"' "$work/hf-from-ckpt/config.json" || fail "exported config.json"
cmp "$work/hf-from-ckpt/model.safetensors" "$work/hf-from-model/model.safetensors" \
  || fail "export from the checkpoint differs from export from the model file"
echo "ok: export-hf from a checkpoint matches export from the model file"

# 6. Resuming on data prepared with another tokenizer is refused, naming both fingerprints.
"$exe" tokenizer train --input "$work/text" --vocab-size 400 --out "$work/bpe.json" > /dev/null 2>&1 \
  || fail "tokenizer train"
"$exe" data prepare --input "$work/text" --tokenizer "$work/bpe.json" --out "$work/data-bpe" > /dev/null \
  || fail "data prepare with the BPE tokenizer"
status=0
"$exe" train tiny "${common[@]}" --set "data.datasets=[\"$work/data-bpe\"]" --set train.steps=100000 \
  --set train.run_dir="$work/term" --resume auto > "$work/tokenizer.log" 2>&1 || status=$?
[ "$status" = 2 ] || { cat "$work/tokenizer.log"; fail "resume on another tokenizer's data: status $status"; }
grep -q "was trained on data of tokenizer .* but the data now was prepared with tokenizer" "$work/tokenizer.log" \
  || { cat "$work/tokenizer.log"; fail "no tokenizer mismatch message"; }
echo "ok: resuming on another tokenizer's data is refused"

# 7. Invalid checkpoints are refused when named, moved aside and saved again under --resume auto.
base="$work/invalid-base"
"$exe" train tiny "${common[@]}" --set train.steps=6 --set checkpoint.every=2 --stop-at-step 4 \
  --set train.run_dir="$base" > "$base.log" 2>&1 || { cat "$base.log"; fail "invalid: first run"; }
remove_manifest() { rm "$1/manifest.json"; }
edit_step_4_to_2() { sed -i 's/^ "step": 4,$/ "step": 2,/' "$1/manifest.json"; grep -q '^ "step": 2,$' "$1/manifest.json"; }
edit_step_4_to_999() { sed -i 's/^ "step": 4,$/ "step": 999,/' "$1/manifest.json"; grep -q '"step": 999,' "$1/manifest.json"; }
edit_loader_position() {
  local before; before=$(grep -m1 '"position": ' "$1/manifest.json")
  sed -i -E '0,/"position": [0-9]+/s/"position": ([0-9]+)/"position": 1\1/' "$1/manifest.json"
  [ "$(grep -m1 '"position": ' "$1/manifest.json")" != "$before" ]
}
rename_step_4_to_8() { mv "$(dirname "$1")/step-00000004" "$1"; }
# check_invalid NAME STEP_DIR_NAME REASON_REGEX EDIT_FUNCTION
check_invalid() {
  local name=$1 target=$2 reason=$3 edit=$4
  local run="$work/invalid-$name"
  cp -a "$base" "$run"
  local ckpt="$run/checkpoints" step_dir="$run/checkpoints/$target" status=0
  "$edit" "$step_dir" || fail "$name: the edit did not apply"
  "$exe" train tiny "${common[@]}" --set train.steps=6 --set checkpoint.every=2 --set train.run_dir="$run" \
    --resume "$step_dir" > "$run.named.log" 2>&1 || status=$?
  [ "$status" = 2 ] || { cat "$run.named.log"; fail "$name: --resume $step_dir: status $status, expected 2"; }
  grep -q "symphony: error: cannot resume from $step_dir: .*$reason" "$run.named.log" \
    || { cat "$run.named.log"; fail "$name: the error does not name the path and the reason"; }
  [ -d "$step_dir" ] || fail "$name: a checkpoint named explicitly was moved"
  status=0
  "$exe" train tiny "${common[@]}" --set train.steps=6 --set checkpoint.every=2 --set train.run_dir="$run" \
    --resume auto > "$run.auto.log" 2>&1 || status=$?
  [ "$status" = 0 ] || { cat "$run.auto.log"; fail "$name: --resume auto: status $status"; }
  grep -q "warning: checkpoint $step_dir is invalid: .*$reason.*; moved it to $ckpt/\.invalid-$target-1" "$run.auto.log" \
    || { cat "$run.auto.log"; fail "$name: no warning naming the directory, the reason and where it went"; }
  grep -q "resuming from $ckpt/step-00000002 (step 2," "$run.auto.log" || { cat "$run.auto.log"; fail "$name: did not fall back to step 2"; }
  [ -d "$ckpt/.invalid-$target-1" ] || { ls -la "$ckpt"; fail "$name: not moved aside"; }
  "$exe" ckpt inspect "$ckpt/step-00000004" > "$run.inspect" || { cat "$run.inspect"; fail "$name: step 4 was not saved again"; }
  "$exe" ckpt inspect "$ckpt/step-00000006" > /dev/null || fail "$name: step 6 does not verify"
  [ "$(cat "$ckpt/latest")" = step-00000006 ] || fail "$name: latest is $(cat "$ckpt/latest")"
  echo "ok: $name: --resume PATH refused (exit 2), --resume auto moved it aside, fell back and saved step 4 again"
}
check_invalid manifest-removed step-00000004 "manifest.json: No such file or directory" remove_manifest
check_invalid step-4-to-2 step-00000004 "the manifest's content hashes to .* but its manifest_xxh3 says" edit_step_4_to_2
check_invalid step-4-to-999 step-00000004 "the manifest's content hashes to" edit_step_4_to_999
check_invalid loader-position step-00000004 "the manifest's content hashes to" edit_loader_position
check_invalid other-step-dir step-00000008 "step 4 does not match the directory name step-00000008" rename_step_4_to_8

# 8. `ckpt inspect` of a step directory without its manifest names the missing file.
mkdir -p "$work/lone/step-00000007"
status=0
"$exe" ckpt inspect "$work/lone/step-00000007" > "$work/lone.log" 2>&1 || status=$?
[ "$status" = 2 ] || { cat "$work/lone.log"; fail "inspect of a step directory without manifest: status $status"; }
grep -q "step-00000007/manifest.json: No such file" "$work/lone.log" || { cat "$work/lone.log"; fail "inspect does not name the missing manifest"; }
echo "ok: inspect names the missing manifest"
