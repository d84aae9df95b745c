// Memory per GPU of a layout (declared in plan/evaluation.h).
//
// Model state per GPU, for P_d dense and P_e expert parameters on the GPU (stage_params) and
// bytes per parameter w, g, o (weights, gradients, optimizer: fp32 4/4/8; bf16 and fp8 2/4/12,
// fp8 adding a 1-byte weight copy), sharded by ZeRO over N_d = dp * cp (dense) and
// N_e = dp * cp * tp / ep (experts) ranks (Rajbhandari et al. 2020):
//   stage 0: (w + g + o) P           stage 1: (w + g) P + o P / N
//   stage 2: w P + (g + o) P / N     stage 3: (w + g + o) P / N
// plus, at stages 2 and 3, the gradients (and at 3 the weights) of the units held whole: two of
// the biggest dense unit (three when the embedding is read again by a tied head or the MTP
// modules) and two of the biggest expert unit (StageParams, zero/shard_layout.h).
// Activations per micro-batch and layer: the saved elements per token of plan/model_costs.h
// times tokens per GPU mbs * T / cp, divided by tp (sequence parallelism splits everything
// tensor parallelism does not; Korthikanti et al. 2022). Selective recomputation drops the
// norm outputs and activation-function outputs; full recomputation keeps only each layer's input
// plus one layer's working set. Flash attention never stores the T x T scores.
// The last stage also holds the MTP modules (model/transformer.h): their weights, their layers'
// activations like any layer's, their own saved rows and gradient scratch; their LM heads reuse
// the main head's logits buffer.
// In-flight micro-batches on stage s: GPipe m; 1F1B and ZB-H1 pp - s; interleaved
// pp - s + (pp - 1) / vpp (Narayanan et al. 2021); DualPipe pp + 1 (DeepSeek-V3 report), each
// capped at m.
#include <algorithm>

#include "core/check.h"
#include "plan/evaluation.h"

