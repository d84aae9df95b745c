#include "model/memory_plan.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/checked_math.h"
#include "model/attention_block.h"
#include "model/mla_block.h"
#include "model/mtp_block.h"

namespace symphony {
namespace {

// Elements of one layer's saved activations (LayerActs in transformer.cc). `c` holds this rank's
// attention heads; n: the micro-batch's rows, nl: the residual stream's rows on this rank, ns: the
// rows its MoE layers route; mlp_width: this rank's part of the dense MLP width.
// bf16: the activations kept in bf16 (model/act_stash.h): the attention's q, k, v, output and
// raw projections (MLA's and its latents), the SwiGLUs' g and u and the MoE layers' expert outputs
// (and expert-parallel inputs), two bf16 values per float, for their fp32 values and the SwiGLUs'
// a and MoE layers' other grouped rows; the normed inputs recomputed, not kept.
// part: the sub-layers kept (a pipeline stage may run a layer's attention or its feed-forward
// only); x_mid, between them, lies in the residual stream when they run on two stages.
CheckedInt layer_act_elems(const ModelConfig& c, CheckedInt n, CheckedInt nl, CheckedInt ns,
                           int64_t mlp_width, bool moe, bool dense, int ep, int etp, bool bf16,
                           LayerPart part = LayerPart::kWhole) {
  auto swiglu = [&](CheckedInt rows, int64_t width) {
    return bf16 ? rows * width : rows * width * 3;
  };
  const int64_t d = c.hidden_size, h = c.num_attention_heads, hkv = c.num_key_value_heads;
  CheckedInt e = 0;
  if (runs_attention(part) && c.mla()) {
    e += MlaActs::numel(c, n, nl, bf16);
  } else if (runs_attention(part)) {
    const std::vector<int64_t> widths = AttentionActs::stashed_widths(c);
    const CheckedInt stashed = n * ActStash::working_elems(1, widths);  // q, k, v, out, raw
    e += nl;                                                      // inv_rms
    if (c.qk_norm) e += n * h + n * hkv;                          // q_inv, k_inv
    e += n * h;                                                   // lse
    e += bf16 ? ActStash::bf16_elems(stashed) : stashed + nl * d;  // and h
  }
  if (part == LayerPart::kWhole) e += nl * d;                     // x_mid
  if (!runs_feed_forward(part)) return e;
  e += bf16 ? nl : nl * d + nl;                                   // inv2 (and h2)
  if (dense) e += swiglu(n, mlp_width);
  if (moe) {
    const int64_t k = c.num_experts_per_tok, x = c.num_experts;
    e += ns * x * 2 + ns * k;                                     // logits, probs, weights
    e += bf16 ? ActStash::bf16_elems(ns * k * d) : ns * k * d * 2;  // yg (and xg)
    e += swiglu(ns * k * ep * etp, c.moe_intermediate_size / etp);  // expert acts
    if (ep > 1)  // xe (and xr, ye)
      e += bf16 ? ActStash::bf16_elems(ns * k * ep * d) : ns * k * ep * d * 3;
    if (etp > 1) e += ns * k * ep * etp * d * 2;                  // xt, yt
    if (c.n_shared_experts > 0)
      e += swiglu(ns, c.n_shared_experts * c.moe_intermediate_size) + ns * d;
    e += ns * x * 2 + ns * k;                                     // dprobs_aux, dlogits, dweights
  }
  return e;
}

// As weight_grad_pass_elems, in checked arithmetic.
CheckedInt weight_grad_pass_checked(const ModelConfig& c, BatchShape shape,
                                    const ShardPlacement& placement, bool sequence_parallel) {
  const int tp = placement.size[int(Axis::kTensor)];
  const int ep = placement.size[int(Axis::kExpert)];
  const int etp = placement.size[int(Axis::kExpertTensor)];
  const ModelConfig local = AttentionBlock::local_config(c, placement);
  const int64_t d = c.hidden_size;
  const CheckedInt n = CheckedInt(shape.batch) * shape.seq_len;
  const CheckedInt ns = tp > 1 ? CheckedInt(n.value_or(0) / tp) : n;
  const int64_t q = local.num_attention_heads * c.head_dim;
  const int64_t kv = local.num_key_value_heads * c.head_dim;
  // Records per layer (model/attention_block.cc, model/mlp.cc, model/moe/moe_block.cc): o (its
  // input and output gradient), q, k and v sharing their normed input; KV heads replicated over
  // tp run at once.
  CheckedInt attention = n * (2 * q + 2 * d);
  if (tp <= c.num_key_value_heads) attention += n * (2 * kv);
  if (c.mla()) {
    // model/mla_block.cc: o; kv_b (normed latent, key and value columns); q_b with q_lora_rank;
    // the input projections sharing h (q_a and kv_a are summed over tp, so run at once there).
    const int64_t heads = local.num_attention_heads, lora = c.kv_lora_rank, ql = c.q_lora_rank;
    const int64_t dq = c.qk_nope_head_dim + c.qk_rope_head_dim;
    attention = n * (heads * c.v_head_dim + d) +
                n * (lora + heads * (c.qk_nope_head_dim + c.v_head_dim));
    if (ql > 0) attention += n * (ql + heads * dq);
    if (ql == 0) attention += n * (d + heads * dq);
    else if (tp == 1) attention += n * (d + ql);
    if (tp == 1) attention += n * (lora + c.qk_rope_head_dim);
  }
  // A SwiGLU MLP of width w over r rows: down (a, dy), gate and up sharing x.
  auto swiglu = [&](CheckedInt r, int64_t w) { return r * (3 * w + 2 * d); };
  const CheckedInt dense = attention + swiglu(n, c.intermediate_size / tp);
  CheckedInt moe = attention;
  moe += swiglu(ns * c.num_experts_per_tok * ep * etp, c.moe_intermediate_size / etp);
  if (c.n_shared_experts > 0 && tp == 1)  // under tp summed over the group right after the block
    moe += swiglu(ns, c.n_shared_experts * c.moe_intermediate_size);
  const PipelineStages& pipe = placement.pipeline;
  CheckedInt e = 0;
  for (int chunk = 0; chunk < pipe.chunks(); ++chunk) {
    const LayerRange r = pipe.chunk_layers(chunk, c.num_hidden_layers);
    for (int64_t l = r.begin; l < r.end; ++l) e += c.is_moe_layer(l) ? moe : dense;
  }
  // The MTP modules on the last stage: each a layer of the model's last kind and its eh_proj
  // (the concatenated normed rows, 2D wide, and its output gradient).
  if (pipe.holds_head())
    for (int64_t k = 0; k < c.num_nextn_predict_layers; ++k)
      e += (c.is_moe_layer(c.num_hidden_layers + k) ? moe : dense) + n * (3 * d);
  // The LM head (Transformer::head_weight_deferrable): each loss row's input and logit gradients.
  const bool head_with_embedding =
      c.tie_word_embeddings && pipe.holds_embedding() && pipe.holds_head();
  if (pipe.holds_head() && tp == 1 && !head_with_embedding && c.num_nextn_predict_layers == 0)
    e += n * (d + c.vocab_size);
  (void)sequence_parallel;  // the GEMMs see whole (gathered) rows either way
  return e;
}

// The larger of a and b; overflowed when either is.
CheckedInt max_checked(CheckedInt a, CheckedInt b) {
  if (a.overflowed() || b.overflowed()) return a + b;
  return *a.value() >= *b.value() ? a : b;
}

// The largest A + B of a linear layer's three GEMMs, weight (out, in) over `rows` rows:
// forward x·W^T (rows·in + out·in), input gradient dy·W (rows·out + out·in), weight gradient
// dy^T·x (rows·out + rows·in).
CheckedInt linear_gemm_inputs(CheckedInt rows, int64_t out, int64_t in) {
  const CheckedInt w = CheckedInt(out) * in;
  return max_checked(max_checked(rows * in + w, rows * out + w), rows * (out + in));
}

// Calls consider(rows, out, in) for the routed experts' two linear shapes (gate and up, down) on
// this rank, if the model has MoE layers: an expert receives a token once, at most ns rows from
// each of the ep * etp ranks that send to it; its width is split over etp.
template <typename Fn>
void for_each_routed_expert_linear(const ModelConfig& c, BatchShape shape,
                                   const ShardPlacement& placement, Fn&& consider) {
  bool any_moe = false;
  for (int64_t l = 0; l < c.num_hidden_layers + c.num_nextn_predict_layers; ++l)
    any_moe = any_moe || c.is_moe_layer(l);
  if (!any_moe) return;
  const int tp = placement.size[int(Axis::kTensor)];
  const int etp = placement.size[int(Axis::kExpertTensor)];
  const CheckedInt n = CheckedInt(shape.batch) * shape.seq_len;
  const CheckedInt ns = tp > 1 ? CheckedInt(n.value_or(0) / tp) : n;
  const CheckedInt rows = ns * placement.size[int(Axis::kExpert)] * etp;
  consider(rows, c.moe_intermediate_size / etp, c.hidden_size);
  consider(rows, c.hidden_size, c.moe_intermediate_size / etp);
}

// Calls consider(rows, out, in) for every linear layer of the model's GEMMs this rank runs:
// weight (out, in) over `rows` rows; `site` says whether it is a parameter's linear layer (an FP8
// GEMM site, model/fp8_linears.h) or the LM head (a loss GEMM, bf16 under FP8 too).
template <typename Fn>
void for_each_linear(const ModelConfig& c, BatchShape shape, const ShardPlacement& placement,
                     Fn&& visit) {
  const int tp = placement.size[int(Axis::kTensor)];
  const int64_t d = c.hidden_size;
  const CheckedInt n = CheckedInt(shape.batch) * shape.seq_len;
  auto consider = [&](CheckedInt rows, int64_t out, int64_t in) { visit(rows, out, in, true); };
  // Attention projections, this rank's heads.
  if (c.mla()) {
    const ModelConfig m = MlaBlock::local_config(c, placement);
    const int64_t heads = m.num_attention_heads, lora = c.kv_lora_rank, ql = c.q_lora_rank;
    const int64_t dq = c.qk_nope_head_dim + c.qk_rope_head_dim;
    if (ql > 0) {
      consider(n, ql, d);
      consider(n, heads * dq, ql);
    } else {
      consider(n, heads * dq, d);
    }
    consider(n, lora + c.qk_rope_head_dim, d);
    consider(n, heads * (c.qk_nope_head_dim + c.v_head_dim), lora);
    consider(n, d, heads * c.v_head_dim);
  } else {
    const ModelConfig local = AttentionBlock::local_config(c, placement);
    const int64_t q = local.num_attention_heads * c.head_dim;
    const int64_t kv = local.num_key_value_heads * c.head_dim;
    consider(n, q, d);
    consider(n, kv, d);
    consider(n, d, q);
  }
  // Feed-forward layers: dense MLPs (this rank's width), routed experts, shared experts.
  bool any_dense = false, any_moe = false;
  for (int64_t l = 0; l < c.num_hidden_layers + c.num_nextn_predict_layers; ++l)
    (c.is_moe_layer(l) ? any_moe : any_dense) = true;
  if (any_dense) {
    consider(n, c.intermediate_size / tp, d);
    consider(n, d, c.intermediate_size / tp);
  }
  for_each_routed_expert_linear(c, shape, placement, consider);
  if (any_moe) {
    if (c.n_shared_experts > 0) {
      consider(n, c.n_shared_experts * c.moe_intermediate_size, d);
      consider(n, d, c.n_shared_experts * c.moe_intermediate_size);
    }
  }
  if (c.num_nextn_predict_layers > 0) consider(n, d, 2 * d);  // eh_proj
  // The LM head, a chunk of rows at a time against this rank's vocabulary block.
  const int64_t vocab = c.vocab_size / tp;
  visit(CheckedInt(std::min(n.value_or(INT64_MAX), Transformer::cross_entropy_chunk_rows(vocab))),
        vocab, d, false);
}

CheckedInt bf16_gemm_scratch_checked(const ModelConfig& c, BatchShape shape,
                                     const ShardPlacement& placement) {
  CheckedInt most = 0;
  for_each_linear(c, shape, placement, [&](CheckedInt rows, int64_t out, int64_t in, bool) {
    most = max_checked(most, linear_gemm_inputs(rows, out, in));
  });
  return most;
}

}  // namespace

int64_t bf16_expert_gemm_scratch_elems(const ModelConfig& config, BatchShape shape,
                                       const ShardPlacement& placement) {
  CheckedInt e = 0;
  for_each_routed_expert_linear(config, shape, placement,
                                [&](CheckedInt rows, int64_t out, int64_t in) {
                                  e = max_checked(e, linear_gemm_inputs(rows, out, in));
                                });
  SYM_CHECK(!e.overflowed(), "bf16 expert GEMM scratch of {} x {} rows overflows", shape.batch,
            shape.seq_len);
  return *e.value();
}

int64_t bf16_gemm_scratch_elems(const ModelConfig& config, BatchShape shape,
                                const ShardPlacement& placement, bool sequence_parallel) {
  (void)sequence_parallel;  // the GEMMs see gathered rows either way
  const CheckedInt e = bf16_gemm_scratch_checked(config, shape, placement);
  SYM_CHECK(!e.overflowed(), "bf16 GEMM scratch of {} x {} rows overflows", shape.batch,
            shape.seq_len);
  return *e.value();
}

Fp8GemmWorkspaceSize fp8_gemm_workspace_plan(const ModelConfig& config, BatchShape shape,
                                             const ShardPlacement& placement,
                                             const Fp8Recipe& recipe) {
  // Each site's three GEMMs as model/fp8_linears.cc runs them, at the most rows the layer sees:
  // fwd y = x W^T, dgrad dx = dy W, wgrad dW = dy^T x.
  Fp8GemmWorkspaceSize size;
  auto visit = [&](CheckedInt rows_c, int64_t o, int64_t i, bool site) {
    if (!site) return;
    SYM_CHECK(!rows_c.overflowed(), "fp8 GEMM workspace of {} x {} rows overflows", shape.batch,
              shape.seq_len);
    const int64_t rows = *rows_c.value();
    using O = Fp8Operand;
    size.include(fp8_gemm_workspace_size(recipe, O::kActivation, O::kWeight, Trans::kNo,
                                         Trans::kYes, {rows, i}, {o, i}));
    size.include(fp8_gemm_workspace_size(recipe, O::kGradient, O::kWeight, Trans::kNo, Trans::kNo,
                                         {rows, o}, {o, i}));
    size.include(fp8_gemm_workspace_size(recipe, O::kGradient, O::kActivation, Trans::kYes,
                                         Trans::kNo, {rows, o}, {rows, i}));
  };
  for_each_linear(config, shape, placement, visit);
  return size;
}

int64_t weight_grad_pass_elems(const ModelConfig& config, BatchShape shape,
                               const ShardPlacement& placement, bool sequence_parallel) {
  const CheckedInt e = weight_grad_pass_checked(config, shape, placement, sequence_parallel);
  SYM_CHECK(!e.overflowed(), "weight-gradient pass of {} x {} rows overflows", shape.batch,
            shape.seq_len);
  return *e.value();
}

std::optional<MemoryPlan> plan_training_memory_checked(const ModelConfig& c, DType dtype,
                                                       BatchShape shape,
                                                       Recompute recompute,
                                                       const ShardPlacement& placement,
                                                       bool sequence_parallel, Precision saved) {
  SYM_CHECK(recompute != Recompute::kSelective, "no memory plan for selective recomputation");
  const std::optional<ParamCounts> counts = count_params_checked(c);
  if (!counts || counts->total > kMaxModelParams - counts->mtp) return std::nullopt;
  const int64_t b = dtype_bytes(dtype), d = c.hidden_size, layers = c.num_hidden_layers;
  const CheckedInt n = CheckedInt(shape.batch) * shape.seq_len;
  // Tensor parallelism (model/tensor_parallel.h): this rank's heads, widths and vocabulary, the
  // residual stream's rows (split under sequence parallelism) and the gather scratch.
  const int tp = placement.size[int(Axis::kTensor)];
  const bool sp = tp > 1 && sequence_parallel;
  const ModelConfig local = c.mla() ? MlaBlock::local_config(c, placement)
                                    : AttentionBlock::local_config(c, placement);
  // A tp share of the rows (an overflowed n overflows the totals below anyway).
  const CheckedInt ns = tp > 1 ? CheckedInt(n.value_or(0) / tp) : n;
  const CheckedInt nl = sp ? ns : n;
  const int64_t mlp_width = c.intermediate_size / tp, vocab = c.vocab_size / tp;
  const CheckedInt q_dim = CheckedInt(local.num_attention_heads) * c.head_dim;
  const CheckedInt kv_dim = CheckedInt(local.num_key_value_heads) * c.head_dim;
  // Bounded by kMaxModelParams, so the declarations below cannot overflow.
  const int64_t params = Transformer::param_numel(c, placement);
  const int ep = placement.size[int(Axis::kExpert)];
  const int etp = placement.size[int(Axis::kExpertTensor)];

  // The layers this rank holds (its pipeline stage's chunks, parallel/pipeline_stages.h, and on
  // the last stage the MTP modules'), by kind: layers [0, first_k_dense_replace) are dense, the
  // rest MoE (or all dense without experts).
  // Each in-flight micro-batch keeps its own activations and residual stream (a slot).
  const PipelineStages& pipe = placement.pipeline;
  // A layer of which the stage runs one sub-layer counts with that part (LayerPart); moe_blocks:
  // the MoE layers whose feed-forward it runs.
  int64_t moe_layers = 0, dense_layers = 0, moe_blocks = 0, positions = 0;
  std::vector<std::pair<bool, LayerPart>> held;  // (MoE, part) of each layer held
  for (int chunk = 0; chunk < pipe.chunks(); ++chunk) {
    const LayerRange sub = pipe.chunk_sublayers(chunk, layers);
    const LayerRange r = pipe.chunk_layers(chunk, layers);
    for (int64_t l = r.begin; l < r.end; ++l) {
      ++(c.is_moe_layer(l) ? moe_layers : dense_layers);
      held.emplace_back(c.is_moe_layer(l), layer_part(sub, l));
      if (c.is_moe_layer(l) && runs_feed_forward(held.back().second)) ++moe_blocks;
    }
    positions += r.size() + 1;
  }
  const int64_t mtp = pipe.holds_head() ? c.num_nextn_predict_layers : 0;
  for (int64_t l = layers; l < layers + mtp; ++l) {
    ++(c.is_moe_layer(l) ? moe_layers : dense_layers);
    if (c.is_moe_layer(l)) ++moe_blocks;
    held.emplace_back(c.is_moe_layer(l), LayerPart::kWhole);
  }
  const int64_t slots = std::max(1, pipe.in_flight);
  CheckedInt acts = 0;
  if (recompute == Recompute::kFull) {
    // One shared set, sized for the largest layer kind.
    const bool any_moe = moe_layers > 0, any_dense = dense_layers > 0;
    if (any_moe || any_dense)
      acts += layer_act_elems(local, n, nl, ns, mlp_width, any_moe, any_dense, ep, etp, false);
    acts += nl * d;                                              // layer_out
  } else {
    const bool bf16 = saved == Precision::kBf16;
    for (const auto& [moe, part] : held)
      acts += layer_act_elems(local, n, nl, ns, mlp_width, moe, !moe, ep, etp, bf16, part) *
              slots;
    if (bf16 && moe_layers + dense_layers > 0) {
      // Their shared fp32 working set (Transformer::act_scratch_elems): the largest one; and
      // where the normed inputs are recomputed.
      const int64_t f = c.moe_intermediate_size;
      const bool shared = moe_layers > 0 && c.n_shared_experts > 0;
      const CheckedInt sets[] = {
          n * ActStash::working_elems(1, c.mla() ? MlaActs::stashed_widths(local)
                                                 : AttentionActs::stashed_widths(local)),
          dense_layers > 0 ? n * mlp_width * 3 : CheckedInt(0),
          moe_layers > 0 ? ns * c.num_experts_per_tok * ep * etp * (f / etp) * 3 : CheckedInt(0),
          shared ? ns * c.n_shared_experts * f * 3 : CheckedInt(0)};
      CheckedInt largest = 0;
      for (const CheckedInt& set : sets)
        if (set.overflowed() || set.value_or(0) > largest.value_or(0)) largest = set;
      acts += largest + nl * d;
      // The MoE layers' grouped rows (MoeActs::row_scratch_elems).
      if (moe_layers > 0) {
        const CheckedInt routed = ns * c.num_experts_per_tok;
        acts += routed * d * 2;
        if (ep > 1) acts += routed * ep * d * 3;
      }
    }
  }
  acts += CheckedInt(positions) * slots * nl * d;                // residual stream
  if (pipe.holds_head()) {
    acts += (nl * d + nl) * slots;                               // final_h, final_inv
    const int64_t chunk_rows =
        std::min(n.value_or(INT64_MAX), Transformer::cross_entropy_chunk_rows(vocab));
    acts += CheckedInt(chunk_rows) * vocab;                      // loss chunk
    if (pipe.loss_in_forward) acts += nl * vocab * slots;        // each slot's logit gradients
  }
  acts += nl * d * 2;                                            // dres, dh
  if (mtp > 0) {  // each module's saved activations per slot; shared scratch, residual gradient
    acts += CheckedInt(MtpActs::numel(1, d)) * nl * mtp * slots;
    acts += CheckedInt(MtpScratch::numel(1, d)) * nl + nl * d;
  }
  if (pipe.stages > 1) acts += nl * d * 6;  // the runner's staging (train/pipeline_step.h)
  if (pipe.split_head() && n.value()) {
    // The head split: the first stage's loss chunk; the runner's staging of the rows it scores
    // (received, and on the first stage their input gradients sent).
    const int64_t rows = std::max<int64_t>(pipe.remote_head_rows(*n.value()), 1);
    if (pipe.holds_embedding() && !pipe.holds_head())
      acts += CheckedInt(std::min(*n.value(), Transformer::cross_entropy_chunk_rows(vocab))) *
                  vocab +
              CheckedInt(rows) * d * 2;
    if (pipe.holds_embedding() || pipe.holds_head()) acts += CheckedInt(rows) * d * 2;
  }
  if (c.mla())
    acts += MlaScratch::numel(local, n);                         // attention scratch
  else
    acts += n * d + n * q_dim * 2 + n * kv_dim * 2;              // attention gradient scratch
  if (etp > 1)  // each MoE layer's etp exchange buffers (model/moe/expert_tensor_gather.h)
    acts += ns * c.num_experts_per_tok * ep * (1 + etp) * d * moe_blocks;
  if (tp > 1) {
    acts += n * d * (sp ? 3 : 2);                                // gathered and partial rows
    // The stash of partial gradients (transformer.cc): the largest layer's (its attention's
    // and its feed-forward's, as far as the stage runs them), or the final norm.
    const int64_t kv_replicas = tp > c.num_key_value_heads ? tp / c.num_key_value_heads : 1;
    int64_t attention = (sp ? d : 0) + (c.qk_norm ? 2 * c.head_dim : 0);
    if (kv_replicas > 1) attention += 2 * local.num_key_value_heads * c.head_dim * d;
    if (c.mla()) {  // the down-projections and their norms, replicated (model/mla_block.h)
      attention = (sp ? d : 0) + (c.kv_lora_rank + c.qk_rope_head_dim) * d + c.kv_lora_rank;
      if (c.q_lora_rank > 0) attention += c.q_lora_rank * d + c.q_lora_rank;
    }
    int64_t stash = pipe.holds_head() ? d : 0;
    for (const auto& [moe, part] : held) {
      int64_t elems = runs_attention(part) ? attention : 0;
      if (runs_feed_forward(part)) {
        elems += sp ? d : 0;  // the post-attention norm
        if (moe) elems += c.num_experts * d + 3 * c.n_shared_experts * c.moe_intermediate_size * d;
      }
      stash = std::max(stash, elems);
    }
    if (mtp > 0 && sp) stash = std::max(stash, 2 * d + 2 * d * d);  // enorm, hnorm, eh_proj
    acts += stash;
  }

  if (pipe.deferred > 0)  // zero-bubble schedules' pending weight-gradient passes
    acts += weight_grad_pass_checked(c, shape, placement, sequence_parallel) * pipe.deferred;

  // RoPE table and the selection bias of each MoE layer.
  const int64_t rope_dim = c.mla() ? c.qk_rope_head_dim : c.head_dim;
  const CheckedInt other = CheckedInt(std::max<int64_t>(shape.seq_len, 1)) * rope_dim +
                           CheckedInt(c.num_experts) * moe_blocks;

  const CheckedInt weights = CheckedInt(params) * b;
  const CheckedInt activations = acts * b, other_bytes = other * b;
  const CheckedInt total = weights * 4 + activations + other_bytes;  // weights, grads, 2 moments
  if (total.overflowed()) return std::nullopt;
  MemoryPlan plan;
  plan.weights = *weights.value();
  plan.grads = plan.weights;
  plan.optimizer = 2 * plan.weights;
  plan.activations = *activations.value();
  plan.other = *other_bytes.value();
  return plan;
}

MemoryPlan plan_training_memory(const ModelConfig& c, DType dtype, BatchShape shape,
                                Recompute recompute, const ShardPlacement& placement,
                                bool sequence_parallel, Precision saved) {
  const std::optional<MemoryPlan> plan = plan_training_memory_checked(
      c, dtype, shape, recompute, placement, sequence_parallel, saved);
  SYM_CHECK(plan.has_value(), "memory plan of a config whose sizes overflow int64 ({} x {} rows)",
            shape.batch, shape.seq_len);
  return *plan;
}

}  // namespace symphony
