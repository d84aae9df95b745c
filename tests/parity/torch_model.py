"""PyTorch reference of Symphony's decoder-only MoE transformer (src/model/transformer.h).

One module per concept, written for reading, in whatever dtype the caller picks. Parameter names
and layouts are those of Symphony's safetensors files (Hugging Face names, weights (out, in)):

  model.embed_tokens.weight                                (V, D)
  model.layers.L.input_layernorm.weight                    (D)
  model.layers.L.self_attn.{q,k,v,o}_proj.weight           (H*Dh, D) (Hkv*Dh, D) x2 (D, H*Dh)
  model.layers.L.self_attn.{q,k}_norm.weight               (Dh)            qk_norm only
  model.layers.L.post_attention_layernorm.weight           (D)
  model.layers.L.mlp.{gate,up,down}_proj.weight            dense layers: (F, D) (F, D) (D, F)
  model.layers.L.mlp.gate.weight                           MoE router (E, D)
  model.layers.L.mlp.experts.{gate,up}_proj                stacked routed experts (E, Fe, D)
  model.layers.L.mlp.experts.down_proj                     (E, D, Fe)
  model.layers.L.mlp.shared_experts.{gate,up,down}_proj.weight   width n_shared * Fe
  model.norm.weight                                        (D)
  lm_head.weight                                           (V, D)          untied only

Maths (each line is one module below):
  RMSNorm(x)    = x / sqrt(mean(x^2) + eps) * w
  RoPE          = Hugging Face rotate_half: pair (i, i + Dh/2) rotated by pos * theta^(-2i/Dh)
  Attention     = causal GQA softmax(q k^T / sqrt(Dh)) v; qk_norm is a per-head RMSNorm of q and k
                  before RoPE; query head h reads key/value head h // (H / Hkv)
  SwiGLU(x)     = down(silu(gate(x)) * up(x))
  MoE(x)        = sum over the top-k experts of softmax(router(x)) of weight_j * SwiGLU_j(x)
                  (+ shared SwiGLU), weights renormalised to sum 1 when norm_topk_prob
  aux loss      = coef * E * sum_e f_e * P_e, f_e = (assignments to e) / (N*K) as a constant,
                  P_e = mean over tokens of softmax(router(x))_e
  z loss        = coef * mean over tokens of logsumexp(router(x))^2
  Layer(x)      = x + Attention(RMSNorm(x)) = m;  m + FFN(RMSNorm(m))
  loss          = mean CE over targets >= 0 of lm_head(RMSNorm(x_L)) + sum over MoE layers of
                  (aux + z)

Routed experts run dropless: token assignments are sorted by expert, each expert runs one
matmul per projection over its rows, and the weighted outputs are index_add-ed back.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        inv_rms = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * inv_rms * self.weight


class RotaryEmbedding(nn.Module):
    """cos and sin tables (max_pos, Dh), each half repeated twice. Angles are computed in
    float64 (as Symphony does), then cast to the input's dtype."""

    def __init__(self, head_dim, theta, max_pos):
        super().__init__()
        half = head_dim // 2
        inv_freq = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / head_dim)
        angles = torch.arange(max_pos, dtype=torch.float64)[:, None] * inv_freq[None, :]
        angles = torch.cat([angles, angles], dim=-1)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x):
        """x: (B, heads, T, Dh) -> the same, rotated by position t."""
        t, half = x.shape[-2], x.shape[-1] // 2
        rotated_half = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * self.cos[:t].to(x.dtype) + rotated_half * self.sin[:t].to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, dh = cfg["hidden_size"], cfg["head_dim"]
        self.heads, self.kv_heads, self.head_dim = (
            cfg["num_attention_heads"], cfg["num_key_value_heads"], dh)
        self.q_proj = nn.Linear(d, self.heads * dh, bias=False)
        self.k_proj = nn.Linear(d, self.kv_heads * dh, bias=False)
        self.v_proj = nn.Linear(d, self.kv_heads * dh, bias=False)
        self.o_proj = nn.Linear(self.heads * dh, d, bias=False)
        if cfg["qk_norm"]:
            self.q_norm = RMSNorm(dh, cfg["rms_norm_eps"])
            self.k_norm = RMSNorm(dh, cfg["rms_norm_eps"])
        else:
            self.q_norm = self.k_norm = None

    def forward(self, x, rope):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = (y.transpose(1, 2) for y in (q, k, v))  # (B, heads, T, Dh)
        q, k = rope(q), rope(k)
        group = self.heads // self.kv_heads
        if group > 1:
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        scores = (q / math.sqrt(self.head_dim)) @ k.transpose(-1, -2)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
        out = torch.softmax(scores, dim=-1) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.heads * self.head_dim))