namespace symphony::plan {

StateBytes state_bytes(Precision p, GradPrecision grads) {
  const double g = grads == GradPrecision::kBf16 ? 2 : 4;
  switch (p) {
    case Precision::kFp32: return {4, 4, 8};
    case Precision::kBf16: return {2, g, 12};
    case Precision::kFp8: return {3, g, 12};
  }
  return {};
}

StageParams stage_params(const ModelCosts& m, const PlanLayout& l, int64_t stage) {
  StageParams p;
  const double tp = double(l.tp()), ep = double(l.ep());
  // A layer's dense parameters on one tp rank: the split ones / tp, the replicated ones whole,
  // the k and v projections over at most the KV heads.
  const double kv_split = double(std::min<int64_t>(l.tp(), std::max<int64_t>(
                                                                m.config.num_key_value_heads, 1)));
  auto dense_on_rank = [&](const LayerCosts& c) {
    const double replicated = double(c.tp_replicated_params()), kv = double(c.kv_proj_params);
    return (double(c.dense_params()) - replicated - kv) / tp + replicated + kv / kv_split;
  };
  const std::vector<LayerRange> ranges = virtual_stage_ranges(m, l);
  for (int64_t v = 0; v < l.vpp; ++v) {
    const LayerRange r = ranges[size_t(v * l.pp() + stage)];
    p.layers += r.last - r.first;
    p.dense += m.sum_layers(r.first, r.last, dense_on_rank);
    p.expert += m.sum_layers(r.first, r.last,
                             [](const LayerCosts& c) { return double(c.routed_expert_params); });
    if (r.last > r.first) {
      for (const LayerCosts* c : {&m.layer(r.first), &m.layer(r.last - 1)}) {
        p.largest_dense_unit = std::max(p.largest_dense_unit, dense_on_rank(*c));
        p.largest_expert_unit =
            std::max(p.largest_expert_unit, double(c->routed_expert_params) / ep);
      }
    }
  }
  p.expert /= ep;
  const bool first = stage == 0, last = stage == l.pp() - 1;
  const double embedding = double(m.embedding_params) / tp;
  if (first) {
    p.dense += embedding;
    p.largest_dense_unit = std::max(p.largest_dense_unit, embedding);
  }
  // The head reads the embedding again when it is tied, and so do the MTP modules.
  const bool embedding_reused = m.lm_head_params == 0 || m.num_mtp_modules > 0;
  if (last) {
    p.dense += double(m.final_norm_params);
    const double head = m.lm_head_params > 0 ? double(m.lm_head_params) / tp : embedding;
    if (m.lm_head_params > 0) p.dense += head;
    if (embedding_reused && !first) {  // the last stage's copy of the embedding
      p.dense += embedding;
      p.largest_dense_unit = std::max(p.largest_dense_unit, embedding);
    }
    p.largest_dense_unit = std::max(p.largest_dense_unit, head + double(m.final_norm_params));
    // Each MTP module is one unit: its own weights (whole on every tp rank) and its layer's
    // dense parameters; its layer's routed experts an expert unit.
    if (m.num_mtp_modules > 0) {
      const LayerCosts& t = m.mtp_layer();
      const double module = dense_on_rank(t) + double(m.mtp.params);
      const double experts = double(t.routed_expert_params) / ep;
      p.dense += double(m.num_mtp_modules) * module;
      p.expert += double(m.num_mtp_modules) * experts;
      p.largest_dense_unit = std::max(p.largest_dense_unit, module);
      p.largest_expert_unit = std::max(p.largest_expert_unit, experts);
    }
  }
  if (p.largest_expert_unit > 0) p.expert_unit_buffers = 2;
  // The engine keeps a third dense slot on every stage when the embedding is reused
  // (zero/shard_layout.h ShardLayout::slots).
  if (embedding_reused) p.dense_unit_buffers = 3;
  return p;
}

StageSet representative_stages(const ModelCosts& m, const PlanLayout& l) {
  struct Kind {
    int64_t dense = 0, moe = 0;
    bool first = false, last = false;
    bool operator==(const Kind&) const = default;
  };
  Kind kinds[StageSet::kMax];
  StageSet set;
  const std::vector<LayerRange> ranges = virtual_stage_ranges(m, l);
  for (int64_t s = 0; s < l.pp(); ++s) {
    Kind k;
    k.first = s == 0;
    k.last = s == l.pp() - 1;
    for (int64_t v = 0; v < l.vpp; ++v) {
      const LayerRange r = ranges[size_t(v * l.pp() + s)];
      const int64_t dense = std::max<int64_t>(0, std::min(r.last, m.num_dense_layers) - r.first);
      k.dense += dense;
      k.moe += r.last - r.first - dense;
    }
    bool seen = false;
    for (int i = 0; i < set.count && !seen; ++i) seen = kinds[i] == k;
    if (seen) continue;
    SYM_CHECK(set.count < StageSet::kMax, "more than {} kinds of pipeline stage", StageSet::kMax);
    kinds[set.count] = k;
    set.stages[set.count++] = s;
  }
  return set;
}

namespace {

double in_flight(const PlanLayout& l, int64_t micro, int64_t stage) {
  double f = 1;
  if (l.pp() > 1) {
    switch (l.schedule) {
      case PipelineSchedule::kGpipe: f = double(micro); break;
      case PipelineSchedule::k1F1B:
      case PipelineSchedule::kZeroBubble: f = double(l.pp() - stage); break;
      case PipelineSchedule::kInterleaved:
        f = double(l.pp() - stage) + double(l.pp() - 1) / double(l.vpp);
        break;
      case PipelineSchedule::kDualPipe: f = double(l.pp() + 1); break;
    }
  }
  return std::min(f, double(micro));
}

// Saved activation elements per token of one layer under a recompute mode (before the tp split).
double saved_elems(const LayerCosts& c, Recompute r, double moe_overload, int64_t hidden) {
  switch (r) {
    case Recompute::kNone: return c.act_attn + c.act_ffn + (moe_overload - 1.0) * c.act_routed;
    case Recompute::kSelective:
      return c.act_attn + c.act_ffn - c.act_selective_saving + (moe_overload - 1.0) * c.act_routed;
    case Recompute::kFull: return double(hidden);
  }
  return 0;
}

}  // namespace

MemoryBreakdown plan_memory(const PlanContext& ctx, const PlanLayout& l) {
  const ModelCosts& m = ctx.model;
  const ModelConfig& c = m.config;
  const PlanOptions& o = ctx.options;
  const StateBytes sb = state_bytes(l.precision, ctx.options.grad_precision);
  const double act_b = activation_bytes(l.precision);
  const double tp = double(l.tp());
  const double tokens = double(l.mbs * ctx.batch.seq_len) / double(l.cp());  // per GPU, pre-SP
  const int64_t micro = num_microbatches(l, ctx.batch);
  const double overload =
      c.num_experts == 0 ? 1.0 : (c.capacity_factor > 0 ? c.capacity_factor : o.moe_overload);
  const double n_dense = double(l.dp() * l.cp()), n_expert = double(l.expert_dp());
  const double copies = l.schedule == PipelineSchedule::kDualPipe ? 2.0 : 1.0;

  MemoryBreakdown best;
  const StageSet stages = representative_stages(m, l);
  const std::vector<LayerRange> ranges = virtual_stage_ranges(m, l);
  for (int i = 0; i < stages.count; ++i) {
    const int64_t s = stages.stages[i];
    const StageParams p = stage_params(m, l, s);
    MemoryBreakdown b;
    b.stage = int(s);
    auto sharded = [&](double bytes_per_param, ZeroStage min_stage) {
      const double dense = p.dense * bytes_per_param, expert = p.expert * bytes_per_param;
      return l.zero() >= min_stage ? dense / n_dense + expert / n_expert : dense + expert;
    };
    b.weights = copies * sharded(sb.weight, ZeroStage::kParameters);
    if (l.zero() == ZeroStage::kParameters) b.weights += p.gathered_units() * sb.weight;
    b.grads = copies * sharded(sb.grad, ZeroStage::kGradients);
    if (l.zero() >= ZeroStage::kGradients) b.grads += p.gathered_units() * sb.grad;
    b.optimizer = sharded(sb.optimizer, ZeroStage::kOptimizer);

    // Activations of the stage's layers for one micro-batch, times the micro-batches in flight;
    // on the last stage also each MTP module's layer and its own saved rows.
    const bool last = s == l.pp() - 1;
    const int64_t mtp_modules = last ? m.num_mtp_modules : 0;
    double per_mb = double(mtp_modules) *
                    (saved_elems(m.mtp_layer(), l.recompute, overload, c.hidden_size) + m.mtp.act);
    bool holds_dense = false, holds_moe = mtp_modules > 0 && m.mtp_layer().moe;
    holds_dense |= mtp_modules > 0 && !m.mtp_layer().moe;
    for (int64_t v = 0; v < l.vpp; ++v) {
      const LayerRange r = ranges[size_t(v * l.pp() + s)];
      per_mb += m.sum_layers(r.first, r.last, [&](const LayerCosts& lc) {
        return saved_elems(lc, l.recompute, overload, c.hidden_size);
      });
      if (r.last > r.first) {
        holds_dense |= !m.layer(r.first).moe;
        holds_moe |= m.layer(r.last - 1).moe;
      }
    }
    double working = 0;
    if (l.recompute == Recompute::kFull && (holds_dense || holds_moe)) {
      // The layer being recomputed, plus its output: one working set sized at start-up for every
      // kind of layer the stage holds (a stage with dense and MoE layers needs both FFN parts).
      auto ffn = [&](const LayerCosts& lc) {
        return lc.act_ffn + (overload - 1.0) * lc.act_routed;
      };
      working = m.dense.act_attn + (holds_dense ? ffn(m.dense) : 0.0) +
                (holds_moe ? ffn(m.moe) : 0.0) + double(c.hidden_size);
    }
    b.in_flight_microbatches = in_flight(l, micro, s);
    // Backward scratch of one layer and the final norm's output, alive once; the MTP modules'
    // gradient scratch on the last stage.
    const double scratch = std::max(m.dense.backward_scratch, m.moe.backward_scratch) +
                           double(c.hidden_size) +
                           (mtp_modules > 0 ? m.mtp.backward_scratch : 0.0);
    b.activations = (per_mb * b.in_flight_microbatches + working + scratch) * tokens / tp * act_b;
    if (last) {
      // Logits in the activation precision plus their fp32 softmax, for the rows alive at once.
      // The MTP modules' heads reuse them: each computes its loss and logit gradients in turn
      // during the backward pass, as the main head does.
      const double rows =
          o.loss_chunk_tokens > 0 ? std::min(tokens, double(o.loss_chunk_tokens)) : tokens;
      const double per_elem = l.precision == Precision::kFp32 ? 4.0 : act_b + 4.0;
      b.logits = rows * double(c.vocab_size) / tp * per_elem;
    }
    if (c.num_experts > 0 && (m.num_layers > m.num_dense_layers || mtp_modules > 0)) {
      // Dispatch send and receive buffers of one MoE layer: K copies of each local token.
      b.moe_buffers = 2.0 * tokens / tp * double(c.num_experts_per_tok) * double(c.hidden_size) *
                      act_b * overload;
      const double per_gpu = double(std::min(c.num_experts_per_tok, c.num_experts / l.ep()));
      b.moe_buffers_worst_case =
          double(l.ep()) * tokens / tp * per_gpu * double(c.hidden_size) * act_b;
    }
    if (l.tp() > 1) b.comm_buffers += 2.0 * tokens * double(c.hidden_size) * act_b;
    // Gradient buckets.
    if (l.dp() * l.cp() > 1 || l.expert_dp() > 1) b.comm_buffers += 2.0 * 40e6 * sb.grad;
    b.reserved = o.reserved_bytes;
    b.fragmentation = o.fragmentation * (b.total() - b.reserved);
    if (i == 0 || b.total() > best.total()) best = b;
  }
  return best;
}

}  // namespace symphony::plan
