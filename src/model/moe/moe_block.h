#pragma once
// Mixture-of-Experts feed-forward (Qwen3-MoE / DeepSeek-V3 style):
//   logits = x·Wr^T;  top-k over softmax(logits) or sigmoid(logits) (+ selection bias, within
//   the best groups under group-limited routing)  -> weights, experts (kernels/router_topk.h)
//   y = sum_j weights_j * SwiGLU_{e_j}(x)  +  SharedSwiGLU(x)
// Dispatch is dropless by default: rows are grouped by expert (DispatchPlan) and each expert runs
// one GEMM per projection over its rows; with a capacity factor, overflow assignments are
// dropped. Parameters: "<prefix>.mlp.gate.weight" (E, D), stacked expert tensors
// "<prefix>.mlp.experts.{gate,up}_proj" (E, F, D) and "<prefix>.mlp.experts.down_proj" (E, D, F),
// and "<prefix>.mlp.shared_experts.*" (width n_shared_experts * F) when n_shared_experts > 0.
//
// Expert parallelism (parallel/expert_exchange.h): the stacked expert tensors are sharded along
// dim 0 over the ep axis, so this rank holds experts [p*El, (p+1)*El). Routing stays local; the
// grouped rows go to the experts' ranks by all-to-all-v, in two chunks when the local experts
// split evenly, so one chunk's exchange runs while the other's experts compute (the shared
// experts run while the first rows travel). The backward pass mirrors the exchange. Router
// losses and statistics are those of this rank's tokens, exactly as one process computes them.
//
// Micro-batches in flight (pipeline parallelism): everything a micro-batch's backward pass reads
// from its forward pass, the exchange plan included, lives in its MoeActs, so a stage may run
// several forward passes, each into its own MoeActs, before their backward passes. What the block
// itself keeps is scratch of one forward or one backward call (the exchange's chunks in flight,
// the etp gather's counts and offsets, recomputed by the backward from the micro-batch's plan).
//
// Tensor parallelism: each rank of a tp group routes its share of the micro-batch's rows (its
// rows of the residual stream under sequence parallelism). The router and shared experts are
// replicated over tp (each rank's gradient is a part, summed by the caller), the routed experts
// are replicas over edp, which includes tp, so their gradients are summed with the data-parallel
// reduction; the balance losses see the whole micro-batch.

#include <memory>
#include <string>
#include <vector>

#include "kernels/router_topk.h"
#include "model/mlp.h"
#include "model/tensor_parallel.h"
#include "model/model_parallel.h"
#include "model/moe/dispatch_plan.h"
#include "model/moe/expert_tensor_gather.h"
#include "parallel/expert_exchange.h"

