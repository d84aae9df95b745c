#pragma once
// Pre-norm multi-head latent attention sub-layer (DeepSeek-V2/V3) with its residual. With
// nope = qk_nope_head_dim, rope = qk_rope_head_dim, v = v_head_dim, Dq = nope + rope per head:
//   h = RMSNorm(x)
//   q = RMSNorm(h·Wq_a^T)·Wq_b^T, or h·Wq^T when q_lora_rank = 0       (N, H*Dq), per head
//                                                                      [q_nope | q_rope]
//   [c | k_rope] = h·Wkv_a^T        c: (N, kv_lora_rank), k_rope: (N, rope), one head for all
//   [k_nope_h | v_h] for each head h = RMSNorm(c)·Wkv_b^T               (N, H*(nope + v))
//   q_rope and k_rope rotated in DeepSeek's interleaved convention (kernels/rope_interleaved.h)
//   k_h = [k_nope_h | k_rope];  o = attention(q, k, v), scale 1/sqrt(Dq);  x_out = x + o·Wo^T
// Parameters, Hugging Face DeepSeek-V3 names: "<prefix>.input_layernorm.weight" and
// "<prefix>.self_attn.{q_a_proj, q_a_layernorm, q_b_proj | q_proj, kv_a_proj_with_mqa,
// kv_a_layernorm, kv_b_proj, o_proj}.weight", with DeepSeek's row orders: q_b_proj (q_proj) per
// head [nope | rope], kv_a_proj_with_mqa [c | k_rope], kv_b_proj per head [k_nope | v].
// Not implemented: YaRN rope scaling (rope_scaling) and its softmax-scale correction (mscale);
// the rotation is plain RoPE of base rope_theta.
//
// The attention kernel takes query/key heads of Dq columns and value heads of v columns as they
// are (kernels/attention.h), so nothing is padded.
//
// Tensor parallelism (model/tensor_parallel.h): q_b (q) and kv_b are column-parallel by heads
// and o row-parallel, so rank r runs heads [r*H/tp, (r+1)*H/tp). The down-projections q_a and
// kv_a and their norms are replicated: every rank computes them for all rows of the micro-batch,
// and their gradients, each rank's part from its own heads, are summed over tp by the caller
// (partial_grads()), like the input norm's under sequence parallelism.
//
// Generation (forward_cached) keeps per position only [RMSNorm(c) | RoPE(k_rope)]
// (kv_lora_rank + rope values, KvCache::latent) and attends in that latent space with weight
// absorption (DeepSeek-V2, section 2.1.3): each head's query part q_nope is folded through the
// key half of its Wkv_b block (q_nope·Wuk_h, kv_lora_rank wide), so its scores against the cache
// equal those against the full keys, and the value half is applied to the head's attention
// output (o_h = (P·RMSNorm(c))·Wuv_h^T).

#include <string>
#include <vector>

#include "core/checked_math.h"
#include "model/attention_block.h"
#include "model/batch_shape.h"
#include "model/model_config.h"
#include "model/param_store.h"
#include "model/tensor_parallel.h"

namespace symphony {

// Activations one MLA sub-layer saves for backward, sized for a row capacity. `config` is the
// rank's local view (MlaBlock::local_config): its heads. `rows` counts the micro-batch's rows,
// `local_rows` those of the residual stream this rank holds.
// Two precisions (model/act_stash.h), as AttentionActs: kept as computed, or bf16, where q, k, v,
// out, the latent c and the query latent q_a are saved in bf16 on the model's ActScratch, the
// norms of the latents are recomputed from them (rmsnorm_apply) and the normed input h from the
// sub-layer's input into `normed`. The inverse RMS values and the logsumexp stay fp32.
// The block calls save() at the end of its forward pass and restore() before its backward pass.
struct MlaActs : SubLayerActs {
  Buffer inv_rms;  // inverse RMS of the normed input (local rows)
  Buffer q_inv;    // with q_lora_rank: of the query latent (N)
  Buffer c_inv;    // of the latent (N)
  Buffer lse;      // logsumexp (N, H)

  MlaActs() = default;
  MlaActs(const ModelConfig& config, int64_t rows, int64_t local_rows, DType dtype);
  MlaActs(const ModelConfig& config, int64_t rows, int64_t local_rows, ActScratch& scratch,
          View normed);

  // h(local rows): the normed input (local rows, D).
  // After RoPE: (N, H*Dq), (N, H*Dq), (N, H*v); the attention output (N, H*v).
  View q(int64_t n) { return stashed(0, n); }
  View k(int64_t n) { return stashed(1, n); }
  View v(int64_t n) { return stashed(2, n); }
  View out(int64_t n) { return stashed(3, n); }
  View c(int64_t n) { return stashed(4, n); }  // latent (N, kv_lora)
  View c_norm(int64_t n) { return stashed(c_norm_at_, n); }  // its norm
  // With q_lora_rank: h·Wq_a^T (N, q_lora) and its norm.
  View q_a(int64_t n) { return stashed(5, n); }
  View q_lat(int64_t n) { return stashed(c_norm_at_ + 1, n); }

