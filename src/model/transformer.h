#pragma once
// Decoder-only MoE transformer with explicit forward and backward:
//   x0 = embed(tokens);  x_{l+1} = layer_l(x_l);  loss = CE(lm_head(RMSNorm(x_L)), targets)
//   layer: x_mid = x + Attention(RMSNorm(x));  x_out = x_mid + FFN(RMSNorm(x_mid))
//   Attention = model/attention_block.h, or multi-head latent attention (model/mla_block.h)
//               when model.kv_lora_rank > 0.
//   FFN = dense SwiGLU for layers < first_k_dense_replace (or all layers of a dense model),
//         MoE otherwise.
// Multi-token prediction (model.num_nextn_predict_layers = D > 0, model/mtp_block.h), in training
// only: from h^0 = x_L, module k = 1..D computes h^k = layer_{L+k-1}(combine_k(h^{k-1}, embedding
// of the token k ahead)) and the CE of lm_head(RMSNorm_k(h^k)) against the token k + 1 ahead
// (docs/mtp.md). Its layers are decoder layers like the others (layer indices L .. L+D-1, with
// their own activations, router statistics and selection biases) and live on the last pipeline
// stage, with the model's LM head and (or a stage copy of) its embedding.
// All memory is allocated at construction for a maximum batch shape: parameters and gradients
// (ParamStore), the residual stream of every layer, and saved activations — one set per layer,
// or a single shared set with full recomputation, where backward re-runs each layer's forward
// from its saved input. A training step allocates nothing.
// Thread-safety: none; one Transformer per training process.

#include <memory>
#include <span>
#include <vector>

#include "core/host_memory.h"
#include "core/precision.h"
#include "kernels/cross_entropy.h"
#include "model/attention_block.h"
#include "model/batch_shape.h"
#include "model/mla_block.h"
#include "model/mlp.h"
#include "model/mtp_block.h"
#include "model/model_parallel.h"
#include "model/moe/moe_block.h"
#include "model/param_store.h"
#include "model/recompute.h"
#include "model/tensor_parallel.h"
#include "model/unit_hooks.h"
#include "model/weight_grad_queue.h"

namespace symphony {

// Whether a backward pass accumulates its weight gradients at once or leaves them to a later
// weight pass (zero-bubble pipeline schedules).
enum class WeightGrads : uint8_t { kNow, kDeferred };

class Transformer {
 public:
  // Rows of logits the fused LM-head loss holds at once (capped by the batch's rows): about 16M
  // logits (64 MiB in fp32), so the chunk's GEMMs are large enough to run near the SGEMM
  // ceiling (bench/cross_entropy_bench.cc: at vocab 8192, 2048 rows 135 ms, 1024 rows 150 ms,
  // 256 rows 151 ms), and at least 256 rows for very large vocabularies.
  static constexpr int64_t cross_entropy_chunk_rows(int64_t vocab_size) {
    constexpr int64_t kLogits = int64_t(1) << 24, kMinRows = 256;
    return vocab_size > 0 && kLogits / vocab_size > kMinRows ? kLogits / vocab_size : kMinRows;
  }

  // Elements of the shared working set of a model keeping its activations in bf16
  // (model/act_stash.h): the largest of its attention layers' (attn_config: this rank's heads),
  // dense MLPs' (rows x mlp_width) and MoE layers' SwiGLUs (`shard` rows routed,
  // MoeActs::swiglu_scratch_elems).
  static int64_t act_scratch_elems(const ModelConfig& config, const ModelConfig& attn_config,
                                   int64_t rows, int64_t shard, int64_t mlp_width, bool moe,
                                   bool dense, int expert_ranks, int expert_tensor_ranks);

