#pragma once
// SwiGLU feed-forward: y = (silu(x·Wg^T) * (x·Wu^T)) · Wd^T.
// Used by dense layers, by shared experts and, on grouped rows, by every routed expert.
// Weights in Hugging Face layout: gate, up: (F, D); down: (D, F).

#include <cstdint>
#include <string>
#include <vector>

#include "model/act_stash.h"
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

// Owned activation storage for one SwiGLU over up to `rows` rows (an ActStash, model/act_stash.h,
// of g, u and a), in one of two precisions:
//  - fp32: g, u and a are kept as computed; view() gives them and save()/restore() do nothing.
//  - bf16 (train.precision = "bf16" or "fp8" without recomputation): the passes run on the
//    model's ActScratch (view()); save() rounds g and u to bf16 into storage of a third of the
//    fp32 one, and restore() brings them back and recomputes a = silu(g) * u from them for the
//    backward pass (one elementwise pass, cheaper than storing a). The backward pass thus sees g
//    and u rounded to bf16 and the down projection's weight gradient an `a` of the rounded
//    values, both changes of the order of the rounding its bf16 GEMMs apply to their inputs.
// Callers: forward on view(rows), then save(rows); restore(rows) and backward on the views it
// returns. Rows [0, rows) travel.
class SwigluActBuffers {
 public:
  SwigluActBuffers() = default;
  SwigluActBuffers(DType dtype, int64_t rows, int64_t width)
      : stash_(dtype, rows, {width, width, width}), width_(width) {}
  // bf16 storage, working on `scratch`, which must outlive this and hold numel(rows, width).
  SwigluActBuffers(ActScratch& scratch, int64_t rows, int64_t width)
      : stash_(scratch, rows, {width, width, width}, 2), width_(width) {}

  SwigluActs view(int64_t rows) { return {stash_.view(0, rows), stash_.view(1, rows),
                                          stash_.view(2, rows)}; }
  void save(const Exec& ex, int64_t rows) { stash_.save(ex, rows); }
  SwigluActs restore(const Exec& ex, int64_t rows);

  bool bf16() const { return stash_.bf16(); }
  int64_t rows() const { return stash_.rows(); }
  int64_t width() const { return width_; }
  // Elements of g, u and a together (the fp32 storage, or the scratch one SwiGLU needs).
  static int64_t numel(int64_t rows, int64_t width) { return 3 * rows * width; }
  // fp32 elements of the bf16 storage: g and u, 2 * rows * width bf16 values, two per float.
  static int64_t bf16_storage_elems(int64_t rows, int64_t width) { return rows * width; }

 private:
  ActStash stash_;
  int64_t width_ = 0;
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
