// Time per training step of a layout (declared in plan/evaluation.h).
//
// Per micro-batch and GPU, each layer costs (tokens per GPU n = mbs * T / cp, split t = tp):
//   GEMMs      forward  max(F_gemm / (peak * eff.gemm), weight bytes / (HBM * eff.memory)),
//              backward twice that (input and weight gradients), a roofline per operation
//              class: dense projections, and routed experts (whose rows per expert shrink with
//              fine-grained experts until they are weight-bandwidth bound)
//   attention  forward F_core / (peak * eff.attention); backward 2.5x (FlashAttention-2's five
//              matmuls against two)
//   elementwise  forward elements * bytes / (HBM * eff.memory); backward 2x
//   recompute  full: the forward again; selective: the norms and activation functions again
// Communication per layer and micro-batch (Megatron-LM with sequence parallelism):
//   tensor parallel   the engine's schedule (model/tensor_parallel.h TensorParallelSchedule):
//                     4 all-gathers/reduce-scatters of n * D forward, 6 backward, 4 more when
//                     the forward is recomputed; of the overlappable ones (one chunk of each
//                     2-chunk collective, the 4 backward re-gathers and reductions) a fraction
//                     options.tp_overlap is hidden
//   expert parallel   dispatch + combine all-to-all of n/t * K * D forward, again backward (and
//                     again when recomputing), pairwise or deduplicated by node
//                     (options.ep_dispatch). Under DualPipe, or with paired micro-batches
//                     (options.ep_overlap; the first stage's unpaired warm-up and cool-down
//                     passes exposed), it overlaps the other direction's computation;
//                     otherwise, with the chunked exchange (options.ep_overlap), each
//                     direction moves in two chunks a = a2a / 2: the first dispatch hides behind
//                     the shared experts S (backward: router and shared experts, 2S), the second
//                     dispatch and the first combine behind one chunk's expert GEMMs X/2
//                     (backward X), the last combine is exposed:
//                     exposed = max(0, a - S) + 2 max(0, a - X/2) + a
//                     (expert parallelism's hidden fraction measured by `symphony bench train`)
//   context parallel  cp - 1 ring steps passing K and V, overlapped with the attention blocks
// The last stage adds the LM head and loss, and each MTP module: its layer (as above), eh_proj,
// its norms and embedding lookup, and the LM head and loss again.
// Pipeline: analytic_pipeline_s (parallel/pipeline_schedule.h) of F, B, W (forward,
// input-gradient, weight-gradient time of one micro-batch on the slowest stage) and the sends
// between stages, e.g. (m + pp - 1) t for 1F1B with t = F + B + W + sends.
// Data parallel: gradients reduced over dp * cp (experts over dp * cp * tp / ep), overlapped with
// the last micro-batch's backward (ZeRO-2: every micro-batch's, as it keeps no full gradient);
// ZeRO-1/2 add a parameter all-gather overlapped with the next forward; ZeRO-3 gathers
// parameters twice and reduce-scatters gradients every micro-batch, overlapped with that
// micro-batch's compute. Then the optimizer step reads and writes its shard of the state once.
#include <algorithm>
#include <cmath>

#include "model/tensor_parallel.h"
#include "parallel/pipeline_schedule.h"
#include "plan/evaluation.h"
#include "plan/expert_gemm.h"