  // Allocates everything for batches up to `max_shape`.
  // REQUIRES: config.validate() is ok, the plan of model/memory_plan.h is computable for
  // max_shape (plan_training_memory_checked) and `recompute` is kNone or kFull; `create` checks
  // all three and the memory too.
  // `parallel`: which blocks of sharded parameters this rank holds and its ep group
  // (model/model_parallel.h); the default is one process holding everything.
  // `saved`: kBf16 keeps the activations of the attention (q, k, v, its output, MLA's latents),
  // the SwiGLUs (dense MLPs, routed and shared experts) and the MoE layers' grouped rows between
  // the forward and backward passes in bf16 (model/act_stash.h) and recomputes the normed inputs
  // instead of keeping them, for runs whose GEMMs are bf16 or fp8 (train.precision); only without
  // recomputation, which keeps one set.
  Transformer(const ModelConfig& config, DType dtype, BatchShape max_shape, Recompute recompute,
              ParamResidency residency = {}, const ModelParallel& parallel = {},
              Precision saved = Precision::kFp32);
  ~Transformer();

  // The constructor behind checks, for models whose config comes from a file: refuses
  // (kInvalidArgument) a config that fails validate(), sizes whose byte counts overflow int64, and
  // a model whose weights, gradients and activations (model/memory_plan.h; the resident ones under
  // `residency`) exceed the memory available to this process (`host`, core/host_memory.h), before
  // anything is allocated. The message names the bytes needed and available, the largest category
  // and, for parameters, the largest tensor.
  static Result<std::unique_ptr<Transformer>> create(const ModelConfig& config, DType dtype,
                                                     BatchShape max_shape, Recompute recompute,
                                                     ParamResidency residency = {});
  static Result<std::unique_ptr<Transformer>> create(const ModelConfig& config, DType dtype,
                                                     BatchShape max_shape, Recompute recompute,
                                                     ParamResidency residency,
                                                     const HostMemory& host);
  static Result<std::unique_ptr<Transformer>> create(const ModelConfig& config, DType dtype,
                                                     BatchShape max_shape, Recompute recompute,
                                                     ParamResidency residency,
                                                     const ModelParallel& parallel,
                                                     const HostMemory& host);

  const ModelConfig& config() const { return config_; }
  ParamStore& params() { return params_; }
  const ParamStore& params() const { return params_; }
  BatchShape max_shape() const { return max_shape_; }

  // Forward and backward of one micro-batch; gradients are added to params().grad.
  // Under tensor parallelism every rank of the tp group passes the same tokens and targets and
  // gets the same result.
  // tokens, targets: shape.rows() ids; target < 0 is ignored. Returns the summed CE loss of the
  // main LM head. With MTP the objective's gradient also holds, for each depth k, lambda / D times
  // the mean CE of depth k over the positions whose target k + 1 ahead lies in the sequence:
  // scaled by scales.token * T / (T - k) (scales.token is 1 / the step's positions, T of each
  // sequence, and depth k has a target at T - k of them); its sums are added to mtp_losses().
  // Under expert parallelism both are collective over the ep group; a communication failure is
  // kept in comm_status() (the caller checks it after each call).
  CrossEntropyResult forward_backward(const Exec& ex, const BatchShape& shape,
                                      std::span<const int32_t> tokens,
                                      std::span<const int32_t> targets, const LossScales& scales);
  // Forward only (evaluation). Router statistics are not recorded.
  CrossEntropyResult evaluate(const Exec& ex, const BatchShape& shape,
                              std::span<const int32_t> tokens, std::span<const int32_t> targets);

