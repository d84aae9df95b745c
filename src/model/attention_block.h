#pragma once
// Pre-norm causal self-attention sub-layer with its residual:
//   h = RMSNorm(x);  q = h·Wq^T, k = h·Wk^T, v = h·Wv^T
//   [qk_norm: per-head RMSNorm of q and k (Qwen3)];  RoPE on q and k
//   o = attention(q, k, v) (GQA, causal);  x_out = x + o·Wo^T
// Parameters: "<prefix>.input_layernorm.weight", "<prefix>.self_attn.{q,k,v,o}_proj.weight",
// "<prefix>.self_attn.{q,k}_norm.weight".

#include <string>

#include "kernels/attention.h"
#include "model/batch_shape.h"
#include "model/model_config.h"
#include "model/param_store.h"

namespace symphony {

// Activations one attention sub-layer saves for backward, sized for a row capacity.
struct AttentionActs {
  Buffer h, inv_rms;          // normed input (N, D), its inverse RMS (N)
  Buffer q_raw, k_raw;        // projections before qk_norm (only with qk_norm)
  Buffer q_inv, k_inv;        // per-head inverse RMS of qk_norm: (N*H), (N*Hkv)
  Buffer q, k, v;             // after qk_norm and RoPE: (N, H*Dh), (N, Hkv*Dh), (N, Hkv*Dh)
  Buffer out, lse;            // attention output (N, H*Dh), logsumexp (N, H)
  AttentionActs() = default;
  AttentionActs(const ModelConfig& config, int64_t rows, DType dtype);
};

// Gradient scratch shared by all layers (used one layer at a time).
struct AttentionScratch {
  Buffer dh, dq, dk, dv, dout;
  AttentionScratch() = default;
  AttentionScratch(const ModelConfig& config, int64_t rows, DType dtype);
};

// Keys and values of past positions for incremental decoding (batch 1).
struct KvCache {
  Buffer k, v;  // (capacity, Hkv*Dh), after qk_norm and RoPE
  int64_t length = 0;
};

class AttentionBlock {
 public:
  AttentionBlock(const ModelConfig& config, const std::string& prefix, ParamStore& store);

  // Training: x, x_out are (shape.rows(), D). x_out may not alias x.
  void forward(const Exec& ex, const ParamStore& store, ConstView rope, const BatchShape& shape,
               ConstView x, AttentionActs& acts, View x_out) const;
  // dx = dx_out + d(attention)/dx. dx may alias dx_out.
  void backward(const Exec& ex, ParamStore& store, ConstView rope, const BatchShape& shape,
                ConstView x, AttentionActs& acts, AttentionScratch& scratch, ConstView dx_out,
                View dx) const;
  // Decoding: x holds the n newest tokens of one sequence whose earlier keys are in `cache`;
  // appends their keys and values to the cache.
  void forward_cached(const Exec& ex, const ParamStore& store, ConstView rope, ConstView x,
                      AttentionActs& acts, KvCache& cache, View x_out) const;

 private:
  // Norm, projections, qk_norm and RoPE for n rows whose positions start at pos_offset.
  void project(const Exec& ex, const ParamStore& store, ConstView rope, ConstView x, int64_t n,
               int64_t seq_len, int64_t pos_offset, AttentionActs& acts) const;

  ModelConfig config_;
  ParamId norm_, q_, k_, v_, o_, q_norm_ = -1, k_norm_ = -1;
};

}  // namespace symphony
