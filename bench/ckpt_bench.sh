#!/usr/bin/env bash
# The training stall of a checkpoint save, asynchronous against synchronous, measured in one run:
# the same training job saves every EVERY steps once with checkpoint.async = true and once with
# false; the table gives the time the training thread spent inside each save (snapshot to host
# memory, plus the writing when synchronous), the time writing took, the mean step time of the
# steps without a save, and the ratio of the stalls.
# Usage: bench/ckpt_bench.sh [CONFIG] [STEPS] [EVERY]   (default: bench-dense-small 12 3)
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-bench-dense-small}
steps=${2:-12}
every=${3:-3}
bin=build/symphony
[ -x "$bin" ] || tools/build.sh
work=$(mktemp -d /tmp/symphony_ckpt_bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Text to train on: the repository's documentation, tokenized with the byte tokenizer.
mkdir -p "$work/text"
for i in 1 2 3 4; do cat README.md docs/*.md > "$work/text/doc$i.txt"; done
"$bin" data prepare --input "$work/text" --out "$work/data" > /dev/null
for mode in true false; do
  "$bin" train "$config" --quiet --set "data.datasets=[\"$work/data\"]" --set model.vocab_size=512 \
    --set train.steps="$steps" --set optim.warmup_steps=1 --set train.eval_every=0 \
    --set checkpoint.every="$every" --set checkpoint.async=$mode --set checkpoint.keep_last=1 \
    --set train.run_dir="$work/run-$mode" 2> "$work/log-$mode" || { cat "$work/log-$mode"; exit 1; }
done
/usr/bin/python3 - "$work" "$config" <<'PY'
import json, os, sys
work, config = sys.argv[1], sys.argv[2]
def summary(mode):
    recs = [json.loads(l) for l in open(os.path.join(work, f"run-{mode}", "metrics.jsonl"))]
    steps = [r for r in recs if "loss" in r]
    saves = [r["checkpoint_stall_s"] for r in steps if "checkpoint_stall_s" in r]
    writes = [r["checkpoint_write_s"] for r in recs if "checkpoint_write_s" in r]
    plain = [r["step_time_s"] for r in steps[1:] if "checkpoint_stall_s" not in r]
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in
               os.walk(os.path.join(work, f"run-{mode}", "checkpoints")) for f in fs)
    later = saves[1:] or saves
    return (sum(saves) / len(saves), sum(writes) / len(writes), sum(plain) / len(plain),
            len(saves), size, saves[0], sum(later) / len(later))
a, s = summary("true"), summary("false")
print(f"config {config}: {a[3]} saves of {a[4] / 2**20:.1f} MiB each")
print("(the first save also allocates the host snapshot buffers; later saves reuse them)")
print(f"{'mode':<14}{'stall/save s':>14}{'first s':>10}{'later s':>10}{'write s':>10}{'step s':>10}")
for name, m in (("asynchronous", a), ("synchronous", s)):
    print(f"{name:<14}{m[0]:>14.3f}{m[5]:>10.3f}{m[6]:>10.3f}{m[1]:>10.3f}{m[2]:>10.3f}")
print(f"stall ratio async/sync: {a[0] / s[0]:.3f} over all saves, {a[6] / s[6]:.3f} over later saves")
PY
