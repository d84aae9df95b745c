#pragma once
// Pre-norm causal self-attention sub-layer with its residual:
//   h = RMSNorm(x);  q = h·Wq^T, k = h·Wk^T, v = h·Wv^T
//   [qk_norm: per-head RMSNorm of q and k (Qwen3)];  RoPE on q and k
//   o = attention(q, k, v) (GQA, causal);  x_out = x + o·Wo^T
// Parameters: "<prefix>.input_layernorm.weight", "<prefix>.self_attn.{q,k,v,o}_proj.weight",
// "<prefix>.self_attn.{q,k}_norm.weight".
//
// Tensor parallelism (model/tensor_parallel.h): q, k and v are column-parallel by heads and the
// output projection row-parallel, so rank r runs heads [r*H/tp, (r+1)*H/tp) and the KV heads they
// read. When tp exceeds the KV heads, each KV head is held by tp/Hkv consecutive ranks (as for
// multi-query attention); its gradient is summed over them. Norm weights are replicated; their
// gradients are partial on each rank and the caller sums them (partial_grads()). Under sequence
// parallelism the normed input is saved as this rank's rows only and gathered again in backward.

#include <string>
#include <vector>

#include "kernels/attention.h"
#include "model/act_stash.h"
#include "model/batch_shape.h"
#include "model/model_config.h"
#include "model/param_store.h"
#include "model/tensor_parallel.h"

namespace symphony {

// Activations one attention sub-layer saves for backward, sized for a row capacity.
// `config` is the rank's local view (AttentionBlock::local_config): its heads. `rows` counts the
// micro-batch's rows, `local_rows` those of the residual stream this rank holds.
// Two precisions (model/act_stash.h):
//  - kept as computed: every tensor below in the model's dtype;
//  - bf16 (train.precision = "bf16" or "fp8" without recomputation): q, k, v, out and the raw
//    projections are saved in bf16 and worked on in the model's ActScratch, and the normed input
//    h is not saved at all: the backward pass recomputes it from the sub-layer's input and the
//    saved inverse RMS (rmsnorm_apply: forward's values, bitwise) into `normed`, a (local_rows, D)
//    working set the model's layers share. The inverse RMS, qk_norm's and the logsumexp stay
//    fp32, as the kernels reading them need.
// The block calls save() at the end of its forward pass and restore() before its backward pass.
struct AttentionActs : SubLayerActs {
  Buffer inv_rms;             // inverse RMS of the normed input (local rows)
  Buffer q_inv, k_inv;        // per-head inverse RMS of qk_norm: (N*H), (N*Hkv)
  Buffer lse;                 // logsumexp of the attention rows (N, H)

  AttentionActs() = default;
  AttentionActs(const ModelConfig& config, int64_t rows, DType dtype)
      : AttentionActs(config, rows, rows, dtype) {}
  AttentionActs(const ModelConfig& config, int64_t rows, int64_t local_rows, DType dtype);
  AttentionActs(const ModelConfig& config, int64_t rows, int64_t local_rows, ActScratch& scratch,
                View normed);

  // h(local rows): the normed input (local rows, D).
  // After qk_norm and RoPE: (N, H*Dh), (N, Hkv*Dh), (N, Hkv*Dh); the attention output (N, H*Dh).
  View q(int64_t n) { return stashed(0, n); }
  View k(int64_t n) { return stashed(1, n); }
  View v(int64_t n) { return stashed(2, n); }
  View out(int64_t n) { return stashed(3, n); }
  // The projections before qk_norm (only with qk_norm).
  View q_raw(int64_t n) { return stashed(4, n); }
  View k_raw(int64_t n) { return stashed(5, n); }

  // The widths of the stashed tensors (q, k, v, out, then q_raw and k_raw with qk_norm).
  static std::vector<int64_t> stashed_widths(const ModelConfig& config);
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
  // Multi-head latent attention (model/mla_block.h) keeps this instead of k and v:
  // (capacity, kv_lora_rank + qk_rope_head_dim), [RMSNorm(c) | RoPE(k_rope)] per position.
  Buffer latent;
  int64_t length = 0;
};

class AttentionBlock {
 public:
  // The store's placement says which heads this rank runs.
  AttentionBlock(const ModelConfig& config, const std::string& prefix, ParamStore& store);
  // The config as one rank of tensor-parallel size placement.size[kTensor] sees it: its query
  // and KV heads. REQUIRES: the heads split (ModelConfig::validate_tensor_parallel).
  static ModelConfig local_config(const ModelConfig& config, const ShardPlacement& placement);

  // Training: x, x_out are the rank's rows of the residual stream (tp.local_rows(shape.rows()),
  // D). x_out may not alias x. Collective over tp.
  void forward(const Exec& ex, const ParamStore& store, ConstView rope, const BatchShape& shape,
               TensorParallel& tp, ConstView x, AttentionActs& acts, View x_out) const;
  // dx = dx_out + d(attention)/dx. dx may alias dx_out. Collective over tp.
  void backward(const Exec& ex, ParamStore& store, ConstView rope, const BatchShape& shape,
                TensorParallel& tp, ConstView x, AttentionActs& acts, AttentionScratch& scratch,
                ConstView dx_out, View dx) const;
  // Replicated parameters whose gradient each tensor-parallel rank holds a part of (to be summed
  // over tp), and the KV projections when their heads are replicated (to be summed over the
  // ranks sharing a head; kv_replicas() ranks each).
  std::vector<ParamId> partial_grads(bool sequence_parallel) const;
  std::vector<ParamId> kv_params() const { return {k_, v_}; }
  int kv_replicas() const { return kv_replicas_; }
  // Decoding: x holds the n newest tokens of one sequence whose earlier keys are in `cache`;
  // appends their keys and values to the cache.
  void forward_cached(const Exec& ex, const ParamStore& store, ConstView rope, ConstView x,
                      AttentionActs& acts, KvCache& cache, View x_out) const;

 private:
  // Projections, qk_norm and RoPE of the normed rows h (this rank's rows; n rows of the
  // micro-batch whose positions start at pos_offset), the projections column-parallel over tp.
  void project(const Exec& ex, const ParamStore& store, ConstView rope, TensorParallel& tp,
               ConstView h, int64_t n, int64_t seq_len, int64_t pos_offset,
               AttentionActs& acts) const;

  ModelConfig config_;  // local_config(): this rank's heads
  int kv_replicas_ = 1;
  ParamId norm_, q_, k_, v_, o_, q_norm_ = -1, k_norm_ = -1;
};

}  // namespace symphony
