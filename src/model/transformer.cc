#include "model/transformer.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <string>

#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"
#include "model/memory_plan.h"
#include "model/moe/load_balance.h"
#include "model/vocab_parallel_loss.h"

namespace symphony {
namespace {
Buffer act(DType dtype, Shape shape) { return Buffer(dtype, shape, MemoryCategory::kActivations); }
}  // namespace

// A decoder layer, or the part of one this pipeline stage runs (parallel/pipeline_stages.h): the
// attention's tensors, the feed-forward's, or both.
struct Transformer::Layer {
  LayerPart part = LayerPart::kWhole;
  std::unique_ptr<AttentionBlock> attn;  // standard attention, or
  std::unique_ptr<MlaBlock> mla;         // multi-head latent attention (model.kv_lora_rank > 0)
  ParamId post_norm = -1;
  std::unique_ptr<DenseMlp> mlp;
  std::unique_ptr<MoeBlock> moe;
  std::vector<ParamId> partial_grads;  // summed over tp after backward (tensor parallel only)
  std::vector<ParamId> kv_grads;       // summed over the ranks sharing a replicated KV head

  Layer(const ModelConfig& c, int64_t index, ParamStore& store, const ModelParallel& parallel,
        LayerPart layer_part = LayerPart::kWhole)
      : part(layer_part) {
    std::string prefix = "model.layers." + std::to_string(index);
    if (runs_attention(part)) {
      if (c.mla())
        mla = std::make_unique<MlaBlock>(c, prefix, store);
      else
        attn = std::make_unique<AttentionBlock>(c, prefix, store);
    }
    if (runs_feed_forward(part)) {
      post_norm =
          store.add(prefix + ".post_attention_layernorm.weight", {c.hidden_size}, Decay::kNo);
      if (c.is_moe_layer(index))
        moe = std::make_unique<MoeBlock>(c, prefix, store, parallel);
      else
        mlp = std::make_unique<DenseMlp>(prefix + ".mlp", c.hidden_size, c.intermediate_size,
                                         store, DenseMlp::Split::kTensor);
    }
    if (parallel.tensor_size() > 1) {
      const bool sp = parallel.sequence_parallel;
      if (attn) partial_grads = attn->partial_grads(sp);
      if (mla) partial_grads = mla->partial_grads(sp);
      if (sp && post_norm >= 0) partial_grads.push_back(post_norm);
      if (moe)
        for (ParamId id : moe->partial_grads()) partial_grads.push_back(id);
      if (attn && attn->kv_replicas() > 1) kv_grads = attn->kv_params();
    }
  }
};

struct Transformer::LayerActs {
  AttentionActs attn;  // standard attention, or
  MlaActs mla;         // multi-head latent attention
  Buffer x_mid, inv2;  // x_mid only for a whole layer: a part's lies in the residual stream
  SwigluActBuffers mlp;
  MoeActs moe;

  // rows: the micro-batch's; local: the residual stream's on this rank; shard: the rows a MoE
  // layer routes on this rank; attn_config: this rank's heads; mlp_width: its dense MLP width.
  // scratch: keep the activations in bf16 working on it (model/act_stash.h), the MoE layers'
  // grouped rows on row_scratch, with the normed inputs of the attention and the MLP recomputed
  // in `normed` (local, D); null: in dtype. `part`: the sub-layers whose activations are kept.
  LayerActs(const ModelConfig& c, const ModelConfig& attn_config, bool is_moe, LayerPart part,
            int64_t rows, int64_t local, int64_t shard, int64_t mlp_width, DType dtype,
            int expert_ranks, int expert_tensor_ranks, ActScratch* scratch,
            ActScratch* row_scratch, View normed) {
    if (runs_attention(part)) {
      if (c.mla())
        mla = scratch ? MlaActs(attn_config, rows, local, *scratch, normed)
                      : MlaActs(attn_config, rows, local, dtype);
      else
        attn = scratch ? AttentionActs(attn_config, rows, local, *scratch, normed)
                       : AttentionActs(attn_config, rows, local, dtype);
    }
    if (part == LayerPart::kWhole) x_mid = act(dtype, {local, c.hidden_size});
    if (!runs_feed_forward(part)) return;
    inv2 = act(dtype, {local});
    h2_ = scratch ? NormedInput(normed, local, c.hidden_size)
                  : NormedInput(dtype, local, c.hidden_size);
    if (is_moe)
      moe = MoeActs(c, shard, dtype, expert_ranks, expert_tensor_ranks, scratch, row_scratch);
    else
      mlp = scratch ? SwigluActBuffers(*scratch, rows, mlp_width)
                    : SwigluActBuffers(dtype, rows, mlp_width);
  }
  // The MLP's normed input: saved, or (bf16) a working set recomputed before the backward pass.
  View h2(int64_t local) { return h2_.rows(local); }
  bool recomputes_h2() const { return h2_.recomputed(); }

