#!/bin/sh
# run_parity.sh PARITY_DUMP CONFIG OUT_DIR [PYTHON]
# Dumps one forward/backward of the tiny CONFIG model with parity_dump, then checks its loss and
# gradients against PyTorch with torch_parity.py. Fails when either step fails, including when
# PYTHON (default /usr/bin/python3) cannot import torch.
set -eu
dump=$1
config=$2
out_dir=$3
python=${4:-/usr/bin/python3}
"$dump" "$config" "$out_dir"
exec "$python" "$(dirname "$0")/torch_parity.py" "$out_dir/$config.safetensors"
