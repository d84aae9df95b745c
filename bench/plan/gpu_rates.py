"""Measures one GPU's rates for `symphony plan --calibrate`: bf16 and TF32 GEMMs on transformer
shapes, causal fused attention (forward + backward) and device-memory copy bandwidth. Prints a
[calibration] TOML file (docs/plan.md). Collective bandwidths come from nccl-tests on the cluster.

    python3 bench/plan/gpu_rates.py [HIDDEN] > calibration.toml
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def timed(fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters


def gemm_tflops(m, n, k, dtype):
    a = torch.randn(m, k, device="cuda", dtype=dtype)
    b = torch.randn(k, n, device="cuda", dtype=dtype)
    return 2.0 * m * n * k / timed(lambda: a @ b, 30) / 1e12


def attention_tflops(batch, heads, seq, head_dim):
    q, k, v = (torch.randn(batch, heads, seq, head_dim, device="cuda", dtype=torch.bfloat16,
                           requires_grad=True) for _ in range(3))
    step = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    # Model FLOPs of causal attention: 3x the forward's 4 * heads * head_dim per (query, key) pair.
    flops = 3.0 * 4.0 * batch * heads * head_dim * seq * (seq + 1) / 2.0
    return flops / timed(step, 10) / 1e12


def copy_tb_s():
    x = torch.empty(1 << 30, device="cuda", dtype=torch.uint8)
    y = torch.empty_like(x)
    return 2.0 * x.numel() / timed(lambda: y.copy_(x), 20) / 1e12


def main():
    torch.backends.cuda.matmul.allow_tf32 = True
    d = int(sys.argv[1]) if len(sys.argv) > 1 else 7168
    rows = 8192
    shapes = [(rows, 2 * d, d), (rows, 2 * d + d // 2, d), (rows, d, 2 * d), (2048, 2048, d)]
    bf16 = statistics.median(gemm_tflops(m, n, k, torch.bfloat16) for m, n, k in shapes)
    tf32 = gemm_tflops(rows, d, d, torch.float32)
    print(f"# {torch.cuda.get_device_name(0)}, torch {torch.__version__}, hidden size {d}")
    print("[calibration]")
    print(f"gemm_tflops = {bf16:.1f}")
    print(f"gemm_fp32_tflops = {tf32:.1f}")
    print(f"attention_tflops = {attention_tflops(4, 64, 4096, 128):.1f}")
    print(f"memory_bw_tb_s = {copy_tb_s():.3f}")


if __name__ == "__main__":
    main()