 private:
  NormedInput h2_;
};

// The declarations shared by the constructor and declare_params(): the same tensors, blocks and
// units in the same order. Blocks (model/unit_hooks.h): the embedding (first virtual stage), each
// held layer in chunk order, the final norm with the untied LM head (last virtual stage), each
// MTP module with its layer (last stage), and on the last stage of a pipeline with tied
// embeddings or MTP the copy of the embedding.
struct Transformer::Declared {
  ParamId embed = -1, final_norm = -1, lm_head = -1, head_copy = -1;
  int embed_block = -1, head_block = -1, head_copy_block = -1, lm_head_block = -1;
  std::vector<int> layer_block;
  std::vector<LayerRange> chunks;
  std::vector<std::unique_ptr<Layer>> layers;  // [layer], null for other stages'
  std::vector<MtpBlock> mtp;                   // [depth - 1], last stage only
};

void Transformer::declare(const ModelConfig& config, const ModelParallel& parallel,
                          ParamStore& store, Declared& out) {
  const int64_t d = config.hidden_size, v = config.vocab_size;
  const int64_t num_layers = config.num_hidden_layers;
  const PipelineStages& pipe = parallel.placement.pipeline;
  SYM_CHECK(pipe.sublayers.empty() ? pipe.num_virtual() == 1
                                   : int(pipe.sublayers.size()) == pipe.num_virtual(),
            "a pipeline of {} x {} virtual stages needs its layer split ({} entries)",
            pipe.stages, pipe.virtual_stages, pipe.sublayers.size());
  // The embedding and LM head are split by vocabulary over tp.
  const ShardSpec by_vocab{Axis::kTensor, 0};
  out.layer_block.assign(size_t(config.num_layers_with_mtp()), -1);
  out.layers.resize(size_t(config.num_layers_with_mtp()));
  if (pipe.holds_embedding()) {
    store.begin_block();
    out.embed_block = store.num_blocks() - 1;
    out.embed = store.add("model.embed_tokens.weight", {v, d}, Decay::kYes, by_vocab);
  }
  for (int c = 0; c < pipe.chunks(); ++c) {
    const LayerRange sub = pipe.chunk_sublayers(c, num_layers);
    const LayerRange r = pipe.chunk_layers(c, num_layers);
    out.chunks.push_back(r);
    for (int64_t l = r.begin; l < r.end; ++l) {
      store.begin_block();
      out.layer_block[size_t(l)] = store.num_blocks() - 1;
      out.layers[size_t(l)] = std::make_unique<Layer>(config, l, store, parallel,
                                                      layer_part(sub, l));
    }
  }
  if (pipe.holds_head()) {
    store.begin_block();
    out.head_block = store.num_blocks() - 1;
    out.final_norm = store.add("model.norm.weight", {d}, Decay::kNo);
    if (!config.tie_word_embeddings) {
      // With the head split, in a block of its own, as the first stage's copy of it is.
      if (pipe.split_head()) {
        store.begin_block();
        out.lm_head_block = store.num_blocks() - 1;
      }
      out.lm_head = store.add("lm_head.weight", {v, d}, Decay::kYes, by_vocab);
    }
    for (int64_t k = 1; k <= config.num_nextn_predict_layers; ++k) {
      const int64_t l = num_layers + k - 1;
      store.begin_block();
      out.layer_block[size_t(l)] = store.num_blocks() - 1;
      out.mtp.emplace_back(config, k, store);
      out.layers[size_t(l)] = std::make_unique<Layer>(config, l, store, parallel);
    }
    const bool reads_embedding = config.tie_word_embeddings || config.num_nextn_predict_layers > 0;
    if (reads_embedding && !pipe.holds_embedding()) {
      ShardSpec copy = by_vocab;
      copy.stage_copy = true;
      store.begin_block();
      out.head_copy_block = store.num_blocks() - 1;
      out.head_copy = store.add("model.embed_tokens.weight", {v, d}, Decay::kYes, copy);
    }
  } else if (pipe.split_head() && pipe.holds_embedding() && !config.tie_word_embeddings) {
    // The head split with an untied LM head: the first stage scores its rows with a copy of it.
    ShardSpec copy = by_vocab;
    copy.stage_copy = true;
    store.begin_block();
    out.head_copy_block = store.num_blocks() - 1;
    out.head_copy = store.add("lm_head.weight", {v, d}, Decay::kYes, copy);
  }
}

Transformer::Transformer(const ModelConfig& config, DType dtype, BatchShape max_shape,
                         Recompute recompute, ParamResidency residency,
                         const ModelParallel& parallel, Precision saved)
    : config_(config), dtype_(dtype), expert_ranks_(parallel.expert_size()),
      max_shape_(max_shape), recompute_(recompute), params_(dtype, parallel.placement) {
  const int64_t d = config.hidden_size, v = config.vocab_size, n = max_shape.rows();
  const int64_t num_layers = config.num_layers_with_mtp();  // the MTP modules' included
  const int tp = parallel.tensor_size();
  SYM_CHECK((expert_ranks_ == 1 && parallel.tensor_size() == 1) || dtype == DType::kF32,
            "expert and tensor parallelism run f32 models");
  SYM_CHECK(tp == 1 || (parallel.tensor != nullptr && parallel.tensor->size() == tp &&
                        n % tp == 0),
            "tensor parallelism over {} ranks needs its group and micro-batches of a multiple "
            "of {} rows ({})", tp, tp, n);
  // The engine keeps every activation or recomputes whole layers; selective recomputation is
  // only costed by the planner (create() and the config refuse it with an error).
  SYM_CHECK(recompute != Recompute::kSelective, "the model recomputes none or full, not selective");
  tp_ = TensorParallel(tp > 1 ? parallel.tensor : nullptr, parallel.sequence_parallel, n, d,
                       dtype);
  const PipelineStages& pipe = parallel.placement.pipeline;
  slots_ = std::max(1, pipe.in_flight);
  first_stage_ = pipe.holds_embedding();
  last_stage_ = pipe.holds_head();
  Declared declared;
  declare(config, parallel, params_, declared);
  embed_ = declared.embed, final_norm_ = declared.final_norm, lm_head_ = declared.lm_head;
  head_copy_ = declared.head_copy;
  embed_block_ = declared.embed_block, head_block_ = declared.head_block;
  head_copy_block_ = declared.head_copy_block;
  lm_head_block_ = declared.lm_head_block;
  layer_block_ = std::move(declared.layer_block);
  chunk_ranges_ = std::move(declared.chunks);
  layers_ = std::move(declared.layers);
  mtp_blocks_ = std::move(declared.mtp);
  if (parallel.sequence_parallel && tp > 1)
    for (const MtpBlock& m : mtp_blocks_) {
      mtp_head_partial_.push_back(m.head_norm());
      for (ParamId id : m.combine_params()) mtp_combine_partial_.push_back(id);
    }
  const int64_t shard = tp_.shard_rows(n);
  for (auto& layer : layers_)
    if (layer && layer->moe) layer->moe->reserve(shard, max_shape.batch);
  for (const LayerRange& r : chunk_ranges_) {
    chunk_base_.push_back(positions_);
    positions_ += r.size() + 1;
  }
  params_.allocate(residency);
  for (ParamId id : {embed_, head_copy_, lm_head_})
    if (id >= 0) vocab_first_ = params_.info(id).box_offset[0];
  // Weight gradients summed over tp right after their block cannot wait for a weight pass.
  weight_grad_queue_ = std::make_unique<WeightGradQueue>(params_);
  params_.set_weight_grad_queue(weight_grad_queue_.get());
  if (pipe.deferred > 0)
    weight_grad_queue_->reserve(pipe.deferred,
                                weight_grad_pass_elems(config, max_shape, parallel.placement,
                                                       parallel.sequence_parallel));
  for (const auto& layer : layers_)
    if (layer)
      for (const auto* ids : {&layer->partial_grads, &layer->kv_grads})
        for (ParamId id : *ids) weight_grad_queue_->keep_immediate(id);
  for (ParamId id : mtp_combine_partial_) weight_grad_queue_->keep_immediate(id);

  // KV heads replicated over tp: their gradients are summed over the ranks sharing a head.
  const Layer* any_layer = nullptr;
  for (const auto& layer : layers_)
    if (layer && layer->attn && !any_layer) any_layer = layer.get();
  const int kv_replicas = any_layer ? any_layer->attn->kv_replicas() : 1;
  if (kv_replicas > 1) {
    Result<std::unique_ptr<Comm>> group =
        parallel.tensor->split(parallel.tensor->rank() / kv_replicas, parallel.tensor->rank(),
                               "tp_kv");
    SYM_CHECK(group.has_value(), "splitting the tp group by KV head: {}",
              group.has_value() ? "" : group.error().message());
    kv_group_ = std::move(group).value();
    kv_tp_ = TensorParallel(kv_group_.get(), false, 0, 0, dtype);
  }

  int64_t stash = final_norm_ >= 0 ? params_.info(final_norm_).shape.numel() : 0;
  for (const auto& layer : layers_) {
    if (!layer) continue;
    int64_t elems = 0;
    for (const auto* ids : {&layer->partial_grads, &layer->kv_grads})
      for (ParamId id : *ids) elems += params_.info(id).shape.numel();
    stash = std::max(stash, elems);
  }
  // An MTP module's enorm, hnorm and eh_proj (its head norm is no larger than the final norm).
  if (!mtp_combine_partial_.empty()) stash = std::max(stash, 2 * d + 2 * d * d);
  if (tp > 1) partial_stash_ = Buffer(dtype, {stash}, MemoryCategory::kActivations);

  // Full recomputation keeps one set of activations, sized for the largest layer kind.
  const ModelConfig attn_config = config.mla()
                                      ? MlaBlock::local_config(config, parallel.placement)
                                      : AttentionBlock::local_config(config, parallel.placement);
  const int64_t local = tp_.local_rows(n), mlp_width = config.intermediate_size / tp;
  const int etp = parallel.placement.size[int(Axis::kExpertTensor)];
  bool any_moe = false, any_dense = false;
  for (int64_t l = 0; l < num_layers; ++l)
    if (layers_[size_t(l)]) (config.is_moe_layer(l) ? any_moe : any_dense) = true;
  SYM_CHECK(saved == Precision::kFp32 || (saved == Precision::kBf16 && dtype == DType::kF32),
            "saved activations are fp32 or bf16 (of an f32 model)");
  ActScratch* scratch = nullptr;
  if (saved == Precision::kBf16 && recompute == Recompute::kNone && (any_moe || any_dense)) {
    act_scratch_ = ActScratch(act_scratch_elems(config, attn_config, n, shard, mlp_width,
                                                any_moe, any_dense, expert_ranks_, etp));
    scratch = &act_scratch_;
    normed_ = act(dtype, {local, d});
    if (any_moe) moe_row_scratch_ = ActScratch(MoeActs::row_scratch_elems(config, shard,
                                                                          expert_ranks_));
  }
  auto layer_acts = [&](bool is_moe, LayerPart part) {
    return std::make_unique<LayerActs>(config, attn_config, is_moe, part, n, local, shard,
                                       mlp_width, dtype, expert_ranks_, etp, scratch,
                                       scratch ? &moe_row_scratch_ : nullptr,
                                       scratch ? normed_.view() : View());
  };
  if (recompute == Recompute::kFull) {
    if (any_moe || any_dense) {
      auto shared = layer_acts(any_moe, LayerPart::kWhole);
      if (any_moe && any_dense) shared->mlp = SwigluActBuffers(dtype, n, mlp_width);
      acts_.push_back(std::move(shared));
    }
  } else {
    acts_.resize(size_t(slots_ * num_layers));
    for (int slot = 0; slot < slots_; ++slot)
      for (int64_t l = 0; l < num_layers; ++l)
        if (layers_[size_t(l)])
          acts_[size_t(slot * num_layers + l)] =
              layer_acts(config.is_moe_layer(l), layers_[size_t(l)]->part);
  }
  rope_ = rope_table(dtype, std::max(max_shape.seq_len, int64_t(1)),
                     config.mla() ? config.qk_rope_head_dim : config.rotary_dim(),
                     config.rope_theta);
  residual_ = act(dtype, {slots_ * positions_, local, d});
  if (last_stage_) {
    final_h_ = act(dtype, {slots_ * local, d});
    final_inv_ = act(dtype, {slots_ * local});
    ce_scratch_ = act(dtype, {std::min(n, cross_entropy_chunk_rows(v / tp)), v / tp});
    if (pipe.loss_in_forward) {
      SYM_CHECK(tp == 1, "the loss runs in the forward without tensor parallelism");
      head_logits_ = act(dtype, {slots_ * n, v});
    }
  } else if (first_stage_ && pipe.split_head()) {
    // The first stage scores its share of the rows with the embedding (head_pass).
    ce_scratch_ = act(dtype, {std::min(n, cross_entropy_chunk_rows(v)), v});
  }
  dres_ = act(dtype, {local, d});
  dh_ = act(dtype, {local, d});
  if (recompute == Recompute::kFull) layer_out_scratch_ = act(dtype, {local, d});
  if (config.mla())
    mla_scratch_ = MlaScratch(attn_config, n, dtype);
  else
    attn_scratch_ = AttentionScratch(attn_config, n, dtype);
  if (!mtp_blocks_.empty()) {
    for (size_t i = 0; i < size_t(slots_) * mtp_blocks_.size(); ++i)
      mtp_acts_.emplace_back(local, d, dtype);
    mtp_scratch_ = MtpScratch(local, d, dtype);
    mtp_dres_ = act(dtype, {local, d});
    mtp_tokens_.resize(size_t(n));
    mtp_targets_.resize(size_t(n));
  }
  mtp_losses_.resize(size_t(config.num_nextn_predict_layers));
  bias_.resize(size_t(num_layers));
  moe_stats_.resize(size_t(num_layers));
  scratch_stats_.resize(size_t(num_layers));
  for (int64_t l = 0; l < num_layers; ++l) {
    if (layers_[size_t(l)] && layers_[size_t(l)]->moe)
      bias_[size_t(l)] = Buffer(dtype, {config.num_experts});
  }
  reset_moe_stats();
}

Transformer::~Transformer() = default;

ParamStore Transformer::declare_params(const ModelConfig& config,
                                       const ShardPlacement& placement) {
  // Declares without allocating and without setting up any exchange.
  ParamStore store(DType::kF32, placement);
  const ModelParallel declaration_only{placement, nullptr};
  Declared declared;
  declare(config, declaration_only, store, declared);
  return store;
}

Result<std::unique_ptr<Transformer>> Transformer::create(const ModelConfig& config, DType dtype,
                                                         BatchShape max_shape,
                                                         Recompute recompute,
                                                         ParamResidency residency) {
  return create(config, dtype, max_shape, recompute, residency, read_host_memory());
}

Result<std::unique_ptr<Transformer>> Transformer::create(const ModelConfig& config, DType dtype,
                                                         BatchShape max_shape,
                                                         Recompute recompute,
                                                         ParamResidency residency,
                                                         const HostMemory& host) {
  return create(config, dtype, max_shape, recompute, residency, ModelParallel{}, host);
}

Result<std::unique_ptr<Transformer>> Transformer::create(const ModelConfig& config, DType dtype,
                                                         BatchShape max_shape,
                                                         Recompute recompute,
                                                         ParamResidency residency,
                                                         const ModelParallel& parallel,
                                                         const HostMemory& host) {
  SYM_TRY(config.validate());
  if (config.mlp_kind != MlpKind::kSwiGlu || config.parallel_attn || config.sliding_window > 0)
    return Error::invalid(
        "model.mlp_kind = \"{}\", model.parallel_attn = {}, model.sliding_window = {}: the "
        "engine trains sequential blocks of full causal attention and SwiGLU feed-forwards "
        "(\"swiglu\", false, 0); the other variants are costed by `symphony plan` only",
        mlp_kind_name(config.mlp_kind), config.parallel_attn, config.sliding_window);
  if (recompute == Recompute::kSelective)
    return Error::invalid("recompute = \"selective\": the model keeps every activation "
                          "(\"none\") or recomputes whole layers (\"full\"); selective "
                          "recomputation is costed by `symphony plan` only");
  if (max_shape.batch < 1 || max_shape.seq_len < 1)
    return Error::invalid("batch shape {} x {} must be positive", max_shape.batch,
                          max_shape.seq_len);
  const std::optional<MemoryPlan> plan =
      plan_training_memory_checked(config, dtype, max_shape, recompute, parallel.placement,
                                   parallel.sequence_parallel);
  if (!plan)
    return Error::invalid("the model's memory for a batch of {} x {} tokens overflows 64-bit byte "
                          "counts (model.hidden_size = {}, model.num_hidden_layers = {}, "
                          "model.vocab_size = {})",
                          max_shape.batch, max_shape.seq_len, config.hidden_size,
                          config.num_hidden_layers, config.vocab_size);
  // What the constructor allocates: the plan without the optimizer's moments.
  struct Category {
    const char* name;
    int64_t bytes;
  };
  const Category categories[] = {
      {"weights", residency.weights == Residency::kFull ? plan->weights : 0},
      {"gradients", residency.grads == Residency::kFull ? plan->grads : 0},
      {"activations", plan->activations},
      {"other", plan->other}};
  int64_t needed = 0;  // bounded by the plan's total, which fits
  const Category* largest = &categories[0];
  for (const Category& c : categories) {
    needed += c.bytes;
    if (c.bytes > largest->bytes) largest = &c;
  }
  const std::optional<int64_t> available = host.available();
  if (available && needed > *available) {
    std::string why;
    if (largest <= &categories[1]) {  // weights or gradients: the parameters
      const ParamStore store = declare_params(config, parallel.placement);
      const ParamInfo* biggest = &store.info(0);
      for (const ParamInfo& info : store.infos())
        if (info.shape.numel() > biggest->shape.numel()) biggest = &info;
      why = fmt::format("; the largest tensor is {} [{}]", biggest->name,
                        fmt::join(biggest->shape.dims.begin(),
                                  biggest->shape.dims.begin() + biggest->shape.ndim, ", "));
    }
    return Error::invalid(
        "the model needs {} for {} parameters and a batch of {} x {} tokens ({} {} the "
        "largest{}) but {} is available ({})",
        format_bytes(needed), count_params(config).total, max_shape.batch, max_shape.seq_len,
        largest->name, format_bytes(largest->bytes), why, format_bytes(*available),
        host.describe_available());
  }
  return std::make_unique<Transformer>(config, dtype, max_shape, recompute, residency, parallel);
}

int64_t Transformer::act_scratch_elems(const ModelConfig& config, const ModelConfig& attn_config,
                                       int64_t rows, int64_t shard, int64_t mlp_width, bool moe,
                                       bool dense, int expert_ranks, int expert_tensor_ranks) {
  int64_t elems = dense ? SwigluActBuffers::numel(rows, mlp_width) : 0;
  elems = std::max(elems, ActStash::working_elems(
                              rows, config.mla() ? MlaActs::stashed_widths(attn_config)
                                                 : AttentionActs::stashed_widths(attn_config)));
  if (moe)
    elems = std::max(elems, MoeActs::swiglu_scratch_elems(config, shard, expert_ranks,
                                                          expert_tensor_ranks));
  return elems;
}

int64_t Transformer::param_numel(const ModelConfig& config, const ShardPlacement& placement) {
  return declare_params(config, placement).numel();
}

void Transformer::reset_moe_stats() {
  for (int64_t l = 0; l < config_.num_layers_with_mtp(); ++l) {
    int64_t e = config_.is_moe_layer(l) ? config_.num_experts : 0;
    moe_stats_[size_t(l)].reset(e);
    scratch_stats_[size_t(l)].reset(e);
  }
}

View Transformer::balance_bias(int64_t layer) { return bias_[size_t(layer)].view(); }

void Transformer::update_balance_bias(double rate) {
  for (int64_t l = 0; l < config_.num_layers_with_mtp(); ++l)
    if (layers_[size_t(l)] && layers_[size_t(l)]->moe)
      symphony::update_balance_bias(moe_stats_[size_t(l)].routed, rate, bias_[size_t(l)].view());
}

Transformer::LayerActs& Transformer::acts_for(int slot, int64_t l) {
  return *acts_[recompute_ == Recompute::kFull ? 0
                                               : size_t(slot * config_.num_layers_with_mtp() + l)];
}

ConstView Transformer::lm_head_weight() const {
  if (!config_.tie_word_embeddings) return params_.param(lm_head_);
  return params_.param(head_copy_ >= 0 ? head_copy_ : embed_);
}

View Transformer::lm_head_grad() {
  if (!config_.tie_word_embeddings) return params_.grad(lm_head_);
  return params_.grad(head_copy_ >= 0 ? head_copy_ : embed_);
}

ParamId Transformer::pipeline_end_shared() const {
  if (head_copy_ >= 0) return head_copy_;
  const PipelineStages& pipe = params_.placement().pipeline;
  if (pipe.stages < 2) return -1;
  if (config_.tie_word_embeddings || config_.num_nextn_predict_layers > 0) return embed_;
  return pipe.split_head() && last_stage_ ? lm_head_ : -1;
}

int Transformer::head_weight_block() const {
  if (config_.tie_word_embeddings) return lm_head_extra_block();
  return lm_head_block_ >= 0 ? lm_head_block_ : head_block_;
}

int Transformer::lm_head_extra_block() const {
  if (!config_.tie_word_embeddings || !last_stage_) return -1;
  return head_copy_ >= 0 ? head_copy_block_ : embed_block_;
}

void Transformer::layer_forward(const Exec& ex, int64_t l, const BatchShape& shape, ConstView x,
                                LayerActs& a, const LossScales& scales, View x_out,
                                MoeStats& stats) {
  const Layer& layer = *layers_[size_t(l)];
  const int64_t n = shape.rows(), local = x.dim(0);
  // The attention's output: the layer's x_mid, or this part's output; the feed-forward's input:
  // x_mid, or this part's input.
  if (layer.part == LayerPart::kAttention) {
    attention_forward(ex, layer, shape, x, a, x_out);
    return;
  }
  ConstView x_mid = x;
  if (layer.part == LayerPart::kWhole) {
    View mid = a.x_mid.view().rows(0, local);
    attention_forward(ex, layer, shape, x, a, mid);
    x_mid = mid;
  }
  View h2 = a.h2(local);
  rmsnorm_forward(ex, x_mid, params_.param(layer.post_norm), config_.rms_norm_eps, h2,
                  a.inv2.view().rows(0, local));
  if (layer.moe) {
    // Each tensor-parallel rank routes its share of the rows: its own rows under sequence
    // parallelism, else its slice of the replicated rows, gathered back after.
    const bool slice = tp_.size() > 1 && !tp_.sequence_parallel();
    const int64_t begin = slice ? tp_.shard_begin(n) : 0;
    const int64_t rows = slice ? tp_.shard_rows(n) : local;
    note(layer.moe->forward(ex, params_, bias_[size_t(l)].view(), h2.rows(begin, begin + rows),
                            shape.seq_len, scales, tp_, a.moe, x_out.rows(begin, begin + rows),
                            stats));
    if (slice) tp_.all_gather_shards(x_out.rows(begin, begin + rows), x_out);
  } else {
    // Column-parallel gate and up, row-parallel down, each beside its collective.
    const SwigluWeights w = layer.mlp->weights(params_);
    const SwigluActs acts = a.mlp.view(n);
    const ConstView gate_up[] = {w.gate, w.up};
    const View g_u[] = {acts.g, acts.u};
    tp_.column_parallel_forward(ex, h2, gate_up, g_u);
    swiglu_forward(ex, acts.g, acts.u, acts.a);
    tp_.row_parallel_forward(ex, acts.a, w.down, x_out);
    a.mlp.save(ex, n);
  }
  add(ex, x_out, x_mid, x_out);
}

void Transformer::attention_forward(const Exec& ex, const Layer& layer, const BatchShape& shape,
                                    ConstView x, LayerActs& a, View x_mid) {
  if (layer.mla)
    layer.mla->forward(ex, params_, rope_.view(), shape, tp_, x, a.mla, mla_scratch_, x_mid);
  else
    layer.attn->forward(ex, params_, rope_.view(), shape, tp_, x, a.attn, x_mid);
}

void Transformer::layer_backward(const Exec& ex, int64_t l, const BatchShape& shape, ConstView x,
                                 LayerActs& a, const LossScales& scales, View dres,
                                 MoeStats& stats) {
  const Layer& layer = *layers_[size_t(l)];
  const int64_t local = x.dim(0);
  start_partial_grads(layer.partial_grads, layer.kv_grads);
  if (runs_feed_forward(layer.part))
    feed_forward_backward(ex, layer, shape,
                          layer.part == LayerPart::kWhole ? ConstView(a.x_mid.view().rows(0, local))
                                                          : x,
                          a, scales, dres, stats);
  if (layer.mla)
    layer.mla->backward(ex, params_, rope_.view(), shape, tp_, x, a.mla, mla_scratch_, dres, dres);
  else if (layer.attn)
    layer.attn->backward(ex, params_, rope_.view(), shape, tp_, x, a.attn, attn_scratch_, dres,
                         dres);
  finish_partial_grads(layer.partial_grads, layer.kv_grads);
}

void Transformer::feed_forward_backward(const Exec& ex, const Layer& layer,
                                        const BatchShape& shape, ConstView x_mid, LayerActs& a,
                                        const LossScales& scales, View dres, MoeStats& stats) {
  const int64_t n = shape.rows(), local = x_mid.dim(0);
  View dh2 = dh_.view().rows(0, local);
  View h2 = a.h2(local);
  if (a.recomputes_h2())  // bf16-saved activations: forward's normed input again
    rmsnorm_apply(ex, x_mid, params_.param(layer.post_norm), a.inv2.view().rows(0, local), h2);
  if (layer.moe) {
    const bool slice = tp_.size() > 1 && !tp_.sequence_parallel();
    const int64_t begin = slice ? tp_.shard_begin(n) : 0;
    const int64_t rows = slice ? tp_.shard_rows(n) : local;
    note(layer.moe->backward(ex, params_, h2.rows(begin, begin + rows),
                             dres.rows(begin, begin + rows), scales, tp_, a.moe,
                             dh2.rows(begin, begin + rows), stats));
    if (slice) tp_.all_gather_shards(dh2.rows(begin, begin + rows), dh2);
  } else {
    // The saved input is gathered again while the down projection's gradients run (the output
    // gradient's rows gathered chunk by chunk beside them), and the input gradient is summed over
    // tp while the gate and up weight gradients run.
    ConstView h2_whole = tp_.gather_start(h2, 1);
    View partial = tp_.partial_for(dh2, n);
    const SwigluWeights w = layer.mlp->weights(params_);
    const SwigluActs acts = a.mlp.restore(ex, n);
    const SwigluGrads grads = layer.mlp->grads(params_);
    tp_.row_parallel_backward(ex, acts.a, w.down, dres, acts.a, grads.down,
                              grads.queue);  // a becomes da
    swiglu_backward(ex, acts.g, acts.u, acts.a, acts.g, acts.u);
    linear_backward_input(ex, w.gate, acts.g, partial, Accumulate::kNo);
    linear_backward_input(ex, w.up, acts.u, partial, Accumulate::kYes);
    tp_.reduce_start(partial, dh2);
    tp_.gather_wait();
    swiglu_mlp_backward_weights(ex, h2_whole, acts, grads);
    tp_.reduce_wait();
  }
  rmsnorm_backward(ex, x_mid, params_.param(layer.post_norm), a.inv2.view().rows(0, local), dh2,
                   dh2, params_.grad(layer.post_norm));
  add(ex, dres, dh2, dres);
}

void Transformer::start_partial_grads(std::span<const ParamId> tp_ids,
                                      std::span<const ParamId> kv_ids) {
  // Set aside what earlier micro-batches accumulated, so that the sums over tp below add this
  // micro-batch's parts only.
  int64_t at = 0;
  for (std::span<const ParamId> ids : {tp_ids, kv_ids})
    for (ParamId id : ids) {
      View g = params_.grad(id);
      std::copy_n(g.f32(), g.numel(), partial_stash_.f32() + at);
      std::fill_n(g.f32(), g.numel(), 0.f);
      at += g.numel();
    }
}

void Transformer::finish_partial_grads(std::span<const ParamId> tp_ids,
                                       std::span<const ParamId> kv_ids) {
  int64_t at = 0;
  const std::span<const ParamId> lists[] = {tp_ids, kv_ids};
  TensorParallel* groups[] = {&tp_, &kv_tp_};
  for (int list = 0; list < 2; ++list)
    for (ParamId id : lists[list]) {
      View g = params_.grad(id);
      groups[list]->all_reduce(g);
      float* dst = g.f32();
      const float* earlier = partial_stash_.f32() + at;
      for (int64_t i = 0; i < g.numel(); ++i) dst[i] += earlier[i];
      at += g.numel();
    }
}

View Transformer::residual(int slot, int chunk, int64_t l, int64_t n) {
  const int64_t local = tp_.local_rows(n), d = config_.hidden_size;
  const int64_t pos = int64_t(slot) * positions_ + chunk_base_[size_t(chunk)] +
                      (l - chunk_ranges_[size_t(chunk)].begin);
  return residual_.view().rows(pos, pos + 1).reshape({residual_.shape()[1], d}).rows(0, local);
}

View Transformer::chunk_input(int chunk, int slot, int64_t n) {
  return residual(slot, chunk, chunk_ranges_[size_t(chunk)].begin, n);
}

ConstView Transformer::chunk_output(int chunk, int slot, int64_t n) {
  return residual(slot, chunk, chunk_ranges_[size_t(chunk)].end, n);
}

void Transformer::check_shape(const BatchShape& shape) const {
  const int64_t n = shape.rows();
  SYM_CHECK(shape.batch <= max_shape_.batch && shape.seq_len <= max_shape_.seq_len,
            "batch shape ({}, {}) exceeds the model's ({}, {})", shape.batch, shape.seq_len,
            max_shape_.batch, max_shape_.seq_len);
  SYM_CHECK(n % tp_.size() == 0, "{} rows do not split over {} tensor-parallel ranks", n,
            tp_.size());
}

CrossEntropyResult Transformer::forward_chunk(const Exec& ex, const BatchShape& shape, int chunk,
                                              int slot, std::span<const int32_t> tokens,
                                              std::span<const int32_t> targets,
                                              const LossScales& scales, bool train) {
  check_shape(shape);
  SYM_CHECK(chunk >= 0 && chunk < chunks() && slot >= 0 && slot < slots_,
            "chunk {} slot {} of {} x {}", chunk, slot, chunks(), slots_);
  const int64_t n = shape.rows(), local = tp_.local_rows(n);
  const PipelineStages& pipe = params_.placement().pipeline;
  const LayerRange r = chunk_ranges_[size_t(chunk)];
  CrossEntropyResult ce;
  if (pipe.is_first(chunk)) {
    SYM_CHECK(int64_t(tokens.size()) == n, "{} tokens for {} rows", tokens.size(), n);
    hook_before_forward(embed_block_);
    // Vocabulary-parallel lookup: each rank fills the rows of its tokens, zeros elsewhere, and
    // the sum over tp is the embedding.
    View x0 = chunk_input(chunk, slot, n);
    View partial = tp_.partial_for(x0, n);
    embedding_forward(ex, params_.param(embed_), tokens, partial, vocab_first_);
    tp_.reduce(partial, x0);
    hook_after_forward(embed_block_);
  }
  for (int64_t l = r.begin; l < r.end; ++l) {
    MoeStats& s = (train ? moe_stats_ : scratch_stats_)[size_t(l)];
    hook_before_forward(layer_block_[size_t(l)]);
    layer_forward(ex, l, shape, residual(slot, chunk, l, n), acts_for(slot, l), scales,
                  residual(slot, chunk, l + 1, n), s);
    hook_after_forward(layer_block_[size_t(l)]);
  }
  if (pipe.is_last(chunk)) {
    hook_before_forward(head_block_);
    rmsnorm_forward(ex, chunk_output(chunk, slot, n), params_.param(final_norm_),
                    config_.rms_norm_eps, final_h_.view().rows(slot * local, (slot + 1) * local),
                    final_inv_.view().rows(slot * local, (slot + 1) * local));
    if (train && loss_in_forward(ex)) {
      SYM_CHECK(int64_t(targets.size()) == n, "{} targets for {} rows", targets.size(), n);
      const int extra = lm_head_extra_block();  // the LM head is the embedding or its copy
      if (extra >= 0) hook_before_forward(extra);
      ce = lm_head_logit_grads(ex, final_h_.view().rows(slot * local, (slot + 1) * local),
                               lm_head_weight(), targets, scales.token, ce_scratch_.view().dim(0),
                               head_logits_.view().rows(slot * local, (slot + 1) * local));
      if (extra >= 0) hook_after_forward(extra);
    }
    hook_after_forward(head_block_);
    if (train && !mtp_blocks_.empty()) mtp_forward(ex, shape, chunk, slot, tokens, scales);
  }
  return ce;
}

bool Transformer::loss_in_forward(const Exec& ex) const {
  return !head_logits_.empty() && ex.impl != KernelImpl::kRef && params_.dtype() == DType::kF32;
}

bool Transformer::head_weight_deferrable(const Exec& ex) const {
  const int extra = lm_head_extra_block();
  return tp_.size() == 1 && ex.impl != KernelImpl::kRef && params_.dtype() == DType::kF32 &&
         (extra < 0 || extra != embed_block_) && mtp_blocks_.empty();
}

void Transformer::head_grads(const Exec& ex, int slot, int64_t n) {
  const int64_t local = tp_.local_rows(n);
  lm_head_grads(ex, final_h_.view().rows(slot * local, (slot + 1) * local), lm_head_weight(),
                head_logits_.view().rows(slot * local, (slot + 1) * local),
                ce_scratch_.view().dim(0), dh_.view().rows(0, local), lm_head_grad());
}

CrossEntropyResult Transformer::head_loss(const Exec& ex, int slot, int64_t n,
                                          std::span<const int32_t> targets, double grad_scale,
                                          bool grad, bool defer) {
  const int64_t local = tp_.local_rows(n);
  return head_loss(ex, final_h_.view().rows(slot * local, (slot + 1) * local), n, targets,
                   grad_scale, grad, defer);
}

CrossEntropyResult Transformer::head_loss(const Exec& ex, ConstView h, int64_t n,
                                          std::span<const int32_t> targets, double grad_scale,
                                          bool grad, bool defer) {
  const int64_t local = tp_.local_rows(n);
  SYM_CHECK(int64_t(targets.size()) == n, "{} targets for {} rows", targets.size(), n);
  View dh = grad ? dh_.view().rows(0, local) : View();
  View dw = grad ? lm_head_grad() : View();
  if (defer) {
    SYM_CHECK(grad && head_weight_deferrable(ex), "the LM head's weight gradient cannot be deferred");
    return head_rows_loss(ex, h, lm_head_weight(), targets, grad_scale, dh, dw, true);
  }
  if (tp_.size() == 1)
    return lm_head_cross_entropy(ex, h, lm_head_weight(), targets, grad_scale, ce_scratch_.view(),
                                 dh, dw);
  // Vocabulary-parallel: every rank scores its block of the vocabulary for all rows; the input
  // gradient is a part on each rank, summed over tp.
  View partial = grad ? tp_.partial_for(dh, n) : View();
  Status status;
  CrossEntropyResult ce = vocab_parallel_cross_entropy(
      ex, tp_.group(), tp_.gather(h, 0), lm_head_weight(), vocab_first_, targets, grad_scale,
      ce_scratch_.view(), partial, dw, status);
  note(std::move(status));
  if (grad) tp_.reduce(partial, dh);
  return ce;
}

CrossEntropyResult Transformer::head_rows_loss(const Exec& ex, ConstView h, ConstView w,
                                               std::span<const int32_t> targets,
                                               double grad_scale, View dh, View dw, bool defer) {
  if (!defer)
    return lm_head_cross_entropy(ex, h, w, targets, grad_scale, ce_scratch_.view(), dh, dw);
  // Each row chunk's dw += dlogits^T h is recorded for the weight-gradient pass.
  struct QueueSink final : HeadGradSink {
    const Exec& ex;
    WeightGradQueue& queue;
    View dw;
    QueueSink(const Exec& e, WeightGradQueue& q, View w) : ex(e), queue(q), dw(w) {}
    void add(ConstView h_chunk, ConstView dlogits_chunk) override {
      queue.linear_weight(ex, h_chunk, dlogits_chunk, dw);
    }
  } sink(ex, *weight_grad_queue_, dw);
  return lm_head_cross_entropy(ex, h, w, targets, grad_scale, ce_scratch_.view(), dh, View(),
                               &sink);
}

ConstView Transformer::remote_head_input(int slot, int64_t n) const {
  const int64_t k = params_.placement().pipeline.remote_head_rows(n);
  SYM_CHECK(last_stage_ && k > 0, "remote head rows on a stage without the head split's head");
  return final_h_.view().rows(slot * n + n - k, (slot + 1) * n);
}

View Transformer::remote_head_grad(int64_t n) {
  const int64_t k = params_.placement().pipeline.remote_head_rows(n);
  SYM_CHECK(last_stage_ && k > 0, "remote head rows on a stage without the head split's head");
  return dh_.view().rows(n - k, n);
}

CrossEntropyResult Transformer::head_pass(const Exec& ex, const BatchShape& shape, int slot,
                                          std::span<const int32_t> targets,
                                          const LossScales& scales, ConstView h, View dh,
                                          WeightGrads weight_grads, int key) {
  check_shape(shape);
  const PipelineStages& pipe = params_.placement().pipeline;
  const int64_t n = shape.rows(), k = pipe.remote_head_rows(n);
  SYM_CHECK(pipe.split_head() && tp_.size() == 1 && mtp_blocks_.empty() &&
                (first_stage_ != last_stage_),
            "the head split needs two pipeline stages, no tp and no MTP");
  SYM_CHECK(int64_t(targets.size()) == n, "{} targets for {} rows", targets.size(), n);
  CrossEntropyResult ce;
  if (last_stage_) {
    const int64_t own = n - k;
    const int block = head_weight_block();
    const bool defer = weight_grads == WeightGrads::kDeferred && head_weight_deferrable(ex);
    if (defer) weight_grad_queue_->begin(key);
    weight_grad_queue_->set_block(block);
    hook_before_backward(block);
    if (own > 0)
      ce = head_rows_loss(ex, final_h_.view().rows(slot * n, slot * n + own), lm_head_weight(),
                          targets.first(size_t(own)), scales.token, dh_.view().rows(0, own),
                          lm_head_grad(), defer);
    if (defer && weight_grad_queue_->recorded(key, block))
      hook_after_input_grads(block);
    else
      hook_after_backward(block);
    weight_grad_queue_->end();
    head_pass_slot_ = slot;
    return ce;
  }
  SYM_CHECK(h.numel() == k * config_.hidden_size && dh.numel() == h.numel(),
            "{} hidden and {} gradient values for {} rows", h.numel(), dh.numel(), k);
  // The head: the tied embedding, or the first stage's copy of the untied LM head.
  const ParamId head = config_.tie_word_embeddings ? embed_ : head_copy_;
  const int block = config_.tie_word_embeddings ? embed_block_ : head_copy_block_;
  hook_before_backward(block);
  if (k > 0)
    ce = head_rows_loss(ex, h, params_.param(head), targets.last(size_t(k)), scales.token, dh,
                        params_.grad(head), false);
  hook_after_backward(block);
  return ce;
}

CrossEntropyResult Transformer::backward_chunk(const Exec& ex, const BatchShape& shape, int chunk,
                                               int slot, std::span<const int32_t> tokens,
                                               std::span<const int32_t> targets, ConstView dy,
                                               const LossScales& scales, View dx,
                                               WeightGrads weight_grads, int key) {
  check_shape(shape);
  const int64_t n = shape.rows(), local = tp_.local_rows(n);
  const PipelineStages& pipe = params_.placement().pipeline;
  const LayerRange r = chunk_ranges_[size_t(chunk)];
  View dres = dres_.view().rows(0, local);
  View dh = dh_.view().rows(0, local);
  const int extra = lm_head_extra_block();
  // The embedding (or its copy) the MTP modules read: held from the head's backward on, when
  // the LM head is not already it; on the first stage until the embedding's own backward.
  const int mtp_embed =
      pipe.is_last(chunk) && !mtp_blocks_.empty() && mtp_embedding_block() != extra
          ? mtp_embedding_block()
          : -1;
  const bool defer = weight_grads == WeightGrads::kDeferred;
  if (defer) weight_grad_queue_->begin(key);
  // A block whose weight gradients wait for W has only its input gradients done after B.
  auto after_backward = [&](int block) {
    if (defer && weight_grad_queue_->recorded(key, block))
      hook_after_input_grads(block);
    else
      hook_after_backward(block);
  };
  CrossEntropyResult ce;
  if (pipe.is_last(chunk)) {
    // With the head split, head_pass ran the loss and left the input gradient of its rows in
    // dh_; the caller wrote the first stage's rows into remote_head_grad().
    const bool split = pipe.split_head();
    hook_before_backward(head_block_);
    // The LM head is the embedding or its copy.
    if (extra >= 0 && !split) hook_before_backward(extra);
    if (mtp_embed >= 0) hook_before_backward(mtp_embed);
    const bool defer_head = defer && head_weight_deferrable(ex);
    weight_grad_queue_->set_block(extra >= 0 ? extra : head_block_);
    if (split) {
      SYM_CHECK(head_pass_slot_ == slot, "backward of slot {} before its head pass", slot);
      head_pass_slot_ = -1;
    } else if (loss_in_forward(ex)) {
      // GPipe, whose backward is never split into B and W.
      SYM_CHECK(!defer, "the loss ran in the forward of a schedule with deferred weight passes");
      head_grads(ex, slot, n);
    } else {
      ce = head_loss(ex, slot, n, targets, scales.token, true, defer_head);
    }
    const std::span<const ParamId> final_partial(&final_norm_, tp_.sequence_parallel() ? 1 : 0);
    start_partial_grads(final_partial, {});
    rmsnorm_backward(ex, chunk_output(chunk, slot, n), params_.param(final_norm_),
                     final_inv_.view().rows(slot * local, (slot + 1) * local), dh, dres,
                     params_.grad(final_norm_));
    finish_partial_grads(final_partial, {});
    if (!mtp_blocks_.empty())
      mtp_backward(ex, shape, chunk, slot, tokens, targets, scales, dres, defer, key);
    if (mtp_embed >= 0 && mtp_embed == head_copy_block_) after_backward(mtp_embed);
    if (extra >= 0 && extra == head_copy_block_ && !split) after_backward(extra);
    after_backward(head_block_);
  } else {
    SYM_CHECK(dy.numel() == dres.numel(), "output gradient of {} values for {} rows", dy.numel(),
              local);
    std::copy_n(dy.f32(), dres.numel(), dres.f32());
  }
  for (int64_t l = r.end - 1; l >= r.begin; --l) {
    LayerActs& a = acts_for(slot, l);
    const int block = layer_block_[size_t(l)];
    hook_before_backward(block);
    if (recompute_ == Recompute::kFull)
      layer_forward(ex, l, shape, residual(slot, chunk, l, n), a, scales,
                    layer_out_scratch_.view().rows(0, local), scratch_stats_[size_t(l)]);
    weight_grad_queue_->set_block(block);
    layer_backward(ex, l, shape, residual(slot, chunk, l, n), a, scales, dres,
                   moe_stats_[size_t(l)]);
    after_backward(block);
  }
  weight_grad_queue_->end();
  if (pipe.is_first(chunk)) {
    SYM_CHECK(int64_t(tokens.size()) == n, "{} tokens for {} rows", tokens.size(), n);
    if (extra != embed_block_ && mtp_embed != embed_block_) hook_before_backward(embed_block_);
    embedding_backward(ex, tokens, tp_.gather(dres, 0), params_.grad(embed_), vocab_first_);
    hook_after_backward(embed_block_);
  } else {
    SYM_CHECK(dx.numel() == dres.numel(), "input gradient of {} values for {} rows", dx.numel(),
              local);
    std::copy_n(dres.f32(), dres.numel(), dx.f32());
  }
  note(tp_.status());
  note(kv_tp_.status());
  return ce;
}

void Transformer::weight_grads(const Exec& ex, int key) {
  weight_grad_queue_->run(ex, key, hooks_);
}

CrossEntropyResult Transformer::chunk_loss(const Exec& ex, const BatchShape& shape, int slot,
                                           std::span<const int32_t> targets) {
  const int head = head_weight_block();
  hook_before_forward(head);
  CrossEntropyResult ce = head_loss(ex, slot, shape.rows(), targets, 1.0, false);
  hook_after_forward(head);
  note(tp_.status());
  return ce;
}

CrossEntropyResult Transformer::forward_backward(const Exec& ex, const BatchShape& shape,
                                                 std::span<const int32_t> tokens,
                                                 std::span<const int32_t> targets,
                                                 const LossScales& scales) {
  SYM_CHECK(chunks() == 1 && first_stage_ && last_stage_,
            "forward_backward runs a model without pipeline stages");
  CrossEntropyResult ce = forward_chunk(ex, shape, 0, 0, tokens, targets, scales, true);
  const CrossEntropyResult back =
      backward_chunk(ex, shape, 0, 0, tokens, targets, ConstView(), scales, View());
  ce.loss_sum += back.loss_sum;
  ce.count += back.count;
  return ce;
}

CrossEntropyResult Transformer::evaluate(const Exec& ex, const BatchShape& shape,
                                         std::span<const int32_t> tokens,
                                         std::span<const int32_t> targets) {
  SYM_CHECK(chunks() == 1 && first_stage_ && last_stage_,
            "evaluate runs a model without pipeline stages");
  forward_chunk(ex, shape, 0, 0, tokens, targets, LossScales{}, false);
  return chunk_loss(ex, shape, 0, targets);
}

std::vector<KvCache> Transformer::make_kv_caches() const {
  std::vector<KvCache> caches(size_t(config_.num_hidden_layers));
  for (KvCache& c : caches) {
    if (config_.mla()) {
      const int64_t width = config_.kv_lora_rank + config_.qk_rope_head_dim;
      c.latent = Buffer(dtype_, {max_shape_.seq_len, width}, MemoryCategory::kActivations);
      continue;
    }
    c.k = Buffer(dtype_, {max_shape_.seq_len, config_.kv_dim()}, MemoryCategory::kActivations);
    c.v = Buffer(dtype_, {max_shape_.seq_len, config_.kv_dim()}, MemoryCategory::kActivations);
  }
  return caches;
}

void Transformer::decode(const Exec& ex, std::span<const int32_t> tokens,
                         std::vector<KvCache>& caches, View logits) {
  const int64_t n = int64_t(tokens.size()), d = config_.hidden_size;
  SYM_CHECK(tp_.size() == 1 && chunks() == 1 && first_stage_ && last_stage_,
            "decoding runs one process (tensor parallel size {}, {} pipeline chunks)", tp_.size(),
            chunks());
  SYM_CHECK(max_shape_.batch == 1 && n >= 1 && n <= max_shape_.seq_len,
            "decode: {} tokens for a model shaped ({}, {})", n, max_shape_.batch,
            max_shape_.seq_len);
  View x = residual_.view().rows(0, 1).reshape({max_shape_.rows(), d}).rows(0, n);
  View y = residual_.view().rows(1, 2).reshape({max_shape_.rows(), d}).rows(0, n);
  embedding_forward(ex, params_.param(embed_), tokens, x);
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    const Layer& layer = *layers_[size_t(l)];
    LayerActs& a = acts_for(0, l);
    View x_mid = a.x_mid.view().rows(0, n), h2 = a.h2(n);
    if (layer.mla)
      layer.mla->forward_cached(ex, params_, rope_.view(), x, a.mla, mla_scratch_,
                                caches[size_t(l)], x_mid);
    else
      layer.attn->forward_cached(ex, params_, rope_.view(), x, a.attn, caches[size_t(l)], x_mid);
    rmsnorm_forward(ex, x_mid, params_.param(layer.post_norm), config_.rms_norm_eps, h2,
                    a.inv2.view().rows(0, n));
    if (layer.moe)
      note(layer.moe->forward(ex, params_, bias_[size_t(l)].view(), h2, n, LossScales{}, tp_,
                              a.moe, y, scratch_stats_[size_t(l)]));
    else
      swiglu_mlp_forward(ex, h2, layer.mlp->weights(params_), a.mlp.view(n), y);
    add(ex, y, x_mid, y);
    std::swap(x, y);
  }
  View h_last = final_h_.view().rows(0, 1);
  rmsnorm_forward(ex, x.rows(n - 1, n), params_.param(final_norm_), config_.rms_norm_eps, h_last,
                  final_inv_.view().rows(0, 1));
  linear_forward(ex, h_last, lm_head_weight(), logits.reshape({1, config_.vocab_size}));
}

}  // namespace symphony