  // The widths of the stashed tensors: q, k, v, out, c, [q_a], then c_norm, [q_lat]; and how
  // many of them bf16 keeps (those before c_norm; the norms are recomputed from them).
  static std::vector<int64_t> stashed_widths(const ModelConfig& config);
  static size_t stored(const ModelConfig& config) { return config.q_lora_rank > 0 ? 6 : 5; }
  // Elements of the buffers (model/memory_plan.cc counts them), kept as computed or in bf16.
  static CheckedInt numel(const ModelConfig& config, CheckedInt rows, CheckedInt local_rows,
                          bool bf16 = false);

 private:
  size_t c_norm_at_ = 5;
};

// Working memory shared by all layers (used one layer at a time): gradients in backward, the
// up-projection and rotary key in forward, the per-head latent attention of forward_cached.
struct MlaScratch {
  // Rows of new tokens forward_cached attends at once (it walks longer inputs in chunks).
  static constexpr int64_t kDecodeRows = 64;
  Buffer dh, dq, dk, dv, dout;  // (N, D), (N, H*Dq) x 2, (N, H*v) x 2
  Buffer dkv;                   // (N, H*(nope + v)); forward: the keys' and values'
                                // up-projection
  Buffer dk_rope;               // (N, rope); forward: k_rope
  Buffer dc, dq_lat;            // (N, kv_lora), (N, q_lora) with q_lora_rank
  // forward_cached, min(N, kDecodeRows) rows: one head's absorbed query and latent output
  // (.., kv_lora + rope), logsumexp (.., 1), query part q_nope (.., nope), latent (.., kv_lora),
  // output (.., v).
  Buffer dec_q, dec_o, dec_lse, dec_nope, dec_lat, dec_v;
  MlaScratch() = default;
  MlaScratch(const ModelConfig& config, int64_t rows, DType dtype);
  static CheckedInt numel(const ModelConfig& config, CheckedInt rows);
};

class MlaBlock {
 public:
  // The store's placement says which heads this rank runs.
  MlaBlock(const ModelConfig& config, const std::string& prefix, ParamStore& store);
  // The config as one rank of tensor-parallel size placement.size[kTensor] sees it: its heads.
  // REQUIRES: tp divides num_attention_heads (the run config's validation).
  static ModelConfig local_config(const ModelConfig& config, const ShardPlacement& placement);

  // Training: x, x_out are the rank's rows of the residual stream (tp.local_rows(shape.rows()),
  // D). x_out may not alias x. `rope`: rope_table(dtype, max_pos, qk_rope_head_dim, rope_theta).
  // Collective over tp.
  void forward(const Exec& ex, const ParamStore& store, ConstView rope, const BatchShape& shape,
               TensorParallel& tp, ConstView x, MlaActs& acts, MlaScratch& scratch,
               View x_out) const;
  // dx = dx_out + d(attention)/dx. dx may alias dx_out. Collective over tp.
  void backward(const Exec& ex, ParamStore& store, ConstView rope, const BatchShape& shape,
                TensorParallel& tp, ConstView x, MlaActs& acts, MlaScratch& scratch,
                ConstView dx_out, View dx) const;
  // Replicated parameters whose gradient each tensor-parallel rank holds a part of, to be summed
  // over tp: the down-projections and their norms, and the input norm under sequence
  // parallelism.
  std::vector<ParamId> partial_grads(bool sequence_parallel) const;
  // Decoding (one process, batch 1): x holds the n newest tokens of one sequence whose earlier
  // latents are in `cache` (KvCache::latent); appends theirs.
  void forward_cached(const Exec& ex, const ParamStore& store, ConstView rope, ConstView x,
                      MlaActs& acts, MlaScratch& scratch, KvCache& cache, View x_out) const;

 private:
  // The queries, latents and rotary key of the normed rows h (this rank's rows; n rows of the
  // micro-batch whose positions start at pos_offset): fills acts.q (rotated), acts.c,
  // acts.c_norm (and the query latents) and scratch.dk_rope with the rotated k_rope. The keys'
  // and values' up-projection is left to forward (decoding absorbs it instead).
  void project(const Exec& ex, const ParamStore& store, ConstView rope, TensorParallel& tp,
               ConstView h, int64_t n, int64_t seq_len, int64_t pos_offset, MlaActs& acts,
               MlaScratch& scratch) const;

  ModelConfig config_;  // local_config(): this rank's heads
  ParamId norm_ = -1, q_a_ = -1, q_a_norm_ = -1, q_b_ = -1, q_ = -1, kv_a_ = -1, kv_a_norm_ = -1,
          kv_b_ = -1, o_ = -1;
};

}  // namespace symphony