class SwiGLU(nn.Module):
    def __init__(self, d, width):
        super().__init__()
        self.gate_proj = nn.Linear(d, width, bias=False)
        self.up_proj = nn.Linear(d, width, bias=False)
        self.down_proj = nn.Linear(width, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class StackedExperts(nn.Module):
    """E routed SwiGLU experts in stacked tensors: gate_proj, up_proj (E, F, D); down_proj
    (E, D, F)."""

    def __init__(self, num_experts, d, width):
        super().__init__()
        self.gate_proj = nn.Parameter(torch.empty(num_experts, width, d))
        self.up_proj = nn.Parameter(torch.empty(num_experts, width, d))
        self.down_proj = nn.Parameter(torch.empty(num_experts, d, width))

    def forward(self, x, idx, weights):
        """x: (N, D); idx, weights: (N, K). Returns sum_j weights[n, j] * expert_idx[n, j](x[n]).

        Assignments are sorted by expert so each expert runs one matmul per projection."""
        n, k = idx.shape
        flat = idx.reshape(-1)
        order = torch.argsort(flat, stable=True)
        token_of = order // k
        counts = torch.bincount(flat, minlength=self.gate_proj.shape[0]).tolist()
        xg = x[token_of]
        wg = weights.reshape(-1)[order]
        # unbind, not indexing per expert: its backward stacks the E gradients in one tensor
        # instead of adding E zero-padded full-size copies.
        gate, up, down = self.gate_proj.unbind(0), self.up_proj.unbind(0), self.down_proj.unbind(0)
        out = torch.zeros_like(x)
        begin = 0
        for e, count in enumerate(counts):
            if count == 0:
                continue
            end = begin + count
            rows = xg[begin:end]
            h = F.silu(F.linear(rows, gate[e])) * F.linear(rows, up[e])
            y = F.linear(h, down[e]) * wg[begin:end, None]
            out.index_add_(0, token_of[begin:end], y.to(out.dtype))  # bf16 under autocast
            begin = end
        return out


class MoE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, e, fe = cfg["hidden_size"], cfg["num_experts"], cfg["moe_intermediate_size"]
        if cfg.get("capacity_factor", 0.0) != 0.0:
            raise NotImplementedError("torch_model.MoE runs dropless only (capacity_factor 0)")
        self.num_experts, self.top_k = e, cfg["num_experts_per_tok"]
        self.norm_topk_prob = cfg["norm_topk_prob"]
        self.aux_coef = cfg["router_aux_loss_coef"]
        self.z_coef = cfg["router_z_loss_coef"]
        self.gate = nn.Linear(d, e, bias=False)
        self.experts = StackedExperts(e, d, fe)
        shared = cfg["n_shared_experts"]
        self.shared_experts = SwiGLU(d, shared * fe) if shared > 0 else None

    def forward(self, x):
        """x: (B, T, D) -> (output, aux_loss, z_loss)."""
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        n = x.shape[0]
        logits = self.gate(x)
        probs = torch.softmax(logits, dim=-1)
        # Sorted, so ties go to the lower expert index (as in Symphony's router).
        weights, idx = torch.topk(probs, self.top_k, dim=-1, sorted=True)
        if self.norm_topk_prob:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        out = self.experts(x, idx, weights)
        if self.shared_experts is not None:
            out = out + self.shared_experts(x)

        counts = torch.bincount(idx.reshape(-1), minlength=self.num_experts)
        f = (counts.to(probs.dtype) / (n * self.top_k)).detach()
        aux = self.aux_coef * self.num_experts * (f * probs.mean(dim=0)).sum()
        z = self.z_coef * torch.logsumexp(logits, dim=-1).pow(2).mean()
        return out.reshape(shape), aux, z


class DecoderLayer(nn.Module):
    def __init__(self, cfg, index):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.is_moe = cfg["num_experts"] > 0 and index >= cfg["first_k_dense_replace"]
        self.mlp = MoE(cfg) if self.is_moe else SwiGLU(d, cfg["intermediate_size"])

    def forward(self, x, rope):
        """Returns (x_out, router losses of this layer: aux + z, or 0 for a dense layer)."""
        x = x + self.self_attn(self.input_layernorm(x), rope)
        h = self.post_attention_layernorm(x)
        if self.is_moe:
            y, aux, z = self.mlp(h)
            return x + y, aux, z
        zero = x.new_zeros(())
        return x + self.mlp(h), zero, zero


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList(
            DecoderLayer(cfg, i) for i in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class Transformer(nn.Module):
    """forward(tokens (B, T), targets (B, T), negative = ignored) -> dict of losses:
    ce (mean over counted targets), aux, z (summed over MoE layers), total = ce + aux + z."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Decoder(cfg)
        self.tied = cfg["tie_word_embeddings"]
        if not self.tied:
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.rope = RotaryEmbedding(cfg["head_dim"], cfg["rope_theta"],
                                    cfg["max_position_embeddings"])

    def lm_head_weight(self):
        return self.model.embed_tokens.weight if self.tied else self.lm_head.weight

    def forward(self, tokens, targets):
        x = self.model.embed_tokens(tokens)
        aux = z = x.new_zeros(())
        for layer in self.model.layers:
            x, layer_aux, layer_z = layer(x, self.rope)
            aux, z = aux + layer_aux, z + layer_z
        logits = F.linear(self.model.norm(x), self.lm_head_weight())
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long(),
                             ignore_index=-1)
        return {"ce": ce, "aux": aux, "z": z, "total": ce + aux + z}


def init_params(model, initializer_range, seed):
    """Normal(0, initializer_range) matrices, residual-output projections (o_proj, down_proj)
    divided by sqrt(2 * layers), norms 1: Symphony's scheme (src/model/init.h), with torch's
    generator instead of Symphony's counter-based one."""
    gen = torch.Generator().manual_seed(seed)
    layers = model.cfg["num_hidden_layers"]
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
                continue
            std = initializer_range
            if name.endswith(("o_proj.weight", "down_proj.weight", "down_proj")):
                std /= math.sqrt(2.0 * layers)
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * std)


def count_params(cfg):
    """(total, active) as in Symphony's count_params (src/model/model_config.h): active counts
    the top-k routed experts of each MoE layer."""
    d, k, e = cfg["hidden_size"], cfg["num_experts_per_tok"], cfg["num_experts"]
    expert = 3 * d * cfg["moe_intermediate_size"]
    total = cfg["vocab_size"] * d * (1 if cfg["tie_word_embeddings"] else 2) + d
    attention = d * cfg["num_attention_heads"] * cfg["head_dim"] * 2 + \
        2 * d * cfg["num_key_value_heads"] * cfg["head_dim"]
    if cfg["qk_norm"]:
        attention += 2 * cfg["head_dim"]
    active = total
    for layer in range(cfg["num_hidden_layers"]):
        base = 2 * d + attention
        if e > 0 and layer >= cfg["first_k_dense_replace"]:
            shared = cfg["n_shared_experts"] * expert
            total += base + e * d + e * expert + shared
            active += base + e * d + k * expert + shared
        else:
            total += base + 3 * d * cfg["intermediate_size"]
            active += base + 3 * d * cfg["intermediate_size"]
    return total, active
