#!/bin/sh
# run_hf_parity.sh HF_LOGITS_DUMP SYMPHONY CONFIG OUT_DIR [PYTHON] [MAX_SHARD_SIZE]
# Builds the tiny CONFIG model and its logits with hf_logits_dump, exports it with
# `symphony ckpt export-hf`, and checks the exported directory with hf_reference.py, which
# recomputes the logits from the Hugging Face names and semantics of its model_type. Fails when
# any step fails, including when PYTHON (default /usr/bin/python3) cannot import torch.
set -eu
dump=$1
symphony=$2
config=$3
out_dir=$4
python=${5:-/usr/bin/python3}
max_shard=${6:-5GB}
"$dump" "$config" "$out_dir"
rm -rf "$out_dir/$config/hf"
"$symphony" ckpt export-hf "$out_dir/$config/model.safetensors" "$out_dir/$config/hf" \
  --max-shard-size "$max_shard"
exec "$python" "$(dirname "$0")/hf_reference.py" "$out_dir/$config/hf" \
  "$out_dir/$config/logits.safetensors"
