#!/usr/bin/env bash
# Training throughput of Symphony against the PyTorch peer (bench/peers/torch_train.py) on the
# benchmark presets, measured one after the other in this run, each on the same threads.
# Usage: bench/run_train_bench.sh [THREADS] [STEPS]
# PEER_ENV (optional) is prepended to the peer's command, e.g. to preload tcmalloc or choose its
# BLAS: PEER_ENV="LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4" (see bench/peers/README.md).
# SYMPHONY_BIN (optional) is the engine binary to measure (default build/symphony).
# PRECISION (optional, fp32 or bf16; default fp32) runs both in that precision: Symphony with
# train.precision, the peer under torch.autocast (bench/peers/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
steps=${2:-5}
precision=${PRECISION:-fp32}
bin=${SYMPHONY_BIN:-build/symphony}
[ -x "$bin" ] || tools/build.sh
printf '%-20s %12s %12s %8s %10s %10s %10s\n' preset symphony_tok/s torch_tok/s ratio gflops \
  sgemm_frac probed
for preset in bench-dense-small bench-moe-small; do
  ours=$(OMP_NUM_THREADS=$threads "$bin" bench train "$preset" --steps "$steps" --warmup 2 --json \
         --set train.precision="$precision" | tail -n 1)
  peer=$(env ${PEER_ENV:-} OMP_NUM_THREADS=$threads /usr/bin/python3 bench/peers/torch_train.py \
         --preset "$preset" --threads "$threads" --warmup 2 --steps "$steps" \
         --precision "$precision" | tail -n 1)
  /usr/bin/python3 - "$preset" "$ours" "$peer" <<'PY'
import json, sys
preset, ours, peer = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{preset:<20} {ours['tokens_per_s']:12.1f} {peer['tokens_per_s']:12.1f} "
      f"{ours['tokens_per_s'] / peer['tokens_per_s']:8.2f} {ours['gflops']:10.1f} "
      f"{ours['fraction_of_sgemm']:10.2f} {ours['fraction_of_sgemm_probed']:10.2f}")
PY
done
