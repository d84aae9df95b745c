#!/usr/bin/env python3
"""PyTorch peer of Symphony's training benchmark.

Trains the bench-dense-small or bench-moe-small model (configs/*.toml) in PyTorch, fp32 on the
CPU, with the model of tests/parity/torch_model.py (the one Symphony's gradients are checked
against), AdamW and random tokens, and prints one JSON line:

  {"preset", "tokens_per_s", "step_time_s", "step_time_median_s", "params_total",
   "params_active", "threads", "torch_version", "blas", "env", "steps", "warmup", "loss"}

A step is one micro-batch of 8 x 256 tokens: forward, backward (mean CE + router aux loss),
gradient clipping to norm 1, AdamW update. The first --warmup steps are not timed.
See bench/peers/README.md for the BLAS and allocator configurations worth measuring.
"""

import argparse
import ctypes
import ctypes.util
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "parity"))
import torch_model  # noqa: E402

_COMMON = {
    "vocab_size": 8192, "hidden_size": 512, "num_hidden_layers": 8, "num_attention_heads": 8,
    "num_key_value_heads": 8, "head_dim": 64, "max_position_embeddings": 4096,
    "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "qk_norm": False, "tie_word_embeddings": True,
    "initializer_range": 0.02, "intermediate_size": 1536, "first_k_dense_replace": 0,
    "num_experts_per_tok": 2, "moe_intermediate_size": 768, "n_shared_experts": 0,
    "norm_topk_prob": True, "router_z_loss_coef": 0.0, "capacity_factor": 0.0,
}
PRESETS = {
    "bench-dense-small": dict(_COMMON, num_experts=0, router_aux_loss_coef=0.0),
    "bench-moe-small": dict(_COMMON, num_experts=8, router_aux_loss_coef=0.01),
}
SEQ_LEN, MICRO_BATCH = 256, 8
OPTIM = {"lr": 1e-3, "betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.1}
GRAD_CLIP = 1.0
# Environment variables that change which BLAS, allocator or thread count a run gets.
ENV_KNOBS = ("LD_PRELOAD", "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "BLIS_ARCH_TYPE",
             "BLIS_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE")


def blas_in_use():
    """The file of the BLAS whose sgemm_ torch's CPU library binds to, as the dynamic linker
    resolves it (so LD_LIBRARY_PATH and LD_PRELOAD choices show up here)."""
    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    libdl = ctypes.CDLL(ctypes.util.find_library("dl") or "libc.so.6")
    libdl.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
    torch_cpu = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    for handle in (ctypes.CDLL(None), ctypes.CDLL(torch_cpu) if os.path.exists(torch_cpu)
                   else None):
        if handle is None:
            continue
        try:
            address = ctypes.cast(handle.sgemm_, ctypes.c_void_p).value
        except AttributeError:
            continue
        info = DlInfo()
        if libdl.dladdr(address, ctypes.byref(info)) and info.dli_fname:
            return os.path.realpath(info.dli_fname.decode())
    return "unknown (" + torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0] + ")"


def make_optimizer(model):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("norm.weight") else decay).append(p)
    groups = [{"params": decay, "weight_decay": OPTIM["weight_decay"]},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=OPTIM["lr"], betas=OPTIM["betas"], eps=OPTIM["eps"])


def main():
    parser = argparse.ArgumentParser(description="PyTorch peer of Symphony's training benchmark")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="bench-moe-small")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: forward and loss under torch.autocast('cpu', torch.bfloat16) "
                             "(GEMMs in BF16, fp32 master weights and AdamW), as Symphony's "
                             "train.precision = \"bf16\"")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = PRESETS[args.preset]
    model = torch_model.Transformer(cfg)
    torch_model.init_params(model, cfg["initializer_range"], args.seed)
    optimizer = make_optimizer(model)
    params_total, params_active = torch_model.count_params(cfg)
    assert params_total == sum(p.numel() for p in model.parameters())

    gen = torch.Generator().manual_seed(args.seed)
    step_times, loss = [], float("nan")
    for step in range(args.warmup + args.steps):
        batch = torch.randint(0, cfg["vocab_size"], (MICRO_BATCH, SEQ_LEN + 1), generator=gen)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            losses = model(batch[:, :-1], batch[:, 1:])
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        loss = float(losses["ce"])
        if step >= args.warmup:
            step_times.append(time.perf_counter() - start)

    step_time = sum(step_times) / len(step_times) if step_times else float("nan")
    print(json.dumps({
        "preset": args.preset,
        "precision": args.precision,
        "tokens_per_s": round(MICRO_BATCH * SEQ_LEN / step_time, 1),
        "step_time_s": round(step_time, 4),
        "step_time_median_s": round(statistics.median(step_times), 4) if step_times else None,
        "params_total": params_total,
        "params_active": params_active,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "blas": blas_in_use(),
        "env": {k: os.environ[k] for k in ENV_KNOBS if k in os.environ},
        "steps": args.steps,
        "warmup": args.warmup,
        "loss": round(loss, 4),
    }))


if __name__ == "__main__":
    main()