namespace symphony {

// Router statistics, accumulated over the micro-batches of a step.
struct MoeStats {
  std::vector<int64_t> routed;  // [expert] assignments routed
  int64_t dropped = 0;
  int64_t tokens = 0;
  double aux_loss = 0;          // summed over micro-batches
  double seq_aux_loss = 0;      // sequence-wise balance loss, summed over micro-batches
  double z_loss = 0;
  ExchangeTimes exchange;       // expert-parallel all-to-all, this rank
  void reset(int64_t num_experts) {
    routed.assign(size_t(num_experts), 0);
    dropped = tokens = 0;
    aux_loss = seq_aux_loss = z_loss = 0;
    exchange = ExchangeTimes{};
  }
  // max over experts of routed / mean routed (1 = perfectly balanced).
  double max_over_mean() const;
};

struct MoeActs {
  Buffer logits, probs, weights;  // (N, E), (N, E) router scores, (N, K)
  std::vector<int32_t> idx;       // N*K
  std::vector<int32_t> send_idx;  // N*K send positions of idx (expert parallel)
  std::vector<int64_t> rows_by_position;  // [send position] (expert parallel)
  DispatchPlan plan;
  ExchangePlan exchange;          // expert parallel: counts and permutations of the exchange
  // The grouped rows (N*K, D), in send order: the experts' outputs yg (their combine weights'
  // gradient reads them) and inputs xg. Expert parallel, (R, D), R = ep * N*K the most a rank can
  // receive: xe, the rows received in expert-major order (the experts' inputs), xr, received
  // (source-major), and ye, the experts' outputs. In bf16 (model/act_stash.h) yg and xe are saved
  // in bf16 and the rest is working space the model's MoE layers share; the backward pass
  // gathers xg again from its input.
  ActStash routed;                // yg, xg
  ActStash exchanged;             // xe, xr, ye (expert parallel)
  SwigluActBuffers experts;       // (N*K, F), or (R, F) expert parallel; under etp (etp * R,
                                  // F / etp) over the rows the etp group gathered
  int64_t expert_rows_used = 0;   // rows of `experts` the last forward pass wrote
  Buffer xt, yt;                  // (etp * R, D) expert tensor parallel: gathered rows
  SwigluActBuffers shared;        // (N, Fs)
  Buffer shared_out;              // (N, D)
  Buffer dprobs_aux, dweights, dlogits;  // (N, E) balance losses' gradient of the scores,
                                         // (N, K), (N, E)
  MoeActs() = default;
  // `scratch`: keep the SwiGLU activations of the experts and shared experts in bf16, working on
  // it (SwigluActBuffers, model/mlp.h), and the grouped rows on `row_scratch`; null: all in
  // `dtype`. They must hold swiglu_scratch_elems() and row_scratch_elems().
  MoeActs(const ModelConfig& config, int64_t rows, DType dtype, int expert_ranks,
          int expert_tensor_ranks = 1, ActScratch* scratch = nullptr,
          ActScratch* row_scratch = nullptr);
  // Elements of the SwiGLU scratch the block's experts and shared experts need (the larger).
  static int64_t swiglu_scratch_elems(const ModelConfig& config, int64_t rows, int expert_ranks,
                                      int expert_tensor_ranks);
  // Elements of the working set of the grouped rows: routed's and exchanged's.
  static int64_t row_scratch_elems(const ModelConfig& config, int64_t rows, int expert_ranks);
  static std::vector<int64_t> routed_widths(const ModelConfig& c) {
    return {c.hidden_size, c.hidden_size};
  }
  static std::vector<int64_t> exchanged_widths(const ModelConfig& c) {
    return {c.hidden_size, c.hidden_size, c.hidden_size};
  }

  View yg(int64_t rows) { return routed.view(0, rows); }
  View xg(int64_t rows) { return routed.view(1, rows); }
  View xe(int64_t rows) { return exchanged.view(0, rows); }
  View xr(int64_t rows) { return exchanged.view(1, rows); }
  View ye(int64_t rows) { return exchanged.view(2, rows); }
  // Where the rows of xg, yg and xr begin (their full capacity: the exchange's buffers).
  float* xg_data() { return xg(routed.rows()).f32(); }
  float* yg_data() { return yg(routed.rows()).f32(); }
  float* xr_data() { return xr(exchanged.rows()).f32(); }
  // Rows of expert activations a rank may hold: N*K, times ep under expert parallelism.
  static int64_t expert_rows(const ModelConfig& config, int64_t rows, int expert_ranks);
};

// Scales applied to losses of one micro-batch, so that the summed gradients of a step are those
// of the step's mean loss.
struct LossScales {
  double token = 1.0;  // cross-entropy: 1 / target tokens in the global batch
  double aux = 1.0;    // per-micro-batch router losses: 1 / micro-batches per step
};

class MoeBlock {
 public:
  // The store's placement says which experts this rank holds. Without parallel.expert (a
  // declaration for planning, model/transformer.h declare_params) a layer whose experts are
  // spread over ranks can declare its parameters but not run.
  MoeBlock(const ModelConfig& config, const std::string& prefix, ParamStore& store,
           const ModelParallel& parallel = {});

  // Sizes the etp gather's buffers for micro-batches of up to `rows` tokens
  // (MoeActs::expert_rows) and the sequence-wise balance loss's sums for micro-batches of up to
  // `sequences` sequences, so a step allocates nothing. (The exchange plans are sized by
  // MoeActs.) REQUIRED before forward when router_seq_aux_loss_coef > 0 or under expert tensor
  // parallelism.
  void reserve(int64_t rows, int64_t sequences);