  // Pipeline stages (parallel/pipeline_stages.h; train/pipeline_step.h runs them): the rank holds
  // the sub-layers of its chunks (params().placement().pipeline): whole layers, and where a chunk
  // begins or ends inside a layer that layer's feed-forward or attention. A pass runs one
  // micro-batch through one chunk and keeps its activations in `slot` (0 <= slot < slots()) until
  // the chunk's backward of that micro-batch. forward_backward() and evaluate() are these passes
  // over one chunk and slot 0, back to back.
  int chunks() const { return int(chunk_ranges_.size()); }
  int slots() const { return slots_; }
  // The rows where a chunk's input is received before forward_chunk (not the first virtual
  // stage, which embeds tokens), and its output after (not the last one).
  View chunk_input(int chunk, int slot, int64_t n);
  ConstView chunk_output(int chunk, int slot, int64_t n);
  // The first virtual stage embeds `tokens`; the last one ends with the final norm, and in
  // training the MTP modules' forward (which read `tokens` too) and, where its stage runs the
  // loss in the forward (PipelineStages::loss_in_forward: GPipe), the LM head's loss over
  // `targets`, returned (zero elsewhere), with the slot's logit gradients kept for the backward.
  // With `train` false (evaluation) router statistics are not recorded, MTP does not run and
  // there is no loss (chunk_loss()).
  CrossEntropyResult forward_chunk(const Exec& ex, const BatchShape& shape, int chunk, int slot,
                                   std::span<const int32_t> tokens,
                                   std::span<const int32_t> targets, const LossScales& scales,
                                   bool train);
  // The last virtual stage starts from the LM head's loss over `targets` (returned; zero
  // elsewhere and where forward_chunk returned it: then from the logit gradients it kept) and
  // the MTP modules' backward, the others from `dy`, the gradient of
  // chunk_output(). The first virtual stage ends with the embedding's gradient for `tokens`; the
  // others write the gradient of chunk_input() into `dx`. Gradients are added to
  // params().grad; with WeightGrads::kDeferred the weight-gradient GEMMs of the layers (the MTP
  // modules' included) and of the LM head (without tensor parallelism, without MTP, and unless
  // the stage also holds the tied embedding) are held back (model/weight_grad_queue.h) until
  // weight_grads(key) with the same `key` (zero-bubble schedules: B, then W).
  CrossEntropyResult backward_chunk(const Exec& ex, const BatchShape& shape, int chunk, int slot,
                                    std::span<const int32_t> tokens,
                                    std::span<const int32_t> targets, ConstView dy,
                                    const LossScales& scales, View dx,
                                    WeightGrads weight_grads = WeightGrads::kNow, int key = 0);
  // The weight gradients held back by backward_chunk(..., kDeferred, key) or head_pass.
  void weight_grads(const Exec& ex, int key);
  // The head split (PipelineStages::split_head; train/pipeline_step.h runs it): the H pass of
  // the micro-batch in `slot`, with k = remote_head_rows(n) of its n rows scored on the first
  // stage. On the last stage: the LM head and loss over the first n - k rows of the slot's final
  // hidden states, whose input gradient backward_chunk takes up next (it then no longer runs the
  // loss); with WeightGrads::kDeferred the head's weight gradient waits for weight_grads(key)
  // where backward_chunk would defer it too (the cpu kernels, f32 weights).
  // On the first stage: over the last k rows, whose final hidden states `h` (k x D) the last
  // stage sent (remote_head_input), the head being the tied embedding or the stage's copy of the
  // untied LM head (stage_copy()); writes their input gradient into `dh` (k x D) and adds the
  // weight gradient at once: a backward use of the head's hook block, the micro-batch's last for
  // the untied head's copy but not for the tied embedding, whose own backward comes after (the
  // caller tells a sharded layout). `targets`: all n of the micro-batch. Returns the summed loss
  // of the rows scored.
  CrossEntropyResult head_pass(const Exec& ex, const BatchShape& shape, int slot,
                               std::span<const int32_t> targets, const LossScales& scales,
                               ConstView h, View dh, WeightGrads weight_grads, int key);
  // Last stage, head split: the final hidden states of the rows the first stage scores (after
  // forward_chunk of `slot`), and where their input gradient goes before backward_chunk.
  ConstView remote_head_input(int slot, int64_t n) const;
  View remote_head_grad(int64_t n);
  const WeightGradQueue& weight_grad_queue() const { return *weight_grad_queue_; }
  // The last virtual stage's loss after forward_chunk(train = false): no gradients.
  CrossEntropyResult chunk_loss(const Exec& ex, const BatchShape& shape, int slot,
                                std::span<const int32_t> targets);
  // The copy of the embedding this rank holds when the embedding lives on another stage and the
  // last stage reads it (pipeline parallelism with tied embeddings, as the LM head, or with MTP),
  // or on the first stage the copy of the untied LM head the head split scores with; -1 for
  // none. Its gradient must be summed with its primary's before the optimizer step.
  ParamId stage_copy() const { return head_copy_; }
  ParamId embedding() const { return embed_; }
  // What this rank at one end of a pipeline sums over the pair of ends (train/train_step.h): its
  // stage copy, or else the primary a copy on the other end copies (the embedding, or with the
  // head split and an untied head the LM head); -1 when nothing is shared.
  ParamId pipeline_end_shared() const;

