#include "model/moe/moe_block.h"

#include <algorithm>

#include "kernels/elementwise.h"
#include "kernels/moe_permute.h"
#include "model/moe/expert_threads.h"
#include "model/moe/load_balance.h"
#include "model/moe/expert_tensor_gather.h"

namespace symphony {
namespace {
Buffer act(DType dtype, Shape shape) { return Buffer(dtype, shape, MemoryCategory::kActivations); }
View expert_slice(View stacked, int64_t e) {
  return stacked.rows(e, e + 1).reshape({stacked.dim(1), stacked.dim(2)});
}
ConstView expert_slice(ConstView stacked, int64_t e) {
  return stacked.rows(e, e + 1).reshape({stacked.dim(1), stacked.dim(2)});
}
RouterSpec router_spec(const ModelConfig& c) {
  return {c.scoring_func, c.norm_topk_prob ? TopkNorm::kNormalize : TopkNorm::kNone,
          c.routed_scaling_factor, c.n_group, c.topk_group};
}
void fill_zero(View v) {
  if (v.dtype() == DType::kF64)
    std::fill_n(v.data<double>(), v.numel(), 0.0);
  else
    std::fill_n(v.data<float>(), v.numel(), 0.f);
}
}  // namespace

double MoeStats::max_over_mean() const {
  if (routed.empty()) return 0;
  int64_t total = 0, mx = 0;
  for (int64_t r : routed) total += r, mx = std::max(mx, r);
  return total == 0 ? 0 : double(mx) * double(routed.size()) / double(total);
}

int64_t MoeActs::expert_rows(const ModelConfig& c, int64_t rows, int expert_ranks) {
  return rows * c.num_experts_per_tok * std::max(expert_ranks, 1);
}

namespace {

SwigluActBuffers swiglu_buffers(ActScratch* scratch, DType dtype, int64_t rows, int64_t width) {
  return scratch ? SwigluActBuffers(*scratch, rows, width) : SwigluActBuffers(dtype, rows, width);
}

}  // namespace

int64_t MoeActs::swiglu_scratch_elems(const ModelConfig& c, int64_t rows, int expert_ranks,
                                      int expert_tensor_ranks) {
  int64_t elems = SwigluActBuffers::numel(expert_rows(c, rows, expert_ranks) * expert_tensor_ranks,
                                          c.moe_intermediate_size / expert_tensor_ranks);
  if (c.n_shared_experts > 0)
    elems = std::max(elems, SwigluActBuffers::numel(
                                rows, c.n_shared_experts * c.moe_intermediate_size));
  return elems;
}

int64_t MoeActs::row_scratch_elems(const ModelConfig& c, int64_t rows, int expert_ranks) {
  int64_t elems = ActStash::working_elems(rows * c.num_experts_per_tok, routed_widths(c));
  if (expert_ranks > 1)
    elems += ActStash::working_elems(expert_rows(c, rows, expert_ranks), exchanged_widths(c));
  return elems;
}

MoeActs::MoeActs(const ModelConfig& c, int64_t rows, DType dtype, int expert_ranks,
                 int expert_tensor_ranks, ActScratch* scratch, ActScratch* row_scratch)
    : logits(act(dtype, {rows, c.num_experts})),
      probs(act(dtype, {rows, c.num_experts})),
      weights(act(dtype, {rows, c.num_experts_per_tok})),
      idx(size_t(rows * c.num_experts_per_tok)),
      routed(row_scratch
                 ? ActStash(*row_scratch, rows * c.num_experts_per_tok, routed_widths(c), 1)
                 : ActStash(dtype, rows * c.num_experts_per_tok, routed_widths(c))),
      experts(swiglu_buffers(scratch, dtype,
                             expert_rows(c, rows, expert_ranks) * expert_tensor_ranks,
                             c.moe_intermediate_size / expert_tensor_ranks)),
      dprobs_aux(act(dtype, {rows, c.num_experts})),
      dweights(act(dtype, {rows, c.num_experts_per_tok})),
      dlogits(act(dtype, {rows, c.num_experts})) {
  if (expert_ranks > 1) {
    const int64_t r = expert_rows(c, rows, expert_ranks);
    send_idx.resize(idx.size());
    rows_by_position.resize(size_t(c.num_experts));
    exchange = ExchangePlan(c.num_experts, expert_ranks,
                            ExpertExchange::chunks_for(c.num_experts, expert_ranks), r);
    exchanged = row_scratch ? ActStash(*row_scratch, r, exchanged_widths(c), 1,
                                       ActStash::working_elems(routed.rows(), routed_widths(c)))
                            : ActStash(dtype, r, exchanged_widths(c));
  }
  if (expert_tensor_ranks > 1) {
    const int64_t r = expert_rows(c, rows, expert_ranks) * expert_tensor_ranks;
    xt = act(dtype, {r, c.hidden_size});
    yt = act(dtype, {r, c.hidden_size});
  }
  if (c.n_shared_experts > 0) {
    shared = swiglu_buffers(scratch, dtype, rows, c.n_shared_experts * c.moe_intermediate_size);
    shared_out = act(dtype, {rows, c.hidden_size});
  }
}

MoeBlock::MoeBlock(const ModelConfig& config, const std::string& prefix, ParamStore& store,
                   const ModelParallel& parallel)
    : config_(config) {
  const int64_t d = config.hidden_size, e = config.num_experts, f = config.moe_intermediate_size;
  router_ = store.add(prefix + ".mlp.gate.weight", {e, d}, Decay::kYes);
  if (config.n_shared_experts > 0)
    shared_ = std::make_unique<DenseMlp>(prefix + ".mlp.shared_experts", d,
                                         config.n_shared_experts * f, store);
  // The routed experts last, so a MoE layer is one dense unit and one expert unit.
  // Experts over ep; under etp each expert's width F over the etp ranks too.
  const ShardSpec by_expert{Axis::kExpert, 0};
  const ShardSpec by_width = by_expert.then(Axis::kExpertTensor, 1);
  const ShardSpec by_input = by_expert.then(Axis::kExpertTensor, 2);
  gate_ = store.add(prefix + ".mlp.experts.gate_proj", {e, f, d}, Decay::kYes, by_width);
  up_ = store.add(prefix + ".mlp.experts.up_proj", {e, f, d}, Decay::kYes, by_width);
  down_ = store.add(prefix + ".mlp.experts.down_proj", {e, d, f}, Decay::kYes, by_input);
  expert_ranks_ = store.placement().blocks(by_expert);
  expert_tensor_ranks_ = store.placement().blocks2(by_width);
  if (expert_tensor_ranks_ > 1) {
    SYM_CHECK(parallel.expert_tensor == nullptr ||
                  (parallel.expert_tensor->size() == expert_tensor_ranks_ &&
                   store.dtype() == DType::kF32),
              "MoE layer {}: {} expert tensor ranks need an etp group of that size and f32",
              prefix, expert_tensor_ranks_);
    etp_group_ = parallel.expert_tensor;
  }
  if (expert_ranks_ > 1 && parallel.expert != nullptr) {
    const int ep = expert_ranks_;
    SYM_CHECK(parallel.expert->size() == ep && store.dtype() == DType::kF32,
              "MoE layer {}: {} expert ranks need an ep group of that size and f32", prefix, ep);
    exchange_ = std::make_unique<ExpertExchange>(*parallel.expert, e,
                                                 ExpertExchange::chunks_for(e, ep));
  }
  routed_scratch_.resize(size_t(e + 1));
  stat_scratch_.resize(size_t(2 * e + 2));
}

std::vector<ParamId> MoeBlock::partial_grads() const {
  std::vector<ParamId> ids{router_};
  if (shared_) for (ParamId id : shared_->params()) ids.push_back(id);
  return ids;
}

void MoeBlock::reserve(int64_t rows, int64_t sequences) {
  if (config_.router_seq_aux_loss_coef != 0)
    stat_scratch_.resize(size_t(2 * config_.num_experts + 2 +
                                2 * config_.num_experts * std::max<int64_t>(sequences, 1)));
  const int64_t expert_rows = MoeActs::expert_rows(config_, rows, expert_ranks_);
  if (etp_group_ != nullptr)
    etp_gather_ =
        std::make_unique<ExpertTensorGather>(*etp_group_, expert_rows, config_.hidden_size);
}

// The expert GEMMs of segments [first, last) of x (rows per `offsets`) into y. Under expert
// tensor parallelism the etp group's rows of those segments are gathered into a.xt at row `at`,
// computed there (activations at the same rows) and their partial outputs summed back into y;
// `at` advances past them.
Status MoeBlock::experts_forward_any(const Exec& ex, const ParamStore& store, int64_t first,
                                     int64_t last, int64_t per_expert,
                                     std::span<const int64_t> offsets, ConstView x, MoeActs& a,
                                     View y, int64_t& at) {
  const SwigluActs acts = a.experts.view(a.experts.rows());
  if (!etp_gather_) {
    experts_forward(ex, store, first, last, per_expert, offsets, x, acts, y);
    a.expert_rows_used = std::max(a.expert_rows_used, offsets[size_t(last)]);
    return Status::ok();
  }
  const int64_t begin = offsets[size_t(first)], end = offsets[size_t(last)];
  gathered_segments(first, last, offsets);
  SYM_TRY(etp_gather_->gather(x.rows(begin, end), etp_local_offsets_,
                              a.xt.view().rows(at, a.xt.shape()[0])));
  const int etp = etp_gather_->ranks();
  shift_gathered_offsets(first, last, at);
  experts_forward(ex, store, first * etp, last * etp, per_expert * etp, etp_offsets_, a.xt.view(),
                  acts, a.yt.view());
  SYM_TRY(etp_gather_->scatter_sum(a.yt.view().rows(at, at + etp_gather_->rows()),
                                   y.rows(begin, end)));
  at += etp_gather_->rows();
  a.expert_rows_used = std::max(a.expert_rows_used, at);
  return Status::ok();
}

// The mirror image: dy's rows gathered into a.yt at `at`, the input gradients (partial over the
// F-slices) overwrite a.xt there and are summed back into x.
Status MoeBlock::experts_backward_any(const Exec& ex, ParamStore& store, int64_t first,
                                      int64_t last, int64_t per_expert,
                                      std::span<const int64_t> offsets, View x, MoeActs& a,
                                      View dy, int64_t& at) {
  const SwigluActs acts = a.experts.view(a.experts.rows());  // restored by backward()
  if (!etp_gather_) {
    experts_backward(ex, store, first, last, per_expert, offsets, x, acts, dy);
    return Status::ok();
  }
  const int64_t begin = offsets[size_t(first)], end = offsets[size_t(last)];
  gathered_segments(first, last, offsets);
  SYM_TRY(etp_gather_->gather(dy.rows(begin, end), etp_local_offsets_,
                              a.yt.view().rows(at, a.yt.shape()[0])));
  const int etp = etp_gather_->ranks();
  shift_gathered_offsets(first, last, at);
  experts_backward(ex, store, first * etp, last * etp, per_expert * etp, etp_offsets_, a.xt.view(),
                   acts, a.yt.view());
  SYM_TRY(etp_gather_->scatter_sum(a.xt.view().rows(at, at + etp_gather_->rows()),
                                   x.rows(begin, end)));
  at += etp_gather_->rows();
  return Status::ok();
}

void MoeBlock::gathered_segments(int64_t first, int64_t last, std::span<const int64_t> offsets) {
  etp_local_offsets_.resize(size_t(last - first + 1));
  for (int64_t s = first; s <= last; ++s)
    etp_local_offsets_[size_t(s - first)] = offsets[size_t(s)] - offsets[size_t(first)];
}

void MoeBlock::shift_gathered_offsets(int64_t first, int64_t last, int64_t at) {
  // Indexed by absolute gathered segment (first * etp onward), rows from `at`.
  const int etp = etp_gather_->ranks();
  std::span<const int64_t> g = etp_gather_->offsets();
  etp_offsets_.assign(size_t(last * etp + 1), at);
  for (int64_t i = 0; i <= (last - first) * etp; ++i)
    etp_offsets_[size_t(first * etp + i)] = at + g[size_t(i)];
}

SwigluWeights MoeBlock::expert_weights(const ParamStore& store, int64_t j) const {
  return {expert_slice(store.param(gate_), j), expert_slice(store.param(up_), j),
          expert_slice(store.param(down_), j)};
}

SwigluGrads MoeBlock::expert_grads(ParamStore& store, int64_t j) const {
  return {expert_slice(store.grad(gate_), j), expert_slice(store.grad(up_), j),
          expert_slice(store.grad(down_), j), store.weight_grad_queue()};
}

void MoeBlock::experts_forward(const Exec& ex, const ParamStore& store, int64_t first,
                               int64_t last, int64_t per_expert,
                               std::span<const int64_t> offsets, ConstView x, SwigluActs acts,
                               View y) const {
  for_each_expert_segment(first, last, per_expert, offsets, experts_side_by_side(ex, nullptr),
                          [&](int64_t s) {
    const int64_t begin = offsets[size_t(s)], end = offsets[size_t(s + 1)];
    swiglu_mlp_forward(ex, x.rows(begin, end), expert_weights(store, s / per_expert),
                       acts.rows(begin, end), y.rows(begin, end));
  });
}

void MoeBlock::experts_backward(const Exec& ex, ParamStore& store, int64_t first, int64_t last,
                                int64_t per_expert, std::span<const int64_t> offsets, View x,
                                SwigluActs acts, View dy) const {
  // dx overwrites x: the expert inputs are not needed after their weight gradients. Weight
  // gradients accumulate segment by segment, in source order.
  const bool side_by_side = experts_side_by_side(ex, store.weight_grad_queue());
  for_each_expert_segment(first, last, per_expert, offsets, side_by_side, [&](int64_t s) {
    const int64_t begin = offsets[size_t(s)], end = offsets[size_t(s + 1)];
    const int64_t j = s / per_expert;
    swiglu_mlp_backward(ex, x.rows(begin, end), expert_weights(store, j), acts.rows(begin, end),
                        dy.rows(begin, end), expert_grads(store, j), x.rows(begin, end),
                        Accumulate::kNo);
  });
}

// Each chunk as its rows arrive in a.xr (source-major): permuted to expert-major rows of `in`,
// `compute(first_segment, last_segment)` turns `in` into `out` (expert-major, segment by segment:
// one per local expert and source, the GEMMs one process runs), and `out` goes back, permuted to
// source-major through a.xr (whose rows the chunk no longer needs), into `back` (send order)
// while the next chunk computes. Waits for every return.
template <typename Compute>
Status MoeBlock::run_chunks(const Exec& ex, MoeActs& a, View in, View out, float* back,
                            const Compute& compute) {
  ExpertExchange& xc = *exchange_;
  const ExchangePlan& plan = a.exchange;
  const int64_t segments_per_chunk = xc.local_experts() / xc.chunks() * xc.ranks();
  View xr = a.xr(plan.recv_rows());
  for (int c = 0; c < xc.chunks(); ++c) {
    SYM_TRY(xc.wait(c));
    const int64_t begin = plan.recv_begin(c), end = plan.recv_begin(c + 1);
    moe_gather(ex, xr, plan.to_expert_major().subspan(size_t(begin), size_t(end - begin)),
               in.rows(begin, end));
    compute(c * segments_per_chunk, (c + 1) * segments_per_chunk);
    moe_gather(ex, out, plan.to_source_major().subspan(size_t(begin), size_t(end - begin)),
               xr.rows(begin, end));
    xc.combine_async(plan, c, a.xr_data(), back, config_.hidden_size);
  }
  for (int c = 0; c < xc.chunks(); ++c) SYM_TRY(xc.wait(c));
  return Status::ok();
}

// Under expert parallelism: the rows in a.xg (send order) travel to their experts, the shared
// experts run meanwhile, and the experts' outputs come back into a.yg.
Status MoeBlock::exchanged_forward(const Exec& ex, const ParamStore& store, ConstView x,
                                   MoeActs& a, int64_t n) {
  ExpertExchange& xc = *exchange_;
  for (int64_t p = 0; p < config_.num_experts; ++p)
    a.rows_by_position[size_t(p)] = a.plan.rows_of(p);
  SYM_TRY(xc.exchange_counts(a.rows_by_position, a.exchange));
  for (int c = 0; c < xc.chunks(); ++c)
    xc.dispatch_async(a.exchange, c, a.xg_data(), a.xr_data(), config_.hidden_size);
  if (shared_) {
    swiglu_mlp_forward(ex, x, shared_->weights(store), a.shared.view(n),
                       a.shared_out.view().rows(0, n));
    a.shared.save(ex, n);
  }
  const int64_t rows = a.exchange.recv_rows();
  View xe = a.xe(rows), ye = a.ye(rows);
  Status computed;
  int64_t at = 0;
  SYM_TRY(run_chunks(ex, a, xe, ye, a.yg_data(), [&](int64_t first, int64_t last) {
    if (computed.is_ok())
      computed = experts_forward_any(ex, store, first, last, xc.ranks(),
                                     a.exchange.segment_offsets(), xe, a, ye, at);
  }));
  return computed;
}

// The mirror image: output gradients in a.yg (send order) travel to the experts, the router's
// and shared experts' backward run meanwhile (done by the caller between start and finish), and
// the input gradients come back into a.xg.
void MoeBlock::exchanged_backward_start(MoeActs& a) {
  ExpertExchange& xc = *exchange_;
  for (int c = 0; c < xc.chunks(); ++c)
    xc.dispatch_async(a.exchange, c, a.yg_data(), a.xr_data(), config_.hidden_size);
}

Status MoeBlock::exchanged_backward_finish(const Exec& ex, ParamStore& store, MoeActs& a) {
  ExpertExchange& xc = *exchange_;
  const int64_t rows = a.exchange.recv_rows();
  // Output gradients arrive into ye; the input gradients overwrite the inputs in xe.
  View xe = a.xe(rows), ye = a.ye(rows);
  Status computed;
  int64_t at = 0;
  SYM_TRY(run_chunks(ex, a, ye, xe, a.xg_data(), [&](int64_t first, int64_t last) {
    if (computed.is_ok())
      computed = experts_backward_any(ex, store, first, last, xc.ranks(),
                                      a.exchange.segment_offsets(), xe, a, ye, at);
  }));
  return computed;
}

Status MoeBlock::forward(const Exec& ex, const ParamStore& store, ConstView bias, ConstView x,
                         int64_t seq_len, const LossScales& scales, TensorParallel& tp,
                         MoeActs& a, View y, MoeStats& stats) {
  const int64_t n = x.dim(0), e_count = config_.num_experts, k = config_.num_experts_per_tok;
  const RouterSpec spec = router_spec(config_);
  SYM_CHECK(expert_ranks_ == 1 || exchange_, "a MoE layer declared for {} expert ranks (no "
            "exchange) cannot run", expert_ranks_);
  SYM_CHECK(expert_tensor_ranks_ == 1 || etp_gather_, "a MoE layer declared for {} expert tensor "
            "ranks (no etp group, or reserve() not called) cannot run", expert_tensor_ranks_);
  View logits = a.logits.view().rows(0, n), probs = a.probs.view().rows(0, n);
  View weights = a.weights.view().rows(0, n);
  std::span<int32_t> idx(a.idx.data(), size_t(n * k));
  // The router's scores stay fp32 whatever the run's GEMM precision: which experts a token picks
  // turns on small differences between logits.
  linear_forward(ex.with_matmul(Precision::kFp32), x, store.param(router_), logits);
  router_topk_forward(ex, logits, bias, spec, probs, idx, weights);

  // Rows grouped by expert; under expert parallelism by send position (parallel/expert_exchange.h)
  const int64_t capacity = expert_capacity(config_.capacity_factor, n, k, e_count);
  std::span<const int32_t> plan_idx = idx;
  if (exchange_) {
    for (size_t s = 0; s < idx.size(); ++s)
      a.send_idx[s] = int32_t(exchange_->send_position(idx[s]));
    plan_idx = std::span<const int32_t>(a.send_idx.data(), idx.size());
  }
  build_dispatch_plan(plan_idx, n, e_count, k, capacity, a.plan);
  const DispatchPlan& plan = a.plan;
  const int64_t rows = plan.kept_rows();
  View xg = a.xg(rows), yg = a.yg(rows);
  moe_gather(ex, x, plan.token_of_row, xg);
  a.expert_rows_used = 0;
  if (exchange_) {
    SYM_TRY(exchanged_forward(ex, store, x, a, n));
    a.experts.save(ex, a.expert_rows_used);
  } else {
    int64_t at = 0;
    SYM_TRY(experts_forward_any(ex, store, 0, e_count, 1, plan.offsets, xg, a, yg, at));
    a.experts.save(ex, a.expert_rows_used);
    if (shared_) {
      swiglu_mlp_forward(ex, x, shared_->weights(store), a.shared.view(n),
                         a.shared_out.view().rows(0, n));
      a.shared.save(ex, n);
    }
  }
  moe_combine(ex, yg, weights, plan.row_of_slot, y);
  if (shared_) add(ex, y, a.shared_out.view().rows(0, n), y);
  a.routed.save(ex, rows);
  if (exchange_) a.exchanged.save(ex, a.exchange.recv_rows());

  // Statistics by expert id (the plan counts by send position under expert parallelism).
  std::vector<int64_t>& routed = routed_scratch_;
  for (int64_t e = 0; e < e_count; ++e)
    routed[size_t(e)] = plan.routed[size_t(exchange_ ? exchange_->send_position(e) : e)];
  routed[size_t(e_count)] = plan.dropped;
  std::span<const int64_t> routed_by_expert(routed.data(), size_t(e_count));
  // Under tensor parallelism this rank routed its share of the micro-batch: the balance terms
  // and statistics are those of the whole micro-batch, summed over the group.
  const int64_t total_rows = n * tp.size();
  std::vector<double>& sums = stat_scratch_;
  router_prob_sums(probs, spec.scoring, std::span(sums.data(), size_t(e_count)));
  double z = z_loss_forward_backward(logits, config_.router_z_loss_coef, scales.aux, View(),
                                     total_rows);
  // The sequence-wise loss's sums: rows [row_offset, row_offset + n) of the micro-batch are this
  // rank's (tensor parallelism shares the rows out in order).
  const double seq_coef = config_.router_seq_aux_loss_coef;
  const int64_t row_offset = int64_t(tp.rank()) * n;
  std::span<double> seq_sums;
  if (seq_coef != 0) {
    SYM_CHECK(seq_len > 0 && total_rows % seq_len == 0, "MoE: {} rows are not sequences of {}",
              total_rows, seq_len);
    const size_t seq_values = size_t(total_rows / seq_len * 2 * e_count);
    SYM_CHECK(sums.size() >= size_t(2 * e_count + 2) + seq_values,
              "MoE: {} sequences of {} rows, more than reserve() sized", total_rows / seq_len,
              seq_len);
    seq_sums = std::span(sums.data() + 2 * e_count + 2, seq_values);
    seq_balance_sums(probs, spec.scoring, idx, k, seq_len, row_offset, seq_sums);
  }
  if (tp.size() > 1) {
    for (int64_t e = 0; e <= e_count; ++e)
      sums[size_t(e_count + 1 + e)] = double(routed[size_t(e)]);
    sums[size_t(e_count)] = z;
    tp.all_reduce(std::span(sums.data(), size_t(2 * e_count + 2) + seq_sums.size()));
    z = sums[size_t(e_count)];
    for (int64_t e = 0; e <= e_count; ++e)
      routed[size_t(e)] = int64_t(sums[size_t(e_count + 1 + e)]);
  }
  View dprobs = a.dprobs_aux.view().rows(0, n);
  stats.aux_loss += aux_loss_from_sums(std::span(sums.data(), size_t(e_count)), routed_by_expert,
                                       total_rows, k, config_.router_aux_loss_coef, scales.aux,
                                       dprobs);
  if (seq_coef != 0)
    stats.seq_aux_loss += seq_aux_loss_from_sums(seq_sums, seq_len, k, row_offset, seq_coef,
                                                 scales.aux, dprobs);
  if (balance_losses_on()) balance_probs_backward(probs, spec.scoring, dprobs);
  stats.z_loss += z;
  for (int64_t e = 0; e < e_count; ++e) stats.routed[size_t(e)] += routed_by_expert[size_t(e)];
  stats.dropped += routed[size_t(e_count)];
  stats.tokens += total_rows;
  if (exchange_) stats.exchange.add(exchange_->take_times());
  return Status::ok();
}

Status MoeBlock::backward(const Exec& ex, ParamStore& store, ConstView x, ConstView dy,
                          const LossScales& scales, TensorParallel& tp, MoeActs& a, View dx,
                          MoeStats& stats) {
  const int64_t n = x.dim(0), k = config_.num_experts_per_tok;
  const RouterSpec spec = router_spec(config_);
  const DispatchPlan& plan = a.plan;
  const int64_t rows = plan.kept_rows();
  View weights = a.weights.view().rows(0, n), dweights = a.dweights.view().rows(0, n);
  View xg = a.xg(rows), yg = a.yg(rows);
  a.routed.restore(ex, rows);
  if (exchange_) a.exchanged.restore(ex, a.exchange.recv_rows());
  // The experts' inputs, gathered from x again where they were not kept (bf16, one process).
  if (a.routed.bf16() && !exchange_) moe_gather(ex, x, plan.token_of_row, xg);
  // yg becomes the gradient of the expert outputs, then xg the gradient of the expert inputs.
  moe_combine_backward(ex, dy, yg, weights, plan.row_of_slot, dweights, yg);
  if (exchange_) exchanged_backward_start(a);

  // What needs no expert output gradient: the shared experts and the router (overlapping the
  // exchange under expert parallelism).
  if (shared_)
    swiglu_mlp_backward(ex, x, shared_->weights(store), a.shared.restore(ex, n), dy,
                        shared_->grads(store), dx, Accumulate::kNo);
  else
    fill_zero(dx);
  View dlogits = a.dlogits.view().rows(0, n);
  ConstView dprobs_aux =
      balance_losses_on() ? ConstView(a.dprobs_aux.view().rows(0, n)) : ConstView();
  std::span<const int32_t> idx(a.idx.data(), size_t(n * k));
  router_topk_backward(ex, a.probs.view().rows(0, n), idx, spec, dweights, dprobs_aux, dlogits);
  z_loss_forward_backward(a.logits.view().rows(0, n), config_.router_z_loss_coef, scales.aux,
                          dlogits, n * tp.size());
  const Exec fp32 = ex.with_matmul(Precision::kFp32);  // as in forward
  linear_backward_weight(fp32, x, dlogits, store.grad(router_));
  linear_backward_input(fp32, store.param(router_), dlogits, dx, Accumulate::kYes);

  a.experts.restore(ex, a.expert_rows_used);  // after the shared experts: they share the scratch
  if (exchange_) {
    SYM_TRY(exchanged_backward_finish(ex, store, a));
    stats.exchange.add(exchange_->take_times());
  } else {
    int64_t at = 0;
    SYM_TRY(experts_backward_any(ex, store, 0, config_.num_experts, 1, plan.offsets, xg, a, yg,
                                 at));
  }
  moe_scatter_add(ex, xg, plan.row_of_slot, dx);
  return Status::ok();
}

}  // namespace symphony