  // x, y: (N, D); y is overwritten. `bias` (E) steers selection. Adds to stats. Under expert
  // parallelism every rank of the ep group must call it together (collective).
  // Failure: a communication error of the exchange.
  // Under tensor parallelism x is this rank's share of the micro-batch's rows (each rank of the
  // tp group routes its own: rows [tp.rank() * N, (tp.rank() + 1) * N)), and the balance terms
  // and statistics are summed over `tp`. The micro-batch's rows are sequences of `seq_len` rows
  // (the sequence-wise balance loss); REQUIRES: seq_len divides the micro-batch's rows.
  Status forward(const Exec& ex, const ParamStore& store, ConstView bias, ConstView x,
                 int64_t seq_len, const LossScales& scales, TensorParallel& tp, MoeActs& acts,
                 View y, MoeStats& stats);
  // dx = d(moe)/dx (overwritten). Consumes acts, which must be those of this micro-batch's
  // forward (or of its recomputation). Collective like forward.
  Status backward(const Exec& ex, ParamStore& store, ConstView x, ConstView dy,
                  const LossScales& scales, TensorParallel& tp, MoeActs& acts, View dx,
                  MoeStats& stats);
  // Parameters replicated over tensor-parallel ranks whose gradients each rank holds a part of
  // (its rows'): the router and the shared experts.
  std::vector<ParamId> partial_grads() const;

 private:
  // Local expert j (0 <= j < local experts) of this rank.
  SwigluWeights expert_weights(const ParamStore& store, int64_t j) const;
  SwigluGrads expert_grads(ParamStore& store, int64_t j) const;
  // Expert GEMMs over row segments [first, last): segment s holds rows
  // [offsets[s], offsets[s + 1]) of local expert s / per_expert.
  void experts_forward(const Exec& ex, const ParamStore& store, int64_t first, int64_t last,
                       int64_t per_expert, std::span<const int64_t> offsets, ConstView x,
                       SwigluActs acts, View y) const;
  void experts_backward(const Exec& ex, ParamStore& store, int64_t first, int64_t last,
                        int64_t per_expert, std::span<const int64_t> offsets, View x,
                        SwigluActs acts, View dy) const;
  Status exchanged_forward(const Exec& ex, const ParamStore& store, ConstView x, MoeActs& a,
                           int64_t n);
  // experts_forward / experts_backward, over the etp group's gathered rows under expert tensor
  // parallelism (model/moe/expert_tensor_gather.h).
  Status experts_forward_any(const Exec& ex, const ParamStore& store, int64_t first, int64_t last,
                             int64_t per_expert, std::span<const int64_t> offsets, ConstView x,
                             MoeActs& a, View y, int64_t& at);
  Status experts_backward_any(const Exec& ex, ParamStore& store, int64_t first, int64_t last,
                              int64_t per_expert, std::span<const int64_t> offsets, View x,
                              MoeActs& a, View dy, int64_t& at);
  // Whether a balance loss gives the router scores a gradient (a.dprobs_aux).
  bool balance_losses_on() const {
    return config_.router_aux_loss_coef != 0 || config_.router_seq_aux_loss_coef != 0;
  }
  void gathered_segments(int64_t first, int64_t last, std::span<const int64_t> offsets);
  void shift_gathered_offsets(int64_t first, int64_t last, int64_t at);
  void exchanged_backward_start(MoeActs& a);
  template <typename Compute>
  Status run_chunks(const Exec& ex, MoeActs& a, View in, View out, float* back,
                    const Compute& compute);
  Status exchanged_backward_finish(const Exec& ex, ParamStore& store, MoeActs& a);

  ModelConfig config_;
  ParamId router_, gate_, up_, down_;
  std::unique_ptr<DenseMlp> shared_;
  int expert_ranks_ = 1;
  std::unique_ptr<ExpertExchange> exchange_;  // expert parallel only; plans live in MoeActs
  int expert_tensor_ranks_ = 1;
  Comm* etp_group_ = nullptr;                     // expert tensor parallel only
  std::unique_ptr<ExpertTensorGather> etp_gather_;  // scratch of one call
  std::vector<int64_t> etp_local_offsets_, etp_offsets_;  // scratch of one call
  std::vector<int64_t> routed_scratch_;      // [expert] routed rows by expert id, then dropped
  std::vector<double> stat_scratch_;         // prob sums, z-loss, counts, then the sequence
                                             // sums of the seq-wise loss (summed over tp)
};

}  // namespace symphony
