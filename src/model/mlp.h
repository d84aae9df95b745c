#pragma once
// SwiGLU feed-forward: y = (silu(x·Wg^T) * (x·Wu^T)) · Wd^T.
// Used by dense layers, by shared experts and, on grouped rows, by every routed expert.
// Weights in Hugging Face layout: gate, up: (F, D); down: (D, F).

#include <string>
#include <vector>

#include "model/linear.h"
#include "model/model_config.h"
#include "model/param_store.h"

namespace symphony {

class WeightGradQueue;

struct SwigluWeights {
  ConstView gate, up, down;
};
struct SwigluGrads {
  View gate, up, down;
  WeightGradQueue* queue = nullptr;  // model/weight_grad_queue.h; null: accumulate at once
};
// Saved activations, each (rows, F): g = x·Wg^T, u = x·Wu^T, a = silu(g)*u.
struct SwigluActs {
  View g, u, a;
  SwigluActs rows(int64_t begin, int64_t end) const {
    return {g.rows(begin, end), u.rows(begin, end), a.rows(begin, end)};
  }
};

void swiglu_mlp_forward(const Exec& ex, ConstView x, const SwigluWeights& w, const SwigluActs& acts,
                        View y);
// Accumulates weight gradients and writes (or accumulates into) dx. Consumes `acts`: they are
// overwritten with intermediate gradients. dx may alias x.
void swiglu_mlp_backward(const Exec& ex, ConstView x, const SwigluWeights& w,
                         const SwigluActs& acts, ConstView dy, const SwigluGrads& grads, View dx,
                         Accumulate acc);

// The gate and up weight gradients alone (the part of swiglu_mlp_backward that reads x), for
// callers that run the rest themselves to overlap communication (tensor parallelism): `acts`
// must hold the gate and up gradients by then.
void swiglu_mlp_backward_weights(const Exec& ex, ConstView x, const SwigluActs& acts,
                                 const SwigluGrads& grads);

// Owned activation storage for one SwiGLU over up to `rows` rows.
struct SwigluActBuffers {
  Buffer g, u, a;
  SwigluActBuffers() = default;
  SwigluActBuffers(DType dtype, int64_t rows, int64_t width)
      : g(dtype, {rows, width}, MemoryCategory::kActivations),
        u(dtype, {rows, width}, MemoryCategory::kActivations),
        a(dtype, {rows, width}, MemoryCategory::kActivations) {}
  SwigluActs view(int64_t rows) { return {g.view().rows(0, rows), u.view().rows(0, rows),
                                          a.view().rows(0, rows)}; }
};

// A dense SwiGLU block with its own parameters ("<prefix>.gate_proj.weight", ...).
// Split::kTensor makes it tensor parallel (Megatron): gate and up column-parallel, down
// row-parallel, so this rank holds width / tp of the intermediate width (width()).
class DenseMlp {
 public:
  enum class Split : uint8_t { kNone, kTensor };
  DenseMlp(const std::string& prefix, int64_t hidden, int64_t width, ParamStore& store,
           Split split = Split::kNone);
  SwigluWeights weights(const ParamStore& store) const;
  SwigluGrads grads(ParamStore& store) const;
  int64_t width() const { return width_; }  // this rank's part of the intermediate width
  std::vector<ParamId> params() const { return {gate_, up_, down_}; }

 private:
  int64_t width_;
  ParamId gate_, up_, down_;
};

}  // namespace symphony
