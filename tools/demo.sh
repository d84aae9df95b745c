#!/usr/bin/env bash
# The demo: prepares the Brown corpus, trains the `small` MoE preset on it (about 10 minutes on
# 2 cores) and samples text from the trained model.
# Usage (as root, from anywhere): tools/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
tools/prepare_demo_corpus.sh
build/symphony data prepare --input data/brown/text --out data/brown --val-fraction 0.05
build/symphony train small
build/symphony generate runs/small --prompt "The jury said" --max-new-tokens 400 \
  --temperature 0.8 --top-k 40
echo "metrics: runs/small/metrics.jsonl, loss curve: runs/small/loss.svg"