  // Tensor-parallel communication since the last call.
  ExchangeTimes take_tensor_comm() {
    ExchangeTimes t = tp_.take_times();
    t.add(kv_tp_.take_times());
    return t;
  }
  // The first communication failure of the expert exchange or the tensor-parallel group, or ok.
  const Status& comm_status() const { return comm_status_; }
  // MTP: each depth's summed CE and counted rows since reset_mtp_losses() (this rank's part;
  // zeros on stages other than the last); [depth - 1].
  const std::vector<CrossEntropyResult>& mtp_losses() const { return mtp_losses_; }
  void reset_mtp_losses();
  // Router statistics of MoE layers since reset_moe_stats(); [layer] over
  // config().num_layers_with_mtp() (the MTP modules' layers last), empty for dense layers.
  const std::vector<MoeStats>& moe_stats() const { return moe_stats_; }
  // Mutable, so data parallelism can sum them over replicas before the balance-bias update.
  std::vector<MoeStats>& moe_stats() { return moe_stats_; }
  // Called around every use of a parameter unit by forward_backward() and evaluate(); nullptr
  // (the default) for none. Not called by decode(). The hooks must outlive their use.
  void set_unit_hooks(UnitHooks* hooks) { hooks_ = hooks; }
  void reset_moe_stats();
  // Aux-loss-free balancing: nudges each MoE layer's selection bias by the step's loads.
  void update_balance_bias(double rate);
  // Selection bias of MoE layer `layer` (E values; empty view for dense layers).
  View balance_bias(int64_t layer);

  // Incremental decoding for one sequence: feeds `tokens` (the next positions after what the
  // caches hold) and writes the logits of the last one into `logits` (V).
  // REQUIRES: max_shape().batch == 1 and cache length + tokens.size() <= max_shape().seq_len.
  void decode(const Exec& ex, std::span<const int32_t> tokens, std::vector<KvCache>& caches,
              View logits);
  std::vector<KvCache> make_kv_caches() const;

  // Elements of the flat parameter buffer this config needs on a rank at `placement` (alignment
  // padding included), computed without allocating; model/memory_plan.h builds on it.
  static int64_t param_numel(const ModelConfig& config, const ShardPlacement& placement = {});
  // A store holding the declarations (names, shapes, sharding, blocks and units) of every
  // parameter as a rank at `placement` holds them, not allocated. The planner, memory plans and
  // sharded state read it.
  static ParamStore declare_params(const ModelConfig& config,
                                   const ShardPlacement& placement = {});

 private:

  struct Layer;
  struct LayerActs;
  struct Declared;
  static void declare(const ModelConfig& config, const ModelParallel& parallel, ParamStore& store,
                      Declared& out);

