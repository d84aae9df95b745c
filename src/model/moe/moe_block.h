#pragma once
// Mixture-of-Experts feed-forward (Qwen3-MoE / DeepSeek-V3 style):
//   logits = x·Wr^T;  top-k over softmax(logits) (+ selection bias)  -> weights, experts
//   y = sum_j weights_j * SwiGLU_{e_j}(x)  +  SharedSwiGLU(x)
// Dispatch is dropless by default: rows are grouped by expert (DispatchPlan) and each expert runs
// one GEMM per projection over its rows; with a capacity factor, overflow assignments are
// dropped. Parameters: "<prefix>.mlp.gate.weight" (E, D), stacked expert tensors
// "<prefix>.mlp.experts.{gate,up}_proj" (E, F, D) and "<prefix>.mlp.experts.down_proj" (E, D, F),
// and "<prefix>.mlp.shared_experts.*" (width n_shared_experts * F) when n_shared_experts > 0.

#include <memory>
#include <string>
#include <vector>

#include "kernels/router_topk.h"
#include "model/mlp.h"
#include "model/moe/dispatch_plan.h"

namespace symphony {

// Router statistics, accumulated over the micro-batches of a step.
struct MoeStats {
  std::vector<int64_t> routed;  // [expert] assignments routed
  int64_t dropped = 0;
  int64_t tokens = 0;
  double aux_loss = 0;          // summed over micro-batches
  double z_loss = 0;
  void reset(int64_t num_experts) {
    routed.assign(size_t(num_experts), 0);
    dropped = tokens = 0;
    aux_loss = z_loss = 0;
  }
  // max over experts of routed / mean routed (1 = perfectly balanced).
  double max_over_mean() const;
};

struct MoeActs {
  Buffer logits, probs, weights;  // (N, E), (N, E), (N, K)
  std::vector<int32_t> idx;       // N*K
  DispatchPlan plan;
  Buffer xg, yg;                  // (N*K, D) grouped rows
  SwigluActBuffers experts;       // (N*K, F)
  SwigluActBuffers shared;        // (N, Fs)
  Buffer shared_out;              // (N, D)
  Buffer dprobs_aux, dweights, dlogits;  // (N, E), (N, K), (N, E)
  MoeActs() = default;
  MoeActs(const ModelConfig& config, int64_t rows, DType dtype);
};

// Scales applied to losses of one micro-batch, so that the summed gradients of a step are those
// of the step's mean loss.
struct LossScales {
  double token = 1.0;  // cross-entropy: 1 / target tokens in the global batch
  double aux = 1.0;    // per-micro-batch router losses: 1 / micro-batches per step
};

class MoeBlock {
 public:
  MoeBlock(const ModelConfig& config, const std::string& prefix, ParamStore& store);

  // x, y: (N, D); y is overwritten. `bias` (E) steers selection. Adds to stats.
  void forward(const Exec& ex, const ParamStore& store, ConstView bias, ConstView x,
               const LossScales& scales, MoeActs& acts, View y, MoeStats& stats) const;
  // dx = d(moe)/dx (overwritten). Consumes acts.
  void backward(const Exec& ex, ParamStore& store, ConstView x, ConstView dy,
                const LossScales& scales, MoeActs& acts, View dx) const;

 private:
  SwigluWeights expert_weights(const ParamStore& store, int64_t e) const;
  SwigluGrads expert_grads(ParamStore& store, int64_t e) const;

  ModelConfig config_;
  ParamId router_, gate_, up_, down_;
  std::unique_ptr<DenseMlp> shared_;
};

}  // namespace symphony
