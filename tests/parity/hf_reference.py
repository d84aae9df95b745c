#!/usr/bin/env python3
"""Checks a Hugging Face directory written by `symphony ckpt export-hf` against the engine.

usage: hf_reference.py HF_DIR LOGITS.safetensors

An independent reader: it knows nothing of Symphony's own names or code. It reads config.json
and the weights (model.safetensors, or the shards listed by model.safetensors.index.json) with
a plain safetensors parser, and runs the forward pass of config.json's model_type as
transformers implements it (modeling_llama, modeling_qwen3, modeling_qwen3_moe,
modeling_mixtral, modeling_deepseek_v3), addressing every weight by its Hugging Face name. It
then compares with the engine's results (LOGITS, written by tests/parity/hf_logits_dump.cc):
  "logits" (T, V) at every position of "tokens" (T):
      max |ours - reference| / max |reference|  < 1e-4   (float32)
  "greedy" (G): the greedy continuation of the first "greedy_prompt" tokens, recomputed from
      the full forward pass at each step, must be the same tokens.
deepseek_v3 also gets:
  - DeepSeek's multi-token prediction modules (model.layers.{L..L+D-1}: embed_tokens, enorm,
    hnorm, eh_proj, the decoder layer, shared_head.norm, shared_head.head), which transformers
    does not run, computed as Symphony's docs/mtp.md and DeepSeek-V3's report describe them;
    each depth's mean cross-entropy must match "mtp_loss" within 1e-4 (relative), and the
    stored embed_tokens / shared_head.head copies must equal the model's;
  - a check that the selection bias (e_score_correction_bias) matters: with it zeroed the
    logits must differ by more than the tolerance, or the test could not see it mishandled.
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


# ---- deepseek_v3 (modeling_deepseek_v3; DeepSeek-V3's inference/model.py for the RoPE) ----

# DeepseekV3RMSNorm(q_lora_rank) and (kv_lora_rank): transformers builds the latent norms with
# the class default eps, not config.rms_norm_eps (as DeepSeek's own code does).
LATENT_NORM_EPS = 1e-6


def rope_interleaved(x, positions, theta):
    """DeepSeek's rotation: pairs (x[2i], x[2i+1]) as complex numbers times exp(i pos theta_i),
    theta_i = theta^(-2i/dim). x: (T, heads, dim)."""
    dim = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    angles = positions.double()[:, None] * inv_freq[None, :]  # (T, dim/2)
    rot = torch.polar(torch.ones_like(angles), angles)[:, None, :]  # (T, 1, dim/2)
    pairs = torch.view_as_complex(x.double().reshape(*x.shape[:-1], dim // 2, 2).contiguous())
    return torch.view_as_real(pairs * rot).reshape(x.shape).to(x.dtype)


def check_rope_conventions(theta):
    """transformers' apply_rotary_pos_emb_interleave (de-interleave each head, then rotate_half)
    gives DeepSeek's rotation with the head's dims in the order [x0, x2, .., x1, x3, ..]; the
    same order on queries and keys leaves every score q.k unchanged."""
    x, positions = torch.randn(5, 3, 8, dtype=torch.float64), torch.arange(5)
    inv_freq = 1.0 / (theta ** (torch.arange(0, 8, 2, dtype=torch.float64) / 8))
    emb = torch.cat([positions[:, None] * inv_freq[None, :]] * 2, dim=-1)[:, None, :]
    y = x.view(5, 3, 4, 2).transpose(-1, -2).reshape(5, 3, 8)
    theirs = y * emb.cos() + rotate_half(y) * emb.sin()
    ours = rope_interleaved(x, positions, theta).view(5, 3, 4, 2).transpose(-1, -2).reshape(5, 3, 8)
    assert torch.allclose(theirs, ours, atol=1e-12), "RoPE conventions disagree"


def mla_attention(cfg, w, prefix, x, positions):
    """Multi-head latent attention: low-rank query (q_a_proj, q_a_layernorm, q_b_proj; q_proj
    without q_lora_rank), compressed KV (kv_a_proj_with_mqa = [latent | shared rotary key],
    kv_a_layernorm, kv_b_proj per head [k_nope | v]), scale 1/sqrt(nope + rope)."""
    t = x.shape[0]
    heads = cfg["num_attention_heads"]
    nope, rope, vdim = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    if cfg.get("q_lora_rank"):
        q_lat = rms_norm(F.linear(x, w(prefix + "q_a_proj.weight")),
                         w(prefix + "q_a_layernorm.weight"), LATENT_NORM_EPS)
        q = F.linear(q_lat, w(prefix + "q_b_proj.weight"))
    else:
        q = F.linear(x, w(prefix + "q_proj.weight"))
    q_nope, q_pe = q.view(t, heads, nope + rope).split([nope, rope], dim=-1)
    latent, k_pe = F.linear(x, w(prefix + "kv_a_proj_with_mqa.weight")).split(
        [cfg["kv_lora_rank"], rope], dim=-1)
    kv = F.linear(rms_norm(latent, w(prefix + "kv_a_layernorm.weight"), LATENT_NORM_EPS),
                  w(prefix + "kv_b_proj.weight")).view(t, heads, nope + vdim)
    k_nope, v = kv.split([nope, vdim], dim=-1)
    q_pe = rope_interleaved(q_pe, positions, cfg["rope_theta"])
    k_pe = rope_interleaved(k_pe.view(t, 1, rope), positions, cfg["rope_theta"])
    q = torch.cat([q_nope, q_pe], dim=-1)
    k = torch.cat([k_nope, k_pe.expand(t, heads, rope)], dim=-1)
    scores = torch.einsum("thd,shd->hts", q, k) * (nope + rope) ** -0.5
    mask = torch.full((t, t), float("-inf")).triu(1)
    probs = torch.softmax(scores + mask, dim=-1, dtype=torch.float32)
    out = torch.einsum("hts,shd->thd", probs, v).reshape(t, heads * vdim)
    return F.linear(out, w(prefix + "o_proj.weight"))


def deepseek_moe(cfg, w, p, x, bias_scale):
    """DeepseekV3MoE: DeepseekV3TopkRouter (sigmoid scores; the bias steers selection only; a
    group scores the sum of its two best biased scores; the topk_group best groups are kept and
    the others' experts masked with 0; top-k; renormalised when norm_topk_prob; times
    routed_scaling_factor), the routed experts' weighted sum, plus the shared experts' MLP."""
    n_experts, groups = cfg["n_routed_experts"], cfg["n_group"]
    scores = torch.sigmoid(F.linear(x, w(p + "mlp.gate.weight")))
    choice = scores + bias_scale * w(p + "mlp.gate.e_score_correction_bias")[None, :]
    group_scores = choice.view(-1, groups, n_experts // groups).topk(2, dim=-1)[0].sum(dim=-1)
    group_idx = torch.topk(group_scores, k=cfg["topk_group"], dim=-1, sorted=False)[1]
    group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
    expert_mask = group_mask[:, :, None].expand(-1, groups, n_experts // groups).reshape(-1, n_experts)
    choice = choice.masked_fill(~expert_mask.bool(), 0.0)
    selected = torch.topk(choice, k=cfg["num_experts_per_tok"], dim=-1, sorted=False)[1]
    weights = scores.gather(1, selected)
    if cfg.get("norm_topk_prob", True):
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    weights = weights * cfg["routed_scaling_factor"]
    out = torch.zeros_like(x)
    hot = F.one_hot(selected, num_classes=n_experts).permute(2, 0, 1)  # (E, N, K)
    for e in range(n_experts):
        q = f"{p}mlp.experts.{e}."
        gate, up, down = w(q + "gate_proj.weight"), w(q + "up_proj.weight"), w(q + "down_proj.weight")
        rows, slot = torch.where(hot[e])
        if rows.numel() == 0:
            continue
        out.index_add_(0, rows, swiglu(x[rows], gate, up, down) * weights[rows, slot, None])
    s = p + "mlp.shared_experts."
    return out + swiglu(x, w(s + "gate_proj.weight"), w(s + "up_proj.weight"), w(s + "down_proj.weight"))


def deepseek_layer(cfg, w, layer, x, bias_scale):
    """One DeepseekV3DecoderLayer over the positions 0 .. T-1 of x: dense below
    first_k_dense_replace, MoE from there on (the MTP modules' layers included)."""
    p = f"model.layers.{layer}."
    eps = cfg["rms_norm_eps"]
    positions = torch.arange(x.shape[0])
    x = x + mla_attention(cfg, w, p + "self_attn.", rms_norm(x, w(p + "input_layernorm.weight"), eps),
                          positions)
    h = rms_norm(x, w(p + "post_attention_layernorm.weight"), eps)
    if layer < cfg["first_k_dense_replace"]:
        return x + swiglu(h, w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight"),
                          w(p + "mlp.down_proj.weight"))
    return x + deepseek_moe(cfg, w, p, h, bias_scale)


def check_deepseek_config(cfg):
    """What this check (and Symphony) computes of DeepseekV3Config."""
    assert cfg.get("rope_scaling") is None, f"rope_scaling {cfg.get('rope_scaling')}: no YaRN here"
    assert cfg.get("rope_interleave", True), "rope_interleave = false"
    assert cfg.get("topk_method", "noaux_tc") == "noaux_tc", cfg.get("topk_method")
    assert cfg.get("scoring_func", "sigmoid") == "sigmoid", cfg.get("scoring_func")
    assert cfg.get("moe_layer_freq", 1) == 1, cfg.get("moe_layer_freq")
    assert "head_dim" not in cfg or cfg["head_dim"] == cfg["qk_rope_head_dim"], cfg.get("head_dim")
    assert cfg["num_key_value_heads"] == cfg["num_attention_heads"]
    check_rope_conventions(cfg["rope_theta"])


def lm_head(cfg, w):
    return w("model.embed_tokens.weight") if cfg.get("tie_word_embeddings") else w("lm_head.weight")


def deepseek_hidden(cfg, w, tokens, bias_scale=1.0):
    """The last decoder layer's output (before model.norm)."""
    x = w("model.embed_tokens.weight")[tokens]
    for layer in range(cfg["num_hidden_layers"]):
        x = deepseek_layer(cfg, w, layer, x, bias_scale)
    return x


def deepseek_mtp_losses(cfg, w, tokens, hidden):
    """Each MTP depth k's mean cross-entropy (docs/mtp.md): module k, layer L + k - 1, combines
    the previous depth's hidden state at position i with the embedding of token i + k:
    eh_proj([enorm(embed(t[i+k])), hnorm(h[i])]), runs its decoder layer over the positions that
    have such a token, and predicts t[i+k+1] through shared_head.norm and shared_head.head."""
    eps = cfg["rms_norm_eps"]
    t = tokens.shape[0]
    losses, h = [], hidden
    for k in range(1, cfg.get("num_nextn_predict_layers", 0) + 1):
        layer = cfg["num_hidden_layers"] + k - 1
        p = f"model.layers.{layer}."
        n = t - k
        emb = w(p + "embed_tokens.weight")[tokens[k:k + n]]
        x = F.linear(torch.cat([rms_norm(emb, w(p + "enorm.weight"), eps),
                                rms_norm(h[:n], w(p + "hnorm.weight"), eps)], dim=-1),
                     w(p + "eh_proj.weight"))
        h = deepseek_layer(cfg, w, layer, x, 1.0)
        logits = F.linear(rms_norm(h, w(p + "shared_head.norm.weight"), eps),
                          w(p + "shared_head.head.weight"))
        losses.append(F.cross_entropy(logits[:n - 1].double(), tokens[k + 1:k + n]).item())
    return losses


def forward(cfg, w, tokens):
    cfg = dict(cfg)
    if cfg["model_type"] == "deepseek_v3":
        x = deepseek_hidden(cfg, w, tokens)
        return F.linear(rms_norm(x, w("model.norm.weight"), cfg["rms_norm_eps"]), lm_head(cfg, w))
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
    return F.linear(x, lm_head(cfg, w))


def greedy(cfg, w, prompt, steps):
    """Greedy continuation, the full forward pass recomputed at every step; also the smallest
    gap between the best and second-best logit met on the way."""
    seq, gap = prompt.clone(), float("inf")
    for _ in range(steps):
        last = forward(cfg, w, seq)[-1]
        top = torch.topk(last, 2).values
        gap = min(gap, (top[0] - top[1]).item())
        seq = torch.cat([seq, last.argmax().view(1)])
    return seq[prompt.shape[0]:], gap


def check_deepseek(cfg, w, tokens, ours, dumped, tensors, problems):
    """The deepseek_v3 extras: MTP modules, their shared copies, and that the bias matters."""
    for k in range(cfg.get("num_nextn_predict_layers", 0)):
        p = f"model.layers.{cfg['num_hidden_layers'] + k}."
        for copy, original in ((p + "embed_tokens.weight", "model.embed_tokens.weight"),
                               (p + "shared_head.head.weight",
                                "model.embed_tokens.weight" if cfg.get("tie_word_embeddings")
                                else "lm_head.weight")):
            if not torch.equal(tensors[copy], tensors[original]):
                problems.append(f"{copy} differs from {original}")
    depths = cfg.get("num_nextn_predict_layers", 0)
    if depths:
        mtp = deepseek_mtp_losses(cfg, w, tokens, deepseek_hidden(cfg, w, tokens))
        if "mtp_loss" not in dumped:
            problems.append(f"num_nextn_predict_layers = {depths} but the dump has no mtp_loss")
        else:
            theirs = dumped["mtp_loss"].tolist()
            errors = [abs(a - b) / abs(b) for a, b in zip(theirs, mtp)]
            print(f"hf_reference: MTP: {depths} module(s), mean CE ours {theirs} reference "
                  f"{[round(x, 6) for x in mtp]}: rel. error {max(errors):.3e}")
            if len(theirs) != depths or not all(math.isfinite(e) and e < TOL for e in errors):
                problems.append(f"MTP losses differ: ours {theirs}, reference {mtp}")
    biased = [n for n in tensors if n.endswith(".mlp.gate.e_score_correction_bias")]
    if any(tensors[n].abs().max().item() > 0 for n in biased):
        unbiased = F.linear(rms_norm(deepseek_hidden(cfg, w, tokens, bias_scale=0.0),
                                     w("model.norm.weight"), cfg["rms_norm_eps"]), lm_head(cfg, w))
        change = ((ours - unbiased).abs().max() / unbiased.abs().max()).item()
        print(f"hf_reference: without e_score_correction_bias the logits would differ by {change:.3e}")
        if not change > 100 * TOL:
            problems.append(f"the selection bias changes the logits by only {change:.3e}: this "
                            "test could not see it mishandled")


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
    dumped, metadata = read_safetensors(logits_path)
    tokens = dumped["tokens"].long()
    ours = dumped["logits"]
    problems = check_tokens(hf_dir, cfg)
    with torch.no_grad():
        if cfg["model_type"] == "deepseek_v3":
            check_deepseek_config(cfg)
        reference = forward(cfg, w, tokens)
        error = ((ours - reference).abs().max() / reference.abs().max()).item()
        if "greedy" in dumped:
            prompt_len = int(metadata["greedy_prompt"])
            theirs = dumped["greedy"].long()
            mine, gap = greedy(cfg, w, tokens[:prompt_len], theirs.shape[0])
            print(f"hf_reference: greedy continuation of {prompt_len} tokens, {theirs.shape[0]} "
                  f"steps: {'identical' if torch.equal(theirs, mine) else 'DIFFERENT'} "
                  f"(smallest top-1 margin {gap:.3e})")
            if not torch.equal(theirs, mine):
                problems.append(f"greedy continuation differs: ours {theirs.tolist()}, reference "
                                f"{mine.tolist()}")
        if cfg["model_type"] == "deepseek_v3":
            check_deepseek(cfg, w, tokens, ours, dumped, tensors, problems)
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
