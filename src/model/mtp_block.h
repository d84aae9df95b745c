#pragma once
// The parts of one multi-token prediction module (DeepSeek-V3 section 2.2, docs/mtp.md) around
// the decoder layer the Transformer runs for it. At depth k, for each row i:
//   combine:    x_i = eh_proj · [RMSNorm_e(Emb(t_{i+k})) ; RMSNorm_h(h_i^{k-1})]   (layer input)
//   layer:      h_i^k = TRM_k(x_i)         (model/transformer.cc: a decoder layer like any other)
//   head norm:  RMSNorm_k(h_i^k), then the shared LM head (model/transformer.cc)
// eh_proj: (D, 2D) in Hugging Face layout; its first D input columns read the normed embedding and
// the last D the normed hidden state, the order of the published DeepSeek-V3 weights (the paper
// writes the two halves the other way round; the function is the same up to that relabelling).
// Parameters, prefix "model.layers.<num_hidden_layers + k - 1>": "<prefix>.enorm.weight",
// "<prefix>.hnorm.weight", "<prefix>.eh_proj.weight", "<prefix>.shared_head.norm.weight" (the
// shared head's matrix is the model's LM head, not a tensor of its own).
//
// Tensor parallelism: every weight is replicated and each rank works on its rows of the residual
// stream. Under sequence parallelism each rank's gradients of them are a part of the sum over tp
// (the caller sums them); otherwise every rank computes the same whole gradient.
// Thread-safety: const methods may run concurrently on different activations.

#include <cstdint>
#include <vector>

#include "model/model_config.h"
#include "model/param_store.h"
#include "tensor/buffer.h"
#include "tensor/exec.h"

namespace symphony {

// What one module saves for backward for one micro-batch, sized for `rows` rows of the residual
// stream (this rank's).
struct MtpActs {
  Buffer emb;               // (rows, D) Emb(t_{i+k})
  Buffer inv_e, inv_h;      // (rows) inverse RMS of the two normed inputs
  Buffer cat;               // (rows, 2D) [RMSNorm_e(emb), RMSNorm_h(h^{k-1})], eh_proj's input
  Buffer x, h;              // (rows, D) the layer's input and output h^k
  Buffer head_h, head_inv;  // (rows, D), (rows): RMSNorm_k(h^k) and its inverse RMS
  MtpActs() = default;
  MtpActs(int64_t rows, int64_t hidden, DType dtype);
  // Elements of the buffers above (the memory plan counts the same).
  static int64_t numel(int64_t rows, int64_t hidden) { return rows * hidden * 6 + rows * 3; }
};

// Gradient scratch shared by the modules (used one module at a time).
struct MtpScratch {
  Buffer dcat;              // (rows, 2D)
  Buffer de, dh;            // (rows, D) each half of dcat, then the halves' input gradients
  MtpScratch() = default;
  MtpScratch(int64_t rows, int64_t hidden, DType dtype);
  static int64_t numel(int64_t rows, int64_t hidden) { return rows * hidden * 4; }
};

class MtpBlock {
 public:
  // Declares the module's own parameters for depth `depth` (1..num_nextn_predict_layers).
  MtpBlock(const ModelConfig& config, int64_t depth, ParamStore& store);

  // x = eh_proj · [RMSNorm_e(emb) ; RMSNorm_h(h_prev)] over the rows of `emb`, saving what
  // backward needs in `acts`. emb, h_prev, x: (rows, D); x may be acts.x.
  void combine_forward(const Exec& ex, const ParamStore& store, ConstView emb, ConstView h_prev,
                       MtpActs& acts, View x) const;
  // From dx, the gradient of x: accumulates the three weights' gradients (eh_proj's through the
  // store's weight-gradient queue) and writes the gradient of emb into scratch.de and that of
  // h_prev into scratch.dh (rows of dx). emb and h_prev are the inputs combine_forward() saw.
  void combine_backward(const Exec& ex, ParamStore& store, ConstView emb, ConstView h_prev,
                        ConstView dx, const MtpActs& acts, MtpScratch& scratch) const;

  ParamId head_norm() const { return head_norm_; }
  // The parameters combine_backward() accumulates into.
  std::vector<ParamId> combine_params() const { return {enorm_, hnorm_, eh_proj_}; }

 private:
  int64_t hidden_;
  double eps_;
  ParamId enorm_, hnorm_, eh_proj_, head_norm_;
};

}  // namespace symphony
