#!/usr/bin/env python3
"""Checks a Hugging Face directory written by `symphony ckpt export-hf` against the engine.

usage: hf_reference.py HF_DIR LOGITS.safetensors

An independent reader: it knows nothing of Symphony's own names or code. It reads config.json
and the weights (model.safetensors, or the shards listed by model.safetensors.index.json) with
a plain safetensors parser, and runs the forward pass of config.json's model_type as
transformers implements it (modeling_llama, modeling_qwen3, modeling_qwen3_moe,
modeling_mixtral), addressing every weight by its Hugging Face name. It then compares the logits
at every position with the engine's (LOGITS holds "tokens" (T) and "logits" (T, V), written by
tests/parity/hf_logits_dump.cc):
  max |ours - reference| / max |reference|  < 1e-4   (float32)
It also fails when a tensor of the checkpoint is never used, or when config.json,
generation_config.json or tokenizer.json disagree about the end-of-text token.
Exits 1 on any failure, including a missing torch.
"""

import json
import math
import os
import struct
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the test must fail, not skip, without torch
    print(f"hf_reference: FAIL: cannot import torch ({e}); install PyTorch for this interpreter "
          f"({sys.executable})", file=sys.stderr)
    sys.exit(1)

TOL = 1e-4
DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16,
          "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    """{name: tensor}, {metadata}: 8-byte little-endian header length, JSON header, data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    out = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        chunk = bytearray(data[begin:end])
        out[name] = torch.frombuffer(chunk, dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
    return out, metadata


def read_weights(hf_dir):
    index = os.path.join(hf_dir, "model.safetensors.index.json")
    if not os.path.exists(index):
        tensors, metadata = read_safetensors(os.path.join(hf_dir, "model.safetensors"))
        assert metadata.get("format") == "pt", f"model.safetensors metadata {metadata}"
        return tensors, ["model.safetensors"]
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    tensors, files = {}, sorted(set(weight_map.values()))
    for file in files:
        part, metadata = read_safetensors(os.path.join(hf_dir, file))
        assert metadata.get("format") == "pt", f"{file} metadata {metadata}"
        for name in part:
            assert weight_map.get(name) == file, f"{name} in {file}, index says {weight_map.get(name)}"
        tensors.update(part)
    missing = set(weight_map) - set(tensors)
    assert not missing, f"index names tensors no shard holds: {sorted(missing)[:5]}"
    return tensors, files


class Weights:
    """Records which tensors the forward pass reads."""

    def __init__(self, tensors):
        self.tensors = {k: v.float() for k, v in tensors.items()}
        self.used = set()

    def __call__(self, name):
        self.used.add(name)
        return self.tensors[name]


def rms_norm(x, w, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(cfg, positions):
    dim = cfg["head_dim"]
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def attention(cfg, w, prefix, x, cos, sin):
    t = x.shape[0]
    heads, kv_heads, dh = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    q = F.linear(x, w(prefix + "q_proj.weight")).view(t, heads, dh)
    k = F.linear(x, w(prefix + "k_proj.weight")).view(t, kv_heads, dh)
    v = F.linear(x, w(prefix + "v_proj.weight")).view(t, kv_heads, dh)
    if cfg["model_type"] in ("qwen3", "qwen3_moe"):  # Qwen3: RMSNorm over each head's dims
        q = rms_norm(q, w(prefix + "q_norm.weight"), cfg["rms_norm_eps"])
        k = rms_norm(k, w(prefix + "k_norm.weight"), cfg["rms_norm_eps"])
    q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # (heads, T, Dh)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    n_rep = heads // kv_heads  # transformers' repeat_kv: query head h reads kv head h // n_rep
    k = k[:, None].expand(kv_heads, n_rep, t, dh).reshape(heads, t, dh)
    v = v[:, None].expand(kv_heads, n_rep, t, dh).reshape(heads, t, dh)
    scores = q @ k.transpose(1, 2) * dh ** -0.5
    mask = torch.full((t, t), float("-inf")).triu(1)
    probs = torch.softmax(scores + mask, dim=-1, dtype=torch.float32)
    out = (probs @ v).transpose(0, 1).reshape(t, heads * dh)
    return F.linear(out, w(prefix + "o_proj.weight"))


def swiglu(x, gate, up, down):
    return F.linear(F.silu(F.linear(x, gate)) * F.linear(x, up), down)


def sparse_moe(cfg, w, x, gate_name, expert_weights, normalize):
    """transformers' SparseMoeBlock loop: softmax over all experts, top-k, optional
    renormalisation, each expert on its tokens, index_add of the weighted outputs."""
    n_experts = cfg["num_experts"] if cfg["model_type"] == "qwen3_moe" else cfg["num_local_experts"]
    router_logits = F.linear(x, w(gate_name))
    routing = torch.softmax(router_logits, dim=1, dtype=torch.float)
    routing, selected = torch.topk(routing, cfg["num_experts_per_tok"], dim=-1)
    if normalize:
        routing = routing / routing.sum(dim=-1, keepdim=True)
    out = torch.zeros_like(x)
    mask = F.one_hot(selected, num_classes=n_experts).permute(2, 1, 0)  # (E, K, N)
    for e in range(n_experts):
        gate, up, down = expert_weights(e)  # read every expert, even one no token chose
        idx, top_x = torch.where(mask[e])
        if top_x.numel() == 0:
            continue
        y = swiglu(x[top_x], gate, up, down) * routing[top_x, idx, None]
        out.index_add_(0, top_x, y)
    return out


def feed_forward(cfg, w, layer, x):
    p = f"model.layers.{layer}."
    kind = cfg["model_type"]
    if kind in ("llama", "qwen3"):
        return swiglu(x, w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight"),
                      w(p + "mlp.down_proj.weight"))
    if kind == "qwen3_moe":
        sparse = (layer not in (cfg.get("mlp_only_layers") or []) and cfg["num_experts"] > 0
                  and (layer + 1) % cfg.get("decoder_sparse_step", 1) == 0)
        if not sparse:
            return swiglu(x, w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight"),
                          w(p + "mlp.down_proj.weight"))
        return sparse_moe(cfg, w, x, p + "mlp.gate.weight", lambda e: (
            w(f"{p}mlp.experts.{e}.gate_proj.weight"), w(f"{p}mlp.experts.{e}.up_proj.weight"),
            w(f"{p}mlp.experts.{e}.down_proj.weight")), cfg.get("norm_topk_prob", False))
    if kind == "mixtral":
        q = p + "block_sparse_moe."
        return sparse_moe(cfg, w, x, q + "gate.weight", lambda e: (
            w(f"{q}experts.{e}.w1.weight"), w(f"{q}experts.{e}.w3.weight"),
            w(f"{q}experts.{e}.w2.weight")), True)
    raise SystemExit(f"hf_reference: FAIL: model_type {kind} is not one this check knows")


def forward(cfg, w, tokens):
    cfg = dict(cfg)
    cfg.setdefault("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    eps = cfg["rms_norm_eps"]
    x = w("model.embed_tokens.weight")[tokens]
    cos, sin = rope_cos_sin(cfg, torch.arange(tokens.shape[0]))
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        x = x + attention(cfg, w, p + "self_attn.", rms_norm(x, w(p + "input_layernorm.weight"), eps),
                          cos, sin)
        x = x + feed_forward(cfg, w, layer, rms_norm(x, w(p + "post_attention_layernorm.weight"), eps))
    x = rms_norm(x, w("model.norm.weight"), eps)
    head = w("model.embed_tokens.weight") if cfg.get("tie_word_embeddings") else w("lm_head.weight")
    return F.linear(x, head)


def check_tokens(hf_dir, cfg):
    """config.json, generation_config.json and tokenizer.json name the same end-of-text id."""
    with open(os.path.join(hf_dir, "generation_config.json")) as f:
        gen = json.load(f)
    problems = []
    if gen.get("eos_token_id") != cfg.get("eos_token_id"):
        problems.append(f"generation_config eos_token_id {gen.get('eos_token_id')} != config.json "
                        f"{cfg.get('eos_token_id')}")
    path = os.path.join(hf_dir, "tokenizer.json")
    if os.path.exists(path):
        with open(path) as f:
            tok = json.load(f)
        if tok["model"]["type"] != "BPE":
            problems.append(f"tokenizer.json model type {tok['model']['type']}")
        specials = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
        if cfg.get("eos_token_id") not in specials.values():
            problems.append(f"eos_token_id {cfg.get('eos_token_id')} is no added token {specials}")
        if max(tok["model"]["vocab"].values()) >= cfg["vocab_size"]:
            problems.append("tokenizer.json ids beyond vocab_size")
    return problems


def main():
    if len(sys.argv) != 3:
        print("usage: hf_reference.py HF_DIR LOGITS.safetensors", file=sys.stderr)
        return 2
    hf_dir, logits_path = sys.argv[1], sys.argv[2]
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = json.load(f)
    tensors, files = read_weights(hf_dir)
    w = Weights(tensors)
    dumped, _ = read_safetensors(logits_path)
    tokens = dumped["tokens"].long()
    ours = dumped["logits"]
    with torch.no_grad():
        reference = forward(cfg, w, tokens)
    error = ((ours - reference).abs().max() / reference.abs().max()).item()
    problems = check_tokens(hf_dir, cfg)
    unused = sorted(set(tensors) - w.used)
    if unused:
        problems.append(f"{len(unused)} tensors never read: {unused[:5]}")
    if not math.isfinite(error) or error >= TOL:
        problems.append(f"logits differ: max |ours - ref| / max |ref| = {error:.3e} >= {TOL:g}")
    print(f"hf_reference: {cfg['model_type']} ({cfg['architectures'][0]}), {len(tensors)} tensors "
          f"in {len(files)} file(s), {tokens.shape[0]} positions: logits rel. error {error:.3e}")
    for p in problems:
        print(f"hf_reference: FAIL: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