  void layer_forward(const Exec& ex, int64_t l, const BatchShape& shape, ConstView x,
                     LayerActs& acts, const LossScales& scales, View x_out, MoeStats& stats);
  void layer_backward(const Exec& ex, int64_t l, const BatchShape& shape, ConstView x,
                      LayerActs& acts, const LossScales& scales, View dres, MoeStats& stats);
  // The sub-layers of layer_forward and layer_backward (a pipeline stage may run one of them):
  // x_mid = x + Attention(RMSNorm(x)); the feed-forward's backward from its input x_mid, adding
  // its input gradient to dres.
  void attention_forward(const Exec& ex, const Layer& layer, const BatchShape& shape, ConstView x,
                         LayerActs& acts, View x_mid);
  void feed_forward_backward(const Exec& ex, const Layer& layer, const BatchShape& shape,
                             ConstView x_mid, LayerActs& acts, const LossScales& scales,
                             View dres, MoeStats& stats);
  void note(Status s) {
    if (!s.is_ok() && comm_status_.is_ok()) comm_status_ = std::move(s);
  }
  LayerActs& acts_for(int slot, int64_t l);
  ConstView lm_head_weight() const;
  View lm_head_grad();
  // The hook blocks the LM head is used in besides the final norm's (tied embeddings), or -1.
  int lm_head_extra_block() const;
  // The hook block holding the LM head's weight on the last stage: the tied embedding's (or its
  // copy's), the untied head's own under the head split, else the final norm's.
  int head_weight_block() const;
  // Gradients that each tensor-parallel rank computes a part of (replicated norms and router,
  // KV heads shared by several ranks) are summed over their group after each block's backward;
  // start_ sets aside what earlier micro-batches accumulated so only this one's parts are summed.
  void start_partial_grads(std::span<const ParamId> tp_ids, std::span<const ParamId> kv_ids);
  void finish_partial_grads(std::span<const ParamId> tp_ids, std::span<const ParamId> kv_ids);
  // Rows of the residual stream this rank holds for a micro-batch of n rows at layer l's input
  // (l = the chunk's end: its output), in activation slot `slot`.
  View residual(int slot, int chunk, int64_t l, int64_t n);
  // The LM head and loss over the final hidden states of `slot` (or the rows `h`); with `grad`
  // the input gradient lands in dh_ and the head's gradient is accumulated, or recorded in the
  // weight-gradient queue's current pass with `defer` (tp = 1 only).
  CrossEntropyResult head_loss(const Exec& ex, int slot, int64_t n,
                               std::span<const int32_t> targets, double grad_scale, bool grad,
                               bool defer = false);
  CrossEntropyResult head_loss(const Exec& ex, ConstView h, int64_t n,
                               std::span<const int32_t> targets, double grad_scale, bool grad,
                               bool defer = false);
  // The fused LM-head loss of the rows `h` with head weight `w` (one rank, the whole
  // vocabulary): dh written, the weight gradient added to dw, or with `defer` recorded in the
  // weight-gradient queue's current pass.
  CrossEntropyResult head_rows_loss(const Exec& ex, ConstView h, ConstView w,
                                    std::span<const int32_t> targets, double grad_scale, View dh,
                                    View dw, bool defer);
  // Whether this stage runs the loss in forward_chunk (PipelineStages::loss_in_forward, with
  // the f32 fast kernels; otherwise in the backward as everywhere else).
  bool loss_in_forward(const Exec& ex) const;
  // The LM head's gradients of `slot` from the logit gradients forward_chunk kept: as head_loss
  // with `grad`, bitwise.
  void head_grads(const Exec& ex, int slot, int64_t n);
  // Whether backward_chunk(kDeferred) may hold back the LM head's weight gradient: one rank
  // scores the whole vocabulary, the cpu kernels run, no MTP module adds to it in B, and the
  // head's weight is not the embedding this stage also updates (the sums would change order).
  bool head_weight_deferrable(const Exec& ex) const;
  // MTP (model/mtp_block.h) on the last virtual stage: forward from the main model's output in
  // `slot`; backward adds the gradient of that output to `dres`. The embedding they read is the
  // first stage's or its copy here: mtp_embedding_block().
  void mtp_forward(const Exec& ex, const BatchShape& shape, int chunk, int slot,
                   std::span<const int32_t> tokens, const LossScales& scales);
  void mtp_backward(const Exec& ex, const BatchShape& shape, int chunk, int slot,
                    std::span<const int32_t> tokens, std::span<const int32_t> targets,
                    const LossScales& scales, View dres, bool defer, int key);
  int mtp_embedding_block() const { return first_stage_ ? embed_block_ : head_copy_block_; }
  ParamId mtp_embedding() const { return first_stage_ ? embed_ : head_copy_; }
  // Depth k's input tokens (t_{i+k}, 0 past the sequence) and targets (t_{i+k+1}, -1 past it)
  // into mtp_tokens_ and mtp_targets_.
  void mtp_shift(const BatchShape& shape, int64_t k, std::span<const int32_t> tokens,
                 std::span<const int32_t> targets);
  void check_shape(const BatchShape& shape) const;

  void hook_before_forward(int block) { if (hooks_) hooks_->before_forward(block); }
  void hook_after_forward(int block) { if (hooks_) hooks_->after_forward(block); }
  void hook_before_backward(int block) { if (hooks_) hooks_->before_backward(block); }
  void hook_after_backward(int block) { if (hooks_) hooks_->after_backward(block); }
  void hook_after_input_grads(int block) { if (hooks_) hooks_->after_input_grads(block); }