namespace symphony::plan {
namespace {

// Time of one layer for one micro-batch on one GPU, split the way the pipeline schedules need.
struct LayerTime {
  double fwd = 0;                 // F: forward compute
  double bwd_input = 0;           // B: input-gradient compute (attention and elementwise backward)
  double bwd_weight = 0;          // W: weight-gradient GEMMs
  double recompute = 0;           // extra forward work (counted into B)
  double tp_fwd = 0, tp_bwd = 0;  // exposed tensor-parallel communication
  double ep_fwd = 0, ep_bwd = 0;  // exposed expert all-to-all
  double ep_intra = 0, ep_inter = 0;
  double cp_fwd = 0, cp_bwd = 0;  // exposed context-parallel exchange
  // Parts of fwd + bwd_input + bwd_weight: the routed experts' GEMMs, and the host time per local
  // expert (options.moe_expert_overhead_s) that they do not hide.
  double expert_gemm = 0, expert_overhead = 0;
  double compute() const { return fwd + bwd_input + bwd_weight + recompute; }
  double comm() const { return tp_fwd + tp_bwd + ep_fwd + ep_bwd + cp_fwd + cp_bwd; }
};

struct Rates {
  double gemm = 0;       // FLOP/s of the layout's GEMM precision
  double attention = 0;  // FLOP/s of fused attention
  double hbm = 0;        // achieved bytes/s
};

Rates rates(const PlanContext& ctx, Precision p) {
  const Accelerator& a = ctx.cluster.accelerator;
  const Efficiency& e = ctx.eff;
  Rates r;
  switch (p) {
    case Precision::kFp32: r.gemm = a.peak_fp32_flops * e.gemm_fp32; break;
    case Precision::kBf16: r.gemm = a.peak_bf16_flops * e.gemm; break;
    case Precision::kFp8:
      r.gemm = a.peak_fp8_flops * (ctx.options.fp8_recipe == Fp8Recipe::kTensorwise
                                       ? e.gemm_fp8
                                       : e.gemm_fp8_block);
      break;
  }
  const double attention_peak = p == Precision::kFp32 ? a.peak_fp32_flops : a.peak_bf16_flops;
  r.attention = attention_peak * e.attention;
  // A power cap or locked clock slows the tensor cores, not the memory.
  r.gemm *= a.compute_scale();
  r.attention *= a.compute_scale();
  r.hbm = a.memory_bw * e.memory;
  return r;
}

double roofline(double flops, double bytes, double flop_rate, double byte_rate) {
  return std::max(flops / flop_rate, bytes / byte_rate);
}

// The routed experts' GEMMs on one GPU for one micro-batch: the K copies of its n / tp tokens it
// receives (moe_imbalance times the mean on the busiest GPU), over its E / ep experts.
ExpertGemmShape expert_shape(const PlanContext& ctx, const PlanLayout& l) {
  const ModelConfig& c = ctx.model.config;
  const double n = double(l.mbs * ctx.batch.seq_len) / double(l.cp());
  return {.rows = n / double(l.tp()) * double(c.num_experts_per_tok) * ctx.options.moe_imbalance,
          .experts = c.num_experts / l.ep(),
          .hidden = c.hidden_size,
          .width = c.moe_intermediate_size,
          .matrices = c.mlp_matrices()};
}

// fp8 GEMMs read fp8 inputs and weights and write bf16; the weight gradients accumulate into
// the main gradients (fp32 or bf16), read and written every micro-batch.
ExpertGemmBytes expert_bytes(const PlanContext& ctx, const PlanLayout& l) {
  const double w_b =
      l.precision == Precision::kFp32 ? 4.0 : (l.precision == Precision::kFp8 ? 1.0 : 2.0);
  return {.input = w_b,
          .weight = w_b,
          .output = activation_bytes(l.precision),
          .accumulator = 2.0 * state_bytes(l.precision, ctx.options.grad_precision).grad};
}

LayerTime layer_time(const PlanContext& ctx, const PlanLayout& l, const LayerCosts& lc,
                     const Rates& r) {
  const ModelCosts& m = ctx.model;
  const ModelConfig& c = m.config;
  const double t = double(l.tp());
  const double n = double(l.mbs * ctx.batch.seq_len) / double(l.cp());
  const double w_b =
      l.precision == Precision::kFp32 ? 4.0 : (l.precision == Precision::kFp8 ? 1.0 : 2.0);
  const double act_b = activation_bytes(l.precision);
  LayerTime lt;

  // Dense projections (attention, dense FFN or router + shared experts), split by tp; the k and
  // v projections split by at most the KV heads (each replicated over tp / KV heads ranks when
  // tp exceeds them, as multi-query attention under tensor parallelism).
  const double kv_split = std::min<double>(t, double(std::max<int64_t>(c.num_key_value_heads, 1)));
  const double dense_flops =
      n * (lc.attn_proj_flops - lc.kv_proj_flops + lc.ffn_flops -
           2.0 * double(lc.active_routed_params)) / t +
      n * lc.kv_proj_flops / kv_split;
  const double dense_bytes = double(lc.dense_params()) / t * w_b;
  const double dense_f = roofline(dense_flops, dense_bytes, r.gemm, r.hbm);
  // Routed experts: each GPU runs its E/ep experts on the K copies of its n/t tokens it receives
  // (the busiest GPU of the expert group, moe_imbalance times the mean, sets the pace), a
  // grouped GEMM per pass costed from each expert's shape (plan/expert_gemm.h).
  ExpertGemmTime expert;
  if (lc.moe) {
    expert = expert_gemm_time(expert_shape(ctx, l), expert_bytes(ctx, l),
                              {.flops = r.gemm, .bytes = r.hbm});
  }
  // Host time per local expert, a third with each pass (each pass runs two GEMMs per expert):
  // the host issues one expert's work while the GPU runs the expert before it, so a pass's
  // experts take the longer of their GEMMs and their host time, and only the excess is exposed.
  const double host =
      lc.moe ? double(c.num_experts / l.ep()) * ctx.options.moe_expert_overhead_s / 3.0 : 0.0;
  // Paired micro-batches need a pass of the other direction beside each one: not under GPipe
  // (all forwards, then all backwards) or with one micro-batch.
  const bool paired = ctx.options.ep_overlap == ExpertOverlap::kPaired &&
                      l.schedule != PipelineSchedule::kGpipe &&
                      num_microbatches(l, ctx.batch) > 1;
  // The backward issues each expert's input- and weight-gradient GEMMs together unless the
  // schedule runs the weight gradients as a separate pass: ZB-H1, DualPipe, and paired
  // micro-batches (Megatron-Core delays them, delay_wgrad_compute).
  const bool split_bw = l.schedule == PipelineSchedule::kZeroBubble ||
                        l.schedule == PipelineSchedule::kDualPipe || paired;
  const double host_f = std::max(0.0, host - expert.forward);
  const double host_bi =
      split_bw ? std::max(0.0, host - expert.backward_input)
               : std::max(0.0, 2.0 * host - expert.backward_input - expert.backward_weight);
  const double host_bw = split_bw ? std::max(0.0, host - expert.backward_weight) : 0.0;
  const double expert_f = expert.forward + host_f;
  const double core_f = n * lc.attn_core_flops / t / r.attention;
  const double ew_f = n / t * lc.elementwise_elems * act_b / r.hbm;

  lt.fwd = dense_f + expert_f + core_f + ew_f;
  lt.bwd_weight = dense_f + expert.backward_weight + host_bw;
  lt.bwd_input = dense_f + expert.backward_input + host_bi + 2.5 * core_f + 2.0 * ew_f;
  lt.expert_gemm = expert.forward + expert.backward_input + expert.backward_weight;
  lt.expert_overhead = host_f + host_bi + host_bw;
  if (l.recompute == Recompute::kFull) lt.recompute = lt.fwd;
  if (l.recompute == Recompute::kSelective) lt.recompute = 0.5 * ew_f;

  if (l.tp() > 1) {
    const CommGroup g = make_group(ctx.cluster, ctx.eff, l.tp(), 1);
    // Parallel attention and MLP gather their shared input once and reduce-scatter the summed
    // outputs once: half the collectives of a sequential block.
    const double one = all_gather(g, n * double(c.hidden_size) * act_b).time_s *
                       (c.parallel_attn ? 0.5 : 1.0);
    using S = TensorParallelSchedule;
    const double exposed = 1.0 - ctx.options.tp_overlap;
    // Forward: each sub-layer's gather and reduce-scatter in 2 chunks, one chunk of each beside
    // a GEMM (half of each collective overlappable).
    const double forward = S::kForward * (0.5 + 0.5 * exposed) * one;
    lt.tp_fwd = forward;
    lt.tp_bwd = (S::kBackwardChunked * (0.5 + 0.5 * exposed) + S::kBackwardOverlapped * exposed) *
                    one +
                (l.recompute == Recompute::kFull ? forward : 0.0);
  }
  if (lc.moe && l.ep() > 1) {
    const CommGroup g = make_group(ctx.cluster, ctx.eff, l.ep(), 1);
    // fp8 training dispatches in fp8 and combines in bf16 (DeepSeek-V3).
    const double a2a_b = l.precision == Precision::kFp8 ? 1.5 : act_b;
    // What the busiest GPU receives: moe_imbalance times the mean.
    const double bytes = n / t * double(c.num_experts_per_tok) * double(c.hidden_size) * a2a_b *
                         ctx.options.moe_imbalance;
    // The shares of `bytes` that travel inside nodes and between them.
    const double p = double(g.size);
    double intra_share = double(g.local - 1) / p, inter_share = double(g.size - g.local) / p;
    double one = 0;
    if (ctx.options.ep_dispatch == ExpertDispatch::kNodeDedup && g.nodes > 1) {
      intra_share = double(g.local - 1) / double(g.local);
      inter_share = node_dedup_inter_share(c, g.nodes);
      one = node_dedup_all_to_all(g, bytes, inter_share).time_s;
    } else {
      one = all_to_all(g, bytes).time_s;
    }
    lt.ep_intra = intra_share * bytes / g.intra_bw;
    lt.ep_inter = inter_share * bytes / g.a2a_inter_bw;
    double fwd = 2.0 * one, bwd = (2.0 + (l.recompute == Recompute::kFull ? 2.0 : 0.0)) * one;
    lt.ep_intra *= 4.0;
    lt.ep_inter *= 4.0;
    if (l.schedule == PipelineSchedule::kDualPipe || paired) {
      // Each chunk's all-to-all runs while the paired chunk of the other direction computes.
      const double paired_fwd = std::max(0.0, fwd - lt.bwd_input - lt.bwd_weight);
      const double paired_bwd = std::max(0.0, bwd - lt.fwd);
      // Paired micro-batches outside DualPipe: the warm-up forwards and cool-down backwards of
      // the first stage (1F1B: p - 1 of m micro-batches; interleaved: 2 (p - 1) + (v - 1) p of
      // m v chunk passes) have no partner and expose their exchange.
      double alone = 0.0;
      if (l.schedule != PipelineSchedule::kDualPipe) {
        const double micro = double(num_microbatches(l, ctx.batch)), stages = double(l.pp());
        const double v = double(l.vpp);
        alone = l.schedule == PipelineSchedule::kInterleaved
                    ? (2.0 * (stages - 1.0) + (v - 1.0) * stages) / (micro * v)
                    : (stages - 1.0) / micro;
        alone = std::min(1.0, alone);
      }
      fwd = alone * fwd + (1.0 - alone) * paired_fwd;
      bwd = alone * bwd + (1.0 - alone) * paired_bwd;
    } else if (ctx.options.ep_overlap == ExpertOverlap::kChunked) {
      // Dense GEMM time is proportional to the dense parameters (2 FLOPs per parameter and
      // token): the shared experts' share of it.
      const double dense_params = double(lc.dense_params());
      const double shared_f =
          dense_params > 0 ? dense_f * double(lc.shared_expert_params) / dense_params : 0.0;
      const double a = 0.5 * one;
      auto exposed = [a](double first_cover, double chunk_compute) {
        return std::max(0.0, a - first_cover) + 2.0 * std::max(0.0, a - chunk_compute) + a;
      };
      // Under ZB-H1 the weight gradients run in a later pass: the input gradients alone cover
      // the backward's exchange.
      const double backward_experts =
          split_bw ? expert.backward_input + host_bi
                   : expert.backward_input + expert.backward_weight + host_bi + host_bw;
      fwd = exposed(shared_f, 0.5 * expert_f);
      bwd = exposed(2.0 * shared_f, 0.5 * backward_experts) +
            (l.recompute == Recompute::kFull ? fwd : 0.0);
    }
    lt.ep_fwd = fwd;
    lt.ep_bwd = bwd;
  }
  if (l.cp() > 1) {
    const CommGroup g = make_group(ctx.cluster, ctx.eff, l.cp(), l.tp());
    const double step = send_recv_s(g, n / t * m.kv_elems_per_token * act_b);
    const double ring = double(l.cp() - 1) * step;
    lt.cp_fwd = std::max(0.0, ring - core_f);
    lt.cp_bwd = std::max(0.0, 2.0 * ring - 2.5 * core_f);
  }
  return lt;
}

// One stage's time for one micro-batch.
struct StageTime {
  LayerTime sum;  // the layers, plus the LM head on the last stage
  double pp_comm = 0;
  double f() const { return sum.fwd + sum.tp_fwd + sum.ep_fwd + sum.cp_fwd; }
  double b() const { return sum.bwd_input + sum.recompute + sum.tp_bwd + sum.ep_bwd + sum.cp_bwd; }
  double w() const { return sum.bwd_weight; }
  double total() const { return f() + b() + w() + pp_comm; }
};

void add_scaled(LayerTime& into, const LayerTime& x, double k) {
  into.fwd += k * x.fwd;
  into.bwd_input += k * x.bwd_input;
  into.bwd_weight += k * x.bwd_weight;
  into.recompute += k * x.recompute;
  into.tp_fwd += k * x.tp_fwd;
  into.tp_bwd += k * x.tp_bwd;
  into.ep_fwd += k * x.ep_fwd;
  into.ep_bwd += k * x.ep_bwd;
  into.ep_intra += k * x.ep_intra;
  into.ep_inter += k * x.ep_inter;
  into.cp_fwd += k * x.cp_fwd;
  into.cp_bwd += k * x.cp_bwd;
  into.expert_gemm += k * x.expert_gemm;
  into.expert_overhead += k * x.expert_overhead;
}

}  // namespace

TimeBreakdown plan_step_time(const PlanContext& ctx, const PlanLayout& l) {
  const ModelCosts& m = ctx.model;
  const ModelConfig& c = m.config;
  const Rates r = rates(ctx, l.precision);
  const double t = double(l.tp());
  const double n = double(l.mbs * ctx.batch.seq_len) / double(l.cp());
  const double act_b = activation_bytes(l.precision);
  const int64_t micro = num_microbatches(l, ctx.batch);

  const LayerTime dense = layer_time(ctx, l, m.dense, r);
  const LayerTime moe = m.num_layers > m.num_dense_layers ? layer_time(ctx, l, m.moe, r) : dense;

  // LM head GEMM and loss on the last stage.
  LayerTime head;
  {
    const double w_b = l.precision == Precision::kFp32 ? 4.0 : 2.0;
    const double f = roofline(
        n * m.lm_head_flops / t, double(m.embedding_params) / t * w_b,
        l.precision == Precision::kFp8 ? rates(ctx, Precision::kBf16).gemm : r.gemm, r.hbm);
    const double loss = n * double(c.vocab_size) / t * 3.0 * 4.0 / r.hbm;  // fp32 softmax
    head.fwd = f + loss;
    head.bwd_input = f + loss;
    head.bwd_weight = f;
  }
  // Each MTP module on the last stage: its layer, the embedding lookup (vocabulary-parallel: a
  // reduction of n D over tp forward, a gather of its gradient backward), the three norms,
  // eh_proj (its weights whole on every tp rank, each rank on its n/t rows) and the LM head and
  // loss again.
  LayerTime mtp;
  if (m.num_mtp_modules > 0) {
    mtp = layer_time(ctx, l, m.mtp_layer(), r);
    add_scaled(mtp, head, 1.0);
    const double w_b =
        l.precision == Precision::kFp32 ? 4.0 : (l.precision == Precision::kFp8 ? 1.0 : 2.0);
    const double d = double(c.hidden_size);
    const double proj = roofline(n / t * 2.0 * 2.0 * d * d, 2.0 * d * d * w_b, r.gemm, r.hbm);
    const double ew = n / t * m.mtp.elementwise_elems * act_b / r.hbm;
    mtp.fwd += proj + ew;
    mtp.bwd_input += proj + 2.0 * ew;
    mtp.bwd_weight += proj;
    if (l.recompute == Recompute::kSelective) mtp.recompute += 0.5 * ew;
    if (l.tp() > 1) {
      const CommGroup g = make_group(ctx.cluster, ctx.eff, l.tp(), 1);
      const double one = all_gather(g, n * d * act_b).time_s;
      mtp.tp_fwd += one;
      mtp.tp_bwd += one;
    }
  }
  const CommGroup pp_group = make_group(ctx.cluster, ctx.eff, l.pp(), l.tp() * l.cp() * l.dp());
  const double p2p = l.pp() > 1 ? send_recv_s(pp_group, n / t * double(c.hidden_size) * act_b) : 0;

  StageTime slowest;
  const StageSet stages = representative_stages(m, l);
  const std::vector<LayerRange> ranges = virtual_stage_ranges(m, l);
  for (int i = 0; i < stages.count; ++i) {
    const int64_t s = stages.stages[i];
    StageTime st;
    for (int64_t v = 0; v < l.vpp; ++v) {
      const LayerRange lr = ranges[size_t(v * l.pp() + s)];
      const int64_t n_dense =
          std::max<int64_t>(0, std::min(lr.last, m.num_dense_layers) - lr.first);
      add_scaled(st.sum, dense, double(n_dense));
      add_scaled(st.sum, moe, double(lr.last - lr.first - n_dense));
    }
    if (s == l.pp() - 1) {
      add_scaled(st.sum, head, 1.0);
      add_scaled(st.sum, mtp, double(m.num_mtp_modules));
    }
    st.pp_comm = pipeline_p2p_per_micro_batch_s(l.schedule, l.pp(), l.vpp, p2p);
    if (i == 0 || st.total() > slowest.total()) slowest = st;
  }

  const double tmb = slowest.total();
  const double mm = double(micro);
  const StageTimes times{.forward_s = slowest.f(),
                         .backward_input_s = slowest.b(),
                         .backward_weight_s = slowest.w(),
                         .p2p_s = p2p};
  const double pipeline = analytic_pipeline_s(l.schedule, l.pp(), micro, l.vpp, times);

  TimeBreakdown tb;
  tb.compute = mm * slowest.sum.compute();
  tb.recompute = mm * slowest.sum.recompute;
  tb.tp_comm = mm * (slowest.sum.tp_fwd + slowest.sum.tp_bwd);
  tb.ep_comm = mm * (slowest.sum.ep_fwd + slowest.sum.ep_bwd);
  tb.ep_comm_intra = mm * slowest.sum.ep_intra;
  tb.ep_comm_inter = mm * slowest.sum.ep_inter;
  tb.cp_comm = mm * (slowest.sum.cp_fwd + slowest.sum.cp_bwd);
  tb.expert_gemm = mm * slowest.sum.expert_gemm;
  tb.expert_overhead = mm * slowest.sum.expert_overhead;
  if (c.num_experts > 0) {
    // The shape of one expert's GEMMs, as layer_time costs them.
    const ExpertGemmShape shape = expert_shape(ctx, l);
    const ExpertGemmBytes bytes = expert_bytes(ctx, l);
    tb.expert_rows = shape.rows / double(shape.experts);
    tb.expert_gemm_rate = expert_gemm_efficiency(shape, bytes, {.flops = r.gemm, .bytes = r.hbm});
  }
  tb.pp_comm = mm * slowest.pp_comm;
  tb.bubble = pipeline - mm * tmb;
  if (l.tp() > 1)
    tb.tp_algorithm = all_gather(make_group(ctx.cluster, ctx.eff, l.tp(), 1), 1.0).algorithm;

  // Data parallel and ZeRO, on the stage holding the most parameters.
  const StateBytes sb = state_bytes(l.precision, ctx.options.grad_precision);
  const double gather_b = l.precision == Precision::kFp32 ? 4.0 : 2.0;
  const CommGroup dense_g = make_group(ctx.cluster, ctx.eff, l.dp() * l.cp(), l.tp());
  const CommGroup expert_g = make_group(ctx.cluster, ctx.eff, l.expert_dp(), l.ep());
  double dp_exposed = 0, opt_params = 0;
  for (int i = 0; i < stages.count; ++i) {
    const StageParams p = stage_params(m, l, stages.stages[i]);
    double exposed = 0;
    const double overlap = ctx.options.dp_overlap;
    const double bwd_window = overlap * (slowest.b() + slowest.w());
    const double fwd_window = overlap * slowest.f();
    if (l.zero() == ZeroStage::kNone) {
      CollectiveCost d = all_reduce(dense_g, p.dense * sb.grad);
      CollectiveCost e = all_reduce(expert_g, p.expert * sb.grad);
      exposed = std::max(0.0, d.time_s + e.time_s - bwd_window);
      if (d.algorithm != Algorithm::kNone) tb.dp_algorithm = d.algorithm;
    } else if (l.zero() != ZeroStage::kParameters) {
      const double rs = reduce_scatter(dense_g, p.dense * sb.grad).time_s +
                        reduce_scatter(expert_g, p.expert * sb.grad).time_s;
      const double ag = all_gather(dense_g, p.dense * gather_b).time_s +
                        all_gather(expert_g, p.expert * gather_b).time_s;
      // ZeRO-2 keeps no full gradient to accumulate into, so every micro-batch reduce-scatters
      // its gradients; ZeRO-1 accumulates and reduces once.
      const double reductions = l.zero() == ZeroStage::kGradients ? mm : 1.0;
      exposed = reductions * std::max(0.0, rs - bwd_window) + std::max(0.0, ag - fwd_window);
      tb.dp_algorithm = reduce_scatter(dense_g, p.dense * sb.grad).algorithm;
    } else {
      const double per_mb = 2.0 * (all_gather(dense_g, p.dense * gather_b).time_s +
                                   all_gather(expert_g, p.expert * gather_b).time_s) +
                            reduce_scatter(dense_g, p.dense * sb.grad).time_s +
                            reduce_scatter(expert_g, p.expert * sb.grad).time_s;
      exposed = mm * std::max(0.0, per_mb - overlap * tmb);
      tb.dp_algorithm = reduce_scatter(dense_g, p.dense * sb.grad).algorithm;
    }
    dp_exposed = std::max(dp_exposed, exposed);
    const double shard = l.zero() != ZeroStage::kNone
                             ? p.dense / double(l.dp() * l.cp()) + p.expert / double(l.expert_dp())
                             : p.dense + p.expert;
    opt_params = std::max(opt_params, shard);
  }
  tb.dp_comm = dp_exposed;
  // AdamW reads weights, gradient and moments and writes them back (plus the bf16 copy).
  const double opt_bytes = l.precision == Precision::kFp32 ? 28.0 : 30.0;
  tb.optimizer = opt_params * opt_bytes / r.hbm;
  tb.overhead = ctx.eff.step_overhead_s;
  tb.step_s = pipeline + tb.dp_comm + tb.optimizer + tb.overhead;
  return tb;
}

Evaluation evaluate(const PlanContext& ctx, const PlanLayout& l) {
  Evaluation e;
  e.layout = l;
  e.microbatches = num_microbatches(l, ctx.batch);
  e.memory = plan_memory(ctx, l);
  e.fits = e.memory.total() <= ctx.cluster.accelerator.memory_bytes;
  e.time = plan_step_time(ctx, l);
  const ModelCosts& m = ctx.model;
  const double tokens = double(ctx.batch.global_batch_tokens);
  const double gpus = double(l.world());
  const double step = e.time.step_s;
  e.tokens_per_s = tokens / step;
  const double model_flops = m.model_flops_per_token() * tokens;
  double hardware_flops = model_flops;
  if (l.recompute == Recompute::kFull) {  // every layer's forward again, the MTP modules' too
    const double layers =
        m.sum_layers(0, m.num_layers, [](const LayerCosts& c) { return c.fwd_flops(); }) +
        double(m.num_mtp_modules) * m.mtp_layer().fwd_flops();
    hardware_flops += tokens * layers;
  }
  e.model_tflops_per_gpu = model_flops / step / gpus / 1e12;
  e.hardware_tflops_per_gpu = hardware_flops / step / gpus / 1e12;
  const double peak = ctx.cluster.accelerator.peak_bf16_flops;
  e.mfu = e.model_tflops_per_gpu * 1e12 / peak;
  e.hfu = e.hardware_tflops_per_gpu * 1e12 / peak;
  const double train_s = double(ctx.options.train_tokens) / e.tokens_per_s;
  e.train_days = train_s / 86400.0;
  e.gpu_hours = gpus * train_s / 3600.0;
  // A capped board draws its cap, the rest of the server what it always does.
  const Accelerator& a = ctx.cluster.accelerator;
  const double server_w = ctx.cluster.server_w_per_gpu - (a.power_w - a.board_power_w());
  e.energy_mwh = gpus * server_w * ctx.cluster.pue * train_s / 3600.0 / 1e6;
  e.energy_usd = e.energy_mwh * 1000.0 * ctx.cluster.energy_usd_per_kwh;
  e.rental_usd = e.gpu_hours * ctx.cluster.gpu_hour_usd;
  return e;
}

}  // namespace symphony::plan
