#!/usr/bin/env bash
# One text file as the whole corpus, and `symphony eval`, end to end:
#   1. `data prepare` of one text file splits it by tokens, so the val split is not empty, and the
#      tiny preset trains on it with its default evaluation settings;
#   2. `symphony eval` of the run directory, its checkpoint, its model file, its Hugging Face
#      export (`ckpt export-hf`) and that export imported back (`ckpt import-hf`), on the val split
#      with the run's evaluation settings, gives the run's last eval_loss from metrics.jsonl;
#   3. the val split's text as a text file scores as the split; --max-tokens; text output;
#   4. bad input (missing model or data, data of another tokenizer, --split with a text file) is
#      exit status 2 with the path named;
#   5. two ranks with ZeRO-3 evaluate 5 batches (in the last round one rank runs forward only to
#      gather weights): one process's `symphony eval` gives the same loss.
# Usage: eval_cli_test.sh SYMPHONY_EXE WORK_DIR MPIRUN
set -euo pipefail
exe=$1 work=$2 mpirun=$3
rm -rf "$work" && mkdir -p "$work"
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
cat "$src_dir"/README.md "$src_dir"/docs/*.md > "$work/input.txt"
fail() { echo "FAIL: $*"; exit 1; }
# The value of "key" in a one-line JSON object.
json_field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<< "$1" | tr -d '"'; }
# Whether two decimal numbers agree to within 1e-5 relative.
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b;
                                         exit !(d <= 1e-5 * m) }'; }

# 1. One text file: a val split by tokens, and training with the preset's evaluation.
"$exe" data prepare --input "$work/input.txt" --out "$work/data" > "$work/prepare.log" 2>&1
grep -q "split by tokens" "$work/prepare.log" || { cat "$work/prepare.log"; fail "no token split"; }
val_tokens=$(sed -n 's/^val: *1 documents, \([0-9]*\) tokens.*/\1/p' "$work/prepare.log")
[ -n "$val_tokens" ] && [ "$val_tokens" -gt 1000 ] || { cat "$work/prepare.log"; fail "val split of '$val_tokens' tokens"; }
data_set=(--set "data.datasets=[\"$work/data\"]")
"$exe" train tiny "${data_set[@]}" --set train.steps=20 --set train.run_dir="$work/run-default" \
  --quiet > "$work/train-default.log" 2>&1 || { cat "$work/train-default.log"; fail "training with the preset's evaluation"; }
grep -q '"eval_loss"' "$work/run-default/metrics.jsonl" || fail "the default run did not evaluate"
echo "ok: one text file prepared with a val split of $val_tokens tokens; tiny trains and evaluates on it"

# 2. A run that export-hf accepts (no shared experts), evaluated every 3 steps, checkpointed.
run="$work/run"
"$exe" train tiny "${data_set[@]}" --set model.n_shared_experts=0 --set train.steps=6 \
  --set optim.warmup_steps=1 --set train.eval_every=3 --set checkpoint.every=6 --set train.run_dir="$run" --quiet \
  > "$work/train.log" 2>&1 || { cat "$work/train.log"; fail "training"; }
last_eval=$(grep '"eval_loss"' "$run/metrics.jsonl" | tail -1)
[ "$(json_field "$last_eval" step)" = 6 ] || fail "no evaluation at step 6: $last_eval"
expected=$(json_field "$last_eval" eval_loss)
expected_tokens=$(json_field "$last_eval" eval_tokens)
"$exe" ckpt export-hf "$run" "$work/hf" > "$work/export.log" || { cat "$work/export.log"; fail "export-hf"; }
"$exe" ckpt import-hf "$work/hf" "$work/imported" > "$work/import.log" || { cat "$work/import.log"; fail "import-hf"; }
# The preset's evaluation: train.eval_batches = 4 batches of train.micro_batch_size = 4 windows
# of train.seq_len = 64 tokens. The run's own files know these; an imported model needs them.
settings=(--seq-len 64 --batch-size 4 --batches 4)
for model in "$run" "$run/checkpoints/step-00000006" "$run/model.safetensors" "$work/hf" "$work/imported"; do
  out=$("$exe" eval "$model" --data "$work/data" "${settings[@]}" --json 2> "$work/eval.err") \
    || { cat "$work/eval.err"; fail "eval $model"; }
  loss=$(json_field "$out" loss)
  close "$loss" "$expected" || fail "eval $model: loss $loss, the run's last eval_loss $expected"
  [ "$(json_field "$out" tokens)" = "$expected_tokens" ] || fail "eval $model: $out"
  [ "$(json_field "$out" tokenizer)" = bytes ] || fail "eval $model: tokenizer in $out"
  echo "ok: eval $model: loss $loss = the run's eval_loss $expected"