  ModelConfig config_;
  DType dtype_;
  int expert_ranks_ = 1;
  UnitHooks* hooks_ = nullptr;
  Status comm_status_;
  BatchShape max_shape_;
  Recompute recompute_;
  ParamStore params_;
  TensorParallel tp_;                 // the tp group (one rank without tensor parallelism)
  std::unique_ptr<Comm> kv_group_;    // tp ranks sharing a replicated KV head, or none
  TensorParallel kv_tp_;              // over kv_group_
  // Held by the first virtual stage (embedding) and the last (final norm, LM head); -1 elsewhere.
  ParamId embed_ = -1, final_norm_ = -1, lm_head_ = -1;
  ParamId head_copy_ = -1;            // the embedding's copy on the last stage, or the untied LM
                                      // head's on the first (head split; see stage_copy())
  int embed_block_ = -1, head_block_ = -1, head_copy_block_ = -1;  // hook blocks, -1: not held
  std::vector<int> layer_block_;      // [layer] hook block, -1 for layers of other stages; an
                                      // MTP module's block holds its own weights and its layer's
  std::vector<LayerRange> chunk_ranges_;  // [chunk] the layers this rank runs (a part of)
  std::vector<int64_t> chunk_base_;   // [chunk] residual position of its first layer's input
  int64_t positions_ = 0;             // residual positions per slot: layers held + chunks
  int slots_ = 1;
  bool first_stage_ = true, last_stage_ = true;  // holds virtual stage 0 / the last one
  int head_pass_slot_ = -1;           // head split, last stage: the slot head_pass scored last
  int lm_head_block_ = -1;            // head split, untied: the LM head's own block (last stage)
  int64_t vocab_first_ = 0;           // first vocabulary row of this rank's embedding block
  std::vector<std::unique_ptr<Layer>> layers_;  // [layer], null for other stages'
  // MTP (model/transformer_mtp.cc), on the last stage only:
  std::vector<MtpBlock> mtp_blocks_;  // [depth - 1]
  std::vector<MtpActs> mtp_acts_;     // [slot * D + depth - 1]
  MtpScratch mtp_scratch_;
  Buffer mtp_dres_;                   // (N, D) a module's residual gradient
  std::vector<int32_t> mtp_tokens_, mtp_targets_;  // (N) one depth's shifted ids
  std::vector<ParamId> mtp_head_partial_, mtp_combine_partial_;  // [depth - 1], [3 * D]:
                                      // gradients summed over tp (sequence parallel only)
  ActScratch act_scratch_;      // the working set of bf16-saved activations
  ActScratch moe_row_scratch_;  // the working set of bf16-saved MoE layers' grouped rows
  Buffer normed_;  // (local, D) where bf16-saved layers recompute their normed inputs
  // [slot * layers + layer] for held layers (MTP's included), or one shared set (recompute)
  std::vector<std::unique_ptr<LayerActs>> acts_;
  Buffer rope_;
  Buffer residual_;  // (slots * positions, N_local, D): each chunk's layer inputs and output
  Buffer final_h_, final_inv_;  // [slot] RMSNorm(x_L) (N, D) and its inverse RMS (N)
  Buffer dres_, dh_;           // residual-stream gradient and a (N, D) scratch
  Buffer ce_scratch_;          // (chunk, V) logits chunk of the fused LM-head loss
  Buffer head_logits_;         // (slots * N, V) each slot's logit gradients (loss_in_forward)
  Buffer layer_out_scratch_;   // (N, D) output of a recomputed layer (discarded)
  Buffer partial_stash_;       // earlier micro-batches' partial gradients (tensor parallel)
  std::unique_ptr<WeightGradQueue> weight_grad_queue_;  // B/W split backward passes
  AttentionScratch attn_scratch_;  // standard attention, or
  MlaScratch mla_scratch_;         // multi-head latent attention
  std::vector<Buffer> bias_;   // [layer] selection bias (E) of MoE layers
  std::vector<MoeStats> moe_stats_;
  std::vector<MoeStats> scratch_stats_;  // receives stats of recomputed and eval forwards
  std::vector<CrossEntropyResult> mtp_losses_;  // [depth - 1]
};

}  // namespace symphony
