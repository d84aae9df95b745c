#!/usr/bin/env bash
# `symphony train --init-from` end to end:
#   1. a `tiny` run (no shared experts, so it exports) saves a model file and a checkpoint;
#      `ckpt export-hf` exports it; a run started from each of the model file, the run directory,
#      the checkpoint directory, the step directory and the Hugging Face directory says what it
#      loaded (kind, path, tensor count), records it in metrics.jsonl, and has the same first-step
#      loss as every other (bitwise, as printed);
#   2. the same from two ranks under ZeRO-3, from the checkpoint, within 1e-5;
#   3. bad input exits 2 naming the tensor and file or the key: another shape, a tensor without a
#      place, tied against untied embeddings, another architecture, a missing path; a source
#      inside the run directory and a run directory holding checkpoints are refused and left as
#      they were; with --resume auto a checkpoint to resume takes precedence, and the log says so.
# Usage: init_from_cli_test.sh SYMPHONY_EXE WORK_DIR MPIRUN
set -euo pipefail
exe=$1 work=$2 mpirun=$3
rm -rf "$work" && mkdir -p "$work/text"
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
for i in 1 2; do cat "$src_dir"/README.md "$src_dir"/docs/*.md > "$work/text/doc$i.txt"; done
"$exe" data prepare --input "$work/text" --out "$work/data" > /dev/null
common=(--set "data.datasets=[\"$work/data\"]" --set train.seq_len=32 --set train.micro_batch_size=2
        --set train.global_batch_tokens=128 --set optim.warmup_steps=0 --set train.eval_every=0
        --set model.n_shared_experts=0 --quiet)
fail() { echo "FAIL: $*"; exit 1; }
step_loss() { grep -o '"loss":[^,}]*' "$1/metrics.jsonl" | head -1 | cut -d: -f2; }

# 1. Every kind of source.
"$exe" train tiny "${common[@]}" --set train.steps=2 --set checkpoint.every=2 \
  --set train.run_dir="$work/src" > "$work/src.log" 2>&1 \
  || { cat "$work/src.log"; fail "source run"; }
"$exe" ckpt export-hf "$work/src/model.safetensors" "$work/hf" > /dev/null || fail "export-hf"
want=""
for case in "model-file|$work/src/model.safetensors|model file $work/src/model.safetensors: 53 tensors" \
            "run-dir|$work/src|model file $work/src/model.safetensors: 53 tensors" \
            "checkpoints|$work/src/checkpoints|checkpoint $work/src/checkpoints/step-00000002: 53 tensors" \
            "step-dir|$work/src/checkpoints/step-00000002|checkpoint $work/src/checkpoints/step-00000002: 53 tensors" \
            "hf|$work/hf|Hugging Face model $work/hf: 50 tensors (3 selection biases not in the source start at zero)"; do
  IFS='|' read -r name path says <<< "$case"
  run="$work/ft-$name"
  "$exe" train tiny "${common[@]}" --set train.steps=1 --set train.run_dir="$run" \
    --init-from "$path" > "$run.log" 2>&1 || { cat "$run.log"; fail "--init-from $path"; }
  grep -qF "initialised the weights from $says" "$run.log" || { cat "$run.log"; fail "$name: the log does not say what was loaded"; }
  head -1 "$run/metrics.jsonl" | grep -q '"init_from":' || fail "$name: no init_from record"
  loss=$(step_loss "$run")
  [ -n "$loss" ] || fail "$name: no loss"
  [ -z "$want" ] && want=$loss
  [ "$loss" = "$want" ] || fail "$name: first loss $loss, the model file's run had $want"
  echo "ok: --init-from $name: first loss $loss"
done

# 2. Two ranks, ZeRO-3, from the checkpoint.
run="$work/ft-zero3"
"$mpirun" --oversubscribe -np 2 "$exe" train tiny "${common[@]}" --set train.steps=1 \
  --set parallel.zero_stage=3 --set train.run_dir="$run" --init-from "$work/src/checkpoints" \
  > "$run.log" 2>&1 || { cat "$run.log"; fail "2-rank ZeRO-3 --init-from"; }
loss=$(step_loss "$run")
awk -v a="$loss" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * b) }' \
  || fail "2 ranks, ZeRO-3: first loss $loss, one process $want"
echo "ok: 2 ranks under ZeRO-3: first loss $loss"

# 3. Bad input.
refused() {  # refused NAME REGEX ARGS...: exit status 2, the message matches, no run directory
  local name=$1 regex=$2; shift 2
  local status=0
  "$exe" train tiny "${common[@]}" --set train.steps=1 --set train.run_dir="$work/bad-$name" "$@" \
    > "$work/bad-$name.log" 2>&1 || status=$?
  [ "$status" = 2 ] || { cat "$work/bad-$name.log"; fail "$name: exit status $status"; }
  grep -qE "$regex" "$work/bad-$name.log" || { cat "$work/bad-$name.log"; fail "$name: message"; }
  [ ! -e "$work/bad-$name" ] || fail "$name: the refused run wrote $work/bad-$name"
  echo "ok: refused $name"
}
refused shape "error: model\.layers\.0\.mlp\.gate_proj\.weight: \(384, 128\) in .*src/model\.safetensors, \(256, 128\) for this config \(model\.intermediate_size = 384 in the source, 256 here\)" \
  --init-from "$work/src" --set model.intermediate_size=256
refused expert_shape "error: model\.layers\.1\.mlp\.experts\.gate_proj: \(8, 64, 128\) in .*hf/model\.safetensors, \(8, 32, 128\) for this config" \
  --init-from "$work/hf" --set model.moe_intermediate_size=32
refused missing_tensor "error: .*step-00000002: no tensor model\.layers\.1\.mlp\.shared_experts\.gate_proj\.weight \(64, 128\), which this config needs" \
  --init-from "$work/src/checkpoints/step-00000002" --set model.n_shared_experts=1
refused no_place "error: model\.layers\.0\.self_attn\.q_norm\.weight in .* has no place in this config \(model\.qk_norm = true in the source, false here\)" \
  --init-from "$work/hf" --set model.qk_norm=false
refused tied "error: lm_head\.weight in .* has no place in this config \(model\.tie_word_embeddings = false in the source, true here\)" \
  --init-from "$work/src/model.safetensors" --set model.tie_word_embeddings=true
refused architecture "error: .*hf holds a model of another architecture: model\.rope_theta = 10000\.0 in the source, 1000000\.0 here" \
  --init-from "$work/hf" --set model.rope_theta=1000000
refused missing_path "error: --init-from: .*no-such-model: no such file or directory" \
  --init-from "$work/no-such-model"
before=$(cksum < "$work/src/model.safetensors")
status=0
"$exe" train tiny "${common[@]}" --set train.steps=1 --set train.run_dir="$work/src" \
  --set checkpoint.dir="$work/elsewhere" --init-from "$work/src/model.safetensors" \
  > "$work/inside.log" 2>&1 || status=$?
[ "$status" = 2 ] && grep -q "lies inside $work/src, which this run writes" "$work/inside.log" \
  || { cat "$work/inside.log"; fail "a source inside the run directory: status $status"; }
status=0
"$exe" train tiny "${common[@]}" --set train.steps=1 --set train.run_dir="$work/src" \
  --init-from "$work/hf" > "$work/existing.log" 2>&1 || status=$?
[ "$status" = 2 ] && grep -q "src/checkpoints already holds checkpoints (the newest step-00000002)" "$work/existing.log" \
  || { cat "$work/existing.log"; fail "a run directory with checkpoints: status $status"; }
[ "$(cksum < "$work/src/model.safetensors")" = "$before" ] || fail "the source model file changed"
[ ! -e "$work/elsewhere" ] || fail "the refused run created its checkpoint directory"
echo "ok: a source inside the run directory, and a run directory holding checkpoints, refused"

# --resume auto: the checkpoint of the run wins over --init-from, and the log says so.
run="$work/resumed"
"$exe" train tiny "${common[@]}" --set train.steps=3 --set checkpoint.every=1 --stop-at-step 1 \
  --set train.run_dir="$run" --init-from "$work/hf" --resume auto > "$run.1.log" 2>&1 \
  || { cat "$run.1.log"; fail "first part of the resumed run"; }
grep -q "initialised the weights from Hugging Face model" "$run.1.log" || { cat "$run.1.log"; fail "not initialised"; }
"$exe" train tiny "${common[@]}" --set train.steps=3 --set checkpoint.every=1 \
  --set train.run_dir="$run" --init-from "$work/hf" --resume auto > "$run.2.log" 2>&1 \
  || { cat "$run.2.log"; fail "second part of the resumed run"; }
grep -q "resuming from .*step-00000001" "$run.2.log" && grep -q "\-\-init-from $work/hf not used: the run resumes from its checkpoint" "$run.2.log" \
  || { cat "$run.2.log"; fail "the resume did not take precedence"; }
echo "ok: --resume auto takes precedence over --init-from"