done
# The run directory alone carries the settings: seq_len and batch size from its config.
out=$("$exe" eval "$run" --data "$work/data" --batches 4 --json)
[ "$(json_field "$out" loss)" = "$(json_field "$("$exe" eval "$run" --data "$work/data" "${settings[@]}" --json)" loss)" ] \
  || fail "the run's own settings differ from the explicit ones: $out"

# 3. The val split is the file's last val_tokens - 1 bytes and end-of-text: as a text file it
# scores the same. --max-tokens takes whole batches.
tail -c $((val_tokens - 1)) "$work/input.txt" > "$work/val.txt"
split_out=$("$exe" eval "$run" --data "$work/data" --json)
text_out=$("$exe" eval "$run" --data "$work/val.txt" --json)
[ "$(json_field "$split_out" loss)" = "$(json_field "$text_out" loss)" ] \
  || fail "text file $text_out, split $split_out"
[ "$(json_field "$text_out" split)" = all ] || fail "text file split: $text_out"
limited=$("$exe" eval "$run" --data "$work/data" --max-tokens 1100 --json)
[ "$(json_field "$limited" tokens)" = 1024 ] && [ "$(json_field "$limited" loss)" = "$(json_field "$out" loss)" ] \
  || fail "--max-tokens 1100: $limited"
"$exe" eval "$run" --data "$work/data" > "$work/eval.txt"
grep -q "^loss: *[0-9.]*$" "$work/eval.txt" && grep -q "^perplexity: *[0-9.]*$" "$work/eval.txt" \
  || { cat "$work/eval.txt"; fail "text output"; }
echo "ok: the val split as a text file scores $(json_field "$text_out" loss), as the split does"

# 4. Bad input: exit status 2, the path named.
expect_bad() {  # expect_bad REGEX ARGS...
  local regex=$1; shift
  local status=0
  "$exe" "$@" > "$work/bad.log" 2>&1 || status=$?
  [ "$status" = 2 ] || { cat "$work/bad.log"; fail "$*: exit status $status, expected 2"; }
  grep -q -- "$regex" "$work/bad.log" || { cat "$work/bad.log"; fail "$*: no '$regex' in the message"; }
}
expect_bad "$work/no-run: no such file or directory" eval "$work/no-run" --data "$work/data"
expect_bad "$work/no-data: no such file or directory" eval "$run" --data "$work/no-data"
expect_bad "no manifest.json" eval "$run" --data "$run"
expect_bad "val.txt: a file is scored whole" eval "$run" --data "$work/val.txt" --split val
"$exe" tokenizer train --input "$work/input.txt" --out "$work/bpe.json" --vocab-size 300 \
  > /dev/null 2>&1
"$exe" data prepare --input "$work/input.txt" --out "$work/data-bpe" --tokenizer "$work/bpe.json" \
  > /dev/null 2>&1
expect_bad "$work/data-bpe/manifest.json: the dataset was prepared with tokenizer" \
  eval "$run" --data "$work/data-bpe"
expect_bad "$work/data/manifest.json: the dataset was prepared with tokenizer 'bytes'" \
  eval "$work/imported" --data "$work/data" --tokenizer "$work/bpe.json"
echo "ok: bad input is exit status 2 naming the path"

# 5. The evaluation of two ranks under ZeRO-3 is the evaluation of one process.
"$mpirun" --oversubscribe -np 2 "$exe" train tiny "${data_set[@]}" --set train.steps=4 \
  --set optim.warmup_steps=1 --set train.eval_batches=5 --set parallel.zero_stage=3 \
  --set train.run_dir="$work/run-zero3" --quiet > "$work/zero3.log" 2>&1 \
  || { cat "$work/zero3.log"; fail "2-rank ZeRO-3 run"; }
last_eval=$(grep '"eval_loss"' "$work/run-zero3/metrics.jsonl" | tail -1)
out=$("$exe" eval "$work/run-zero3" --data "$work/data" --batches 5 --json)
close "$(json_field "$out" loss)" "$(json_field "$last_eval" eval_loss)" \
  && [ "$(json_field "$out" tokens)" = "$(json_field "$last_eval" eval_tokens)" ] \
  || fail "one process: $out; two ranks: $last_eval"
echo "ok: eval in one process = the 2-rank ZeRO-3 run's eval_loss $(json_field "$last_eval" eval_loss)"
