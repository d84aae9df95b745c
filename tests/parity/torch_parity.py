#!/usr/bin/env python3
"""Checks Symphony's loss and gradients against PyTorch.

usage: torch_parity.py DUMP.safetensors [--dtype float32|float64]

DUMP is written by parity_dump (tests/parity/parity_dump.cc): parameters, their gradients
("grad." + name), tokens, targets, and metadata with the model config and the losses. This script
builds tests/parity/torch_model.py's Transformer from the config, loads the parameters (every
name must match), recomputes total loss = mean CE + sum over MoE layers of (aux + z) with
autograd, and compares:
  loss:      |ours - torch| / |torch|                          < 1e-5   (CE, aux, z, total)
  gradients: max |ours - torch| / max |torch|, per tensor      < 1e-4
Prints a table of per-tensor errors; exits 1 on any failure, including a missing torch.
"""

import argparse
import json
import os
import struct
import sys

try:
    import torch
except ImportError as e:  # the parity test must fail, not skip, without torch
    print(f"torch_parity: FAIL: cannot import torch ({e}); install PyTorch for this interpreter "
          f"({sys.executable})", file=sys.stderr)
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_model  # noqa: E402

LOSS_TOL = 1e-5
GRAD_TOL = 1e-4

TORCH_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32,
                "I64": torch.int64, "BF16": torch.bfloat16, "F16": torch.float16,
                "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16, "BOOL": torch.bool}


def read_safetensors(path):
    """Returns ({name: tensor}, {metadata key: string}); a plain reading of the format."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = memoryview(blob)[8 + header_len:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = TORCH_DTYPES[entry["dtype"]]
        chunk = bytearray(data[begin:end])  # writable and owned: frombuffer shares its memory
        tensors[name] = torch.frombuffer(chunk, dtype=dtype).reshape(entry["shape"]) \
            if chunk else torch.zeros(entry["shape"], dtype=dtype)
    return tensors, metadata


def relative(a, b):
    return abs(a - b) / max(abs(b), 1e-30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("dump")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                        help="precision of the PyTorch side")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)

    tensors, meta = read_safetensors(args.dump)
    cfg = json.loads(meta["config"])
    tokens = tensors.pop("tokens").long()
    targets = tensors.pop("targets").long()
    grads = {name[len("grad."):]: tensors.pop(name) for name in list(tensors)
             if name.startswith("grad.")}
    params = tensors

    model = torch_model.Transformer(cfg).to(dtype)
    state = {name: value.to(dtype) for name, value in params.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        print(f"torch_parity: FAIL: parameter names differ: missing in the dump {missing}, "
              f"unknown to the torch model {unexpected}")
        return 1

    losses = model(tokens, targets)
    losses["total"].backward()

    failures = []
    print(f"{os.path.basename(args.dump)}: torch {torch.__version__}, {args.dtype}")
    print(f"{'loss':<12} {'symphony':>14} {'torch':>14} {'rel err':>10}")
    for key, ours_key in [("ce", "loss"), ("aux", "aux_loss"), ("z", "z_loss"),
                          ("total", "total_loss")]:
        ours, theirs = float(meta[ours_key]), float(losses[key])
        err = relative(ours, theirs) if theirs != 0 or ours != 0 else 0.0
        mark = ""
        if not err < LOSS_TOL:
            failures.append(f"loss {key}: rel err {err:.3g}")
            mark = "  FAIL"
        print(f"{key:<12} {ours:>14.8f} {theirs:>14.8f} {err:>10.2e}{mark}")

    print(f"\n{'gradient':<52} {'shape':<14} {'max|torch|':>11} {'max rel err':>12}")
    worst = 0.0
    for name, p in model.named_parameters():
        if name not in grads:
            failures.append(f"no gradient for {name} in the dump")
            continue
        ours = grads[name].to(torch.float64)
        theirs = p.grad.to(torch.float64) if p.grad is not None else torch.zeros_like(ours)
        scale = theirs.abs().max().item()
        diff = (ours - theirs).abs().max().item()
        err = diff / scale if scale > 0 else diff
        worst = max(worst, err)
        mark = ""
        if not err < GRAD_TOL:  # NaN fails too
            failures.append(f"gradient {name}: max rel err {err:.3g}")
            mark = "  FAIL"
        shape = "x".join(str(s) for s in p.shape)
        print(f"{name:<52} {shape:<14} {scale:>11.3e} {err:>12.2e}{mark}")
    extra = sorted(set(grads) - {name for name, _ in model.named_parameters()})
    for name in extra:
        failures.append(f"gradient {name} in the dump has no torch parameter")

    print(f"\nworst gradient error {worst:.2e} (tolerance {GRAD_TOL:g}); loss tolerance "
          f"{LOSS_TOL:g}")
    if failures:
        print("torch_parity: FAIL")
        for f in failures:
            print("  " + f)
        return 1
    print("torch_parity: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
